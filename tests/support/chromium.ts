/**
 * Headless Chromium (Debian's, driven by playwright-core) for the browser tests of the client and the demo
 * page: launch, install when missing, and a watch on every page for console errors, uncaught errors and CSP
 * violations (each test asserts there were none).
 * @module
 */
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

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
    args: ARGS,
  });
}

/** A persistent Chromium context in a fresh temporary profile; `close` also deletes the profile. */
export interface ChromiumContext {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with its own temporary profile (`profilePrefix` names the directory); every step
 * of its pages is bounded by `stepMs`. `bypassCSP` lets a relay response (CSP `default-src 'none'`) stand in
 * for a page of the relay's origin; `args` are added to the usual flags.
 */
export async function launchChromiumContext(
  stepMs: number,
  options: { profilePrefix: string; bypassCSP?: boolean; args?: string[] },
): Promise<ChromiumContext> {
  const profile = await mkdtemp(join(tmpdir(), options.profilePrefix));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: stepMs,
      bypassCSP: options.bypassCSP ?? false,
      args: [...ARGS, ...(options.args ?? [])],
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  context.setDefaultTimeout(stepMs);
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Serves `html` at every path starting with `/page` (404 elsewhere) on 127.0.0.1: a page of another origin. */
export function servePage(html: string): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url?.startsWith("/page")) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(html);
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
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
