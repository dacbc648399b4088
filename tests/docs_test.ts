/**
 * The docs follow the code: the README's flag table lists exactly the flags the relay accepts, with their
 * defaults, and every file of `src/` appears in the file table of its layer's doc.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FLAGS, parseDuration, parseSize } from "../src/config.ts";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");

/** The README rows of the form `| \`--flag\`, \`--other\` | default | meaning |`. */
function readmeFlagRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readFileSync(join(ROOT, "README.md"), "utf8").split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length < 4 || !cells[1].startsWith("`--")) continue;
    for (const match of cells[1].matchAll(/`--([a-z0-9-]+)`/g)) rows.set(match[1], cells[2]);
  }
  return rows;
}

/** How the README writes a default: sizes and counts as numbers, durations in seconds, none/off/empty. */
function readmeDefault(spec: (typeof FLAGS)[string]): string {
  const value = spec.default;
  if (value === null) return "none";
  if (value === false) return "off";
  if (value === true) return "on";
  if (Array.isArray(value)) return value.length === 0 ? "empty" : value.join(",");
  if (spec.kind === "duration" && typeof value === "number") {
    return value % 1000 === 0 ? `${value / 1000}s` : `${value}ms`;
  }
  return String(value);
}

describe("README", () => {
  it("lists every flag the relay accepts, and no other", () => {
    const documented = [...readmeFlagRows().keys()].sort();
    assert.deepEqual(documented, Object.keys(FLAGS).sort());
  });

  it("gives each flag the default the code uses", () => {
    const rows = readmeFlagRows();
    for (const [flag, spec] of Object.entries(FLAGS)) {
      if (!rows.has(flag)) continue; // reported by the test above
      const written = rows.get(flag)!;
      // Sizes and durations may be written in any unit the flag itself accepts (64MiB, 300s).
      const parse = spec.kind === "size" ? parseSize : spec.kind === "duration" ? parseDuration : null;
      if (parse !== null && parse(written) !== null) {
        assert.equal(parse(written), spec.default, `README default of --${flag} (${written})`);
      } else {
        assert.equal(written, readmeDefault(spec), `README default of --${flag}`);
      }
    }
  });
});
