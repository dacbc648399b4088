/**
 * The abuse suite's vocabulary: what an attack is, what it reports, and the options of a run.
 * @module
 */
import type { Target } from "../conformance/raw_socket.ts";
import type { ProcessStats } from "./process_stats.ts";

/** Options of one run of {@link runAbuse}. Durations are milliseconds. */
export interface AbuseOptions {
  /** The relay's process id, for RSS and file-descriptor measurements (Linux `/proc`); null skips them. */
  pid: number | null;
  /** Connections opened by each handshake flood (never finished, aborted midway). @default 1000 */
  floodConnections: number;
  /** The relay's request-head timeout: slow handshakes must be closed by then (plus slack). @default 10000 */
  headTimeoutMs: number;
  /** Longest a publish flood runs before the suite gives up waiting for the relay to cut it off. @default 3000 */
  publishFloodMs: number;
  /** Run only the attacks with these ids (all when empty). */
  only: readonly string[];
  /** Called with each result as soon as its attack finished. */
  onResult?: (result: AttackResult) => void;
}

/** The defaults of {@link AbuseOptions}. */
export const ABUSE_DEFAULTS: Readonly<Omit<AbuseOptions, "onResult">> = Object.freeze({
  pid: null,
  floodConnections: 1000,
  headTimeoutMs: 10_000,
  publishFloodMs: 3000,
  only: [],
});

/** Attack-specific measurements (times in ms, sizes in KiB), printed and kept in the JSON report. */
export type Metrics = Record<string, number | string | boolean | null>;

/** What one attack saw: a one-line summary, any deviation from the expected answer, the numbers. */
export interface Outcome {
  /** The relay's measured response in one line (status or close code, timings). */
  observed: string;
  /** Each way the response differed from {@link Attack.expected}; empty when it matched. */
  problems: string[];
  metrics: Metrics;
}

/** One attack's result as reported. */
export interface AttackResult extends Outcome {
  id: string;
  attack: string;
  expected: string;
  /** Wall time of the attack. */
  ms: number;
  /** The relay's RSS before the attack, after it, and the peak during it (KiB); null without a pid. */
  rssBeforeKiB: number | null;
  rssAfterKiB: number | null;
  rssPeakKiB: number | null;
}

/** What every attack gets: where the relay is and how to measure it. */
export interface AttackContext {
  readonly target: Target;
  /** `http://HOST:PORT`: the relay's own origin, and the base of its HTTP routes. */
  readonly origin: string;
  /** The `Host` header a well-behaved client sends. */
  readonly host: string;
  readonly options: Readonly<AbuseOptions>;
  /** The relay's process, when a pid was given. */
  readonly stats: ProcessStats | null;
  /** A channel name unique to this run. */
  channel(prefix: string): string;
}

/** One attack: what it sends, what the contract says the relay answers, and the code that measures it. */
export interface Attack {
  /** Stable kebab-case name (`--only`, test names, docs). */
  readonly id: string;
  /** What is sent, in one line. */
  readonly attack: string;
  /** The answer the contract promises, in one line. */
  readonly expected: string;
  /** Longest the attack may take (it is abandoned and reported as a problem past it). */
  timeoutMs(options: Readonly<AbuseOptions>): number;
  run(ctx: AttackContext): Promise<Outcome>;
}

/** Collects deviations from an expectation, one readable line each. */
export class Checks {
  readonly problems: string[] = [];

  /** `got` must be one of `wanted`. */
  oneOf<T>(what: string, got: T, wanted: readonly T[]): void {
    if (!wanted.includes(got)) {
      this.problems.push(`${what}: expected ${wanted.map(String).join(" or ")}, got ${String(got)}`);
    }
  }

  /** `got` must be a number not above `max` (null means it never happened). */
  atMost(what: string, got: number | null, max: number, unit: string): void {
    if (got === null) this.problems.push(`${what}: expected at most ${max} ${unit}, never happened`);
    else if (got > max) this.problems.push(`${what}: expected at most ${max} ${unit}, got ${got} ${unit}`);
  }

  /** `got` must be a number not below `min`. */
  atLeast(what: string, got: number | null, min: number, unit: string): void {
    if (got === null || got < min) {
      this.problems.push(`${what}: expected at least ${min} ${unit}, got ${got}`);
    }
  }

  /** Records `problem` unless `condition` holds. */
  ok(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem);
  }
}

/** `+392 KiB`, `-40 KiB`. */
export function signedKiB(kib: number): string {
  return `${kib >= 0 ? "+" : ""}${kib} KiB`;
}
