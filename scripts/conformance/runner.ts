/**
 * Runs cases one after another (the server under test gets one connection at a time, so a failure is easy to
 * attribute), each bounded in time and cleaned up however it ends.
 * @module
 */
import {
  CaseContext,
  CaseFailure,
  type CaseResult,
  type CaseSettings,
  type ConformanceCase,
} from "./context.ts";
import { DEFLATE_GROUPS, GROUPS } from "./groups.ts";
import type { Target } from "./raw_socket.ts";

/** Defaults of {@link ConformanceOptions}, frozen in one place. */
export const CONFORMANCE_DEFAULTS = Object.freeze({
  /** The server's `--max-message-bytes` for the main run. */
  maxMessageBytes: 20_000_000,
  /** Time bound of one case, in milliseconds (cases moving 16 MiB have their own, longer bound). */
  caseTimeoutMs: 10_000,
});

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /** Run only these groups (names from {@link GROUP_NAMES}). @default every group */
  groups?: readonly string[];
  /** Run only cases whose name contains this text (case-insensitive). */
  filter?: string;
  /** The server's message size limit, in bytes. @default 20000000 */
  maxMessageBytes?: number;
  /** Time bound of one case, in milliseconds. @default 10000 */
  caseTimeoutMs?: number;
  /** Called after each case (progress output). */
  onResult?: (result: CaseResult) => void;
}

/** Counts per verdict. */
export interface Totals {
  pass: number;
  nonStrict: number;
  fail: number;
}

/** Everything one run produced. */
export interface ConformanceReport {
  url: string;
  results: CaseResult[];
  totals: Totals;
  durationMs: number;
}

/** Group names in run order. */
export const GROUP_NAMES: readonly string[] = Object.keys(GROUPS);

/** The RFC 7692 groups, run only when named: the relay must run with `--deflate`. */
export const DEFLATE_GROUP_NAMES: readonly string[] = Object.keys(DEFLATE_GROUPS);

/** Every group by name, the RFC 7692 ones included. */
const ALL_GROUPS: Readonly<Record<string, readonly ConformanceCase[]>> = { ...GROUPS, ...DEFLATE_GROUPS };

/** Parses `ws://host:port` (or `wss://`); any path is ignored, cases pick their own. */
export function parseTarget(url: string): Target {
  const u = new URL(url);
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(`expected a ws:// or wss:// URL: ${url}`);
  }
  const tls = u.protocol === "wss:";
  const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
  return { hostname, port: u.port ? Number(u.port) : tls ? 443 : 80, tls };
}

/** Selects cases by group and name filter; unknown group names are an error. */
export function selectCases(options: Pick<ConformanceOptions, "groups" | "filter">): ConformanceCase[] {
  const groups = options.groups?.length ? options.groups : GROUP_NAMES;
  for (const g of groups) {
    if (!(g in ALL_GROUPS)) {
      throw new TypeError(
        `unknown group "${g}"; groups: ${[...GROUP_NAMES, ...DEFLATE_GROUP_NAMES].join(", ")}`,
      );
    }
  }
  const filter = options.filter?.toLowerCase();
  return groups.flatMap((g) => ALL_GROUPS[g]).filter((c) => !filter || c.name.toLowerCase().includes(filter));
}

/** Counts verdicts. */
export function totalsOf(results: readonly CaseResult[]): Totals {
  return {
    pass: results.filter((r) => r.verdict === "pass").length,
    nonStrict: results.filter((r) => r.verdict === "non-strict").length,
    fail: results.filter((r) => r.verdict === "fail").length,
  };
}

/**
 * Runs the conformance suite against the raw mode of a relay at `url` (`ws://127.0.0.1:8080`).
 * @example
 * ```ts
 * const report = await runConformance("ws://127.0.0.1:8080", { groups: ["close"] });
 * console.log(report.totals); // { pass: 40, nonStrict: 0, fail: 0 }
 * ```
 */
export async function runConformance(
  url: string,
  options: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const started = Date.now();
  const settings: CaseSettings = {
    target: parseTarget(url),
    maxMessageBytes: options.maxMessageBytes ?? CONFORMANCE_DEFAULTS.maxMessageBytes,
    channelPrefix: `conformance-${crypto.getRandomValues(new Uint8Array(4)).toHex()}`,
  };
  const results: CaseResult[] = [];
  for (const c of selectCases(options)) {
    const result = await runCase(
      c,
      settings,
      c.timeoutMs ?? options.caseTimeoutMs ?? CONFORMANCE_DEFAULTS.caseTimeoutMs,
    );
    results.push(result);
    options.onResult?.(result);
  }
  return { url, results, totals: totalsOf(results), durationMs: Date.now() - started };
}

async function runCase(c: ConformanceCase, settings: CaseSettings, timeoutMs: number): Promise<CaseResult> {
  const t = new CaseContext(settings, timeoutMs);
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Every wait inside a case honours t.deadline; this timer is the backstop for a case stuck elsewhere
  // (e.g. a write the server never reads). A little slack lets the case's own, more precise reason win.
  const timedOut = new Promise<{ verdict: "fail"; reason: string }>((resolve) => {
    timer = setTimeout(
      () => resolve({ verdict: "fail", reason: `timed out after ${timeoutMs} ms` }),
      timeoutMs + 500,
    );
  });
  const ran = c.run(t).then(
    () =>
      t.notes.length
        ? { verdict: "non-strict" as const, reason: t.notes.join("; ") }
        : { verdict: "pass" as const, reason: "" },
    (e) => ({
      verdict: "fail" as const,
      reason: e instanceof CaseFailure
        ? e.message
        : `error: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`,
    }),
  );
  const outcome = await Promise.race([ran, timedOut]);
  clearTimeout(timer);
  t.dispose();
  return { group: c.group, name: c.name, ...outcome, durationMs: Date.now() - started };
}
