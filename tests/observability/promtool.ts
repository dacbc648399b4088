/**
 * `promtool check metrics` (Debian's prometheus package, installed by scripts/setup.sh) on an exposition.
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const PROMTOOL = "/usr/bin/promtool";

/** promtool's complaints about `text` ("" when it passes), or null when promtool is not installed. */
export function promtoolCheck(text: string): string | null {
  if (!existsSync(PROMTOOL)) return null;
  const result = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
  return `${result.stdout}${result.stderr}`.trim() + (result.status === 0 ? "" : ` (exit ${result.status})`);
}
