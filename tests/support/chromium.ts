/**
 * Headless Chromium (Debian's, driven by playwright-core) for the browser tests of the client and the demo
 * page: launch, install when missing, and a watch on every page for console errors, uncaught errors and CSP
 * violations (each test asserts there were none).
 * @module
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

/** Installs Chromium when missing; the reason to skip when it cannot be. */
export function browserUnavailable(): string | false {
  const script = fileURLToPath(new URL("../../scripts/setup_browser.sh", import.meta.url));
  const setup = spawnSync("bash", [script], { encoding: "utf8", timeout: 600_000 });
  if (setup.status === 0) return false;
  return `Chromium cannot be installed: ${
    (setup.stderr || setup.error?.message || "").trim().split("\n").at(-1)
  }`;
}

/** Launches headless Chromium; every step of its pages is bounded by `stepMs`. */
export function launchChromium(stepMs: number): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: stepMs,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** What went wrong on a page: console errors, uncaught errors, CSP violations. */
export interface PageProblems {
  readonly problems: string[];
}

/** Records every console error, uncaught error and CSP violation of `page` (call before `goto`). */
export async function watchPage(page: Page): Promise<PageProblems> {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  await page.exposeFunction("__cspViolation", (text: string) => problems.push(`csp: ${text}`));
  await page.addInitScript(
    `document.addEventListener("securitypolicyviolation", (e) => __cspViolation(e.violatedDirective + " " + e.blockedURI))`,
  );
  return { problems };
}
