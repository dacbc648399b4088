/**
 * Runs the attacks one after another against a live relay, each bounded in time, measuring the relay's
 * memory around each, and finishes with a normal client and a leak check against the starting point.
 * @module
 */
import { CONNECTION_ATTACKS, FD_SLACK } from "./connection_attacks.ts";
import { FRAME_ATTACKS } from "./frame_attacks.ts";
import { HTTP_ATTACKS } from "./http_attacks.ts";
import { openFileLimit, ProcessStats, settleFds } from "./process_stats.ts";
import { PROTO_ATTACKS } from "./proto_attacks.ts";
import { publishFlood } from "./publish_flood.ts";
import { checkServed, describeProbe, probeService } from "./service_probe.ts";
import {
  ABUSE_DEFAULTS,
  type AbuseOptions,
  type Attack,
  type AttackContext,
  type AttackResult,
  Checks,
  type Outcome,
} from "./types.ts";

/** How much the relay's RSS may have grown over the whole run. */
export const RUN_RSS_SLACK_KIB = 64 * 1024;
/** Descriptors left to each process besides the flood's connections. */
const FD_RESERVE = 256;
/** A normal client after the run must be served this fast. */
const SERVED_MS = 1000;

/** The relay's state before the first attack. */
export interface Baseline {
  rssKiB: number;
  fds: number;
}

/** Everything one run measured. */
export interface AbuseReport {
  url: string;
  /** Null when no pid was given (or /proc could not be read). */
  baseline: Baseline | null;
  results: AttackResult[];
  /** Attacks whose response differed from the expected one. */
  failed: number;
  ms: number;
}

/** The final check: a normal client is served and nothing leaked over the whole run. */
function stillServing(baseline: () => Baseline | null): Attack {
  return {
    id: "still-serving",
    attack: "after every attack: a raw-mode WebSocket echo, GET /healthz, RSS and fds against the start",
    expected:
      `echo and 200 within ${SERVED_MS} ms; RSS within ${RUN_RSS_SLACK_KIB / 1024} MiB and fds within ` +
      `${FD_SLACK} of the start`,
    timeoutMs: () => 10_000,
    async run(ctx) {
      const checks = new Checks();
      const probe = await probeService(ctx, SERVED_MS * 3);
      checkServed(checks, "normal client", probe, SERVED_MS);
      const start = baseline();
      let observed = describeProbe(probe);
      const metrics: Outcome["metrics"] = { echoMs: probe.echoMs, healthzMs: probe.healthzMs };
      if (ctx.stats && start) {
        const { fds } = await settleFds(ctx.stats, start.fds + FD_SLACK, 5000);
        const rss = ctx.stats.rssKiB();
        checks.atMost("RSS growth over the run", rss - start.rssKiB, RUN_RSS_SLACK_KIB, "KiB");
        checks.atMost("fds over the start", fds - start.fds, FD_SLACK, "fds");
        observed += `; RSS ${start.rssKiB} → ${rss} KiB, fds ${start.fds} → ${fds}`;
        Object.assign(metrics, {
          rssStartKiB: start.rssKiB,
          rssEndKiB: rss,
          fdsStart: start.fds,
          fdsEnd: fds,
        });
      }
      return { observed, problems: checks.problems, metrics };
    },
  };
}

/** Every attack in run order; the final `still-serving` check is added by {@link runAbuse}. */
export const ATTACKS: readonly Attack[] = [
  ...HTTP_ATTACKS,
  ...PROTO_ATTACKS,
  ...FRAME_ATTACKS,
  publishFlood,
  ...CONNECTION_ATTACKS,
];

/** Ids and expectations of every check a run reports, in order (the final `still-serving` included). */
export const ATTACK_LIST: readonly { id: string; attack: string; expected: string }[] = [
  ...ATTACKS,
  stillServing(() => null),
].map(({ id, attack, expected }) => ({ id, attack, expected }));

/** `http://h:p`, `ws://h:p` (or https/wss) → where to connect and what a client would send. */
function contextFor(url: string, options: AbuseOptions, stats: ProcessStats | null): AttackContext {
  const parsed = new URL(url);
  const tls = parsed.protocol === "https:" || parsed.protocol === "wss:";
  if (!tls && parsed.protocol !== "http:" && parsed.protocol !== "ws:") {
    throw new TypeError(`expected an http(s):// or ws(s):// URL, got ${url}`);
  }
  const port = Number(parsed.port || (tls ? 443 : 80));
  const run = Date.now().toString(36);
  let unique = 0;
  return {
    target: { hostname: parsed.hostname.replace(/^\[|\]$/g, ""), port, tls },
    origin: `${tls ? "https" : "http"}://${parsed.host}`,
    host: parsed.host,
    options,
    stats,
    channel: (prefix) => `${prefix}-${run}-${unique++}`,
  };
}

/** Runs `attack` bounded by its timeout; a throw or a timeout is reported as a problem, never thrown. */
async function runOne(attack: Attack, ctx: AttackContext): Promise<AttackResult> {
  const stats = ctx.stats;
  stats?.resetPeak();
  const rssBeforeKiB = stats?.rssKiB() ?? null;
  const start = performance.now();
  const limit = attack.timeoutMs(ctx.options);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let outcome: Outcome;
  try {
    outcome = await Promise.race([
      attack.run(ctx),
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`did not finish within ${limit} ms`)), limit)
      ),
    ]);
  } catch (error) {
    const message = (error as Error).message;
    outcome = { observed: `attack failed: ${message}`, problems: [message], metrics: {} };
  } finally {
    clearTimeout(timer);
  }
  return {
    id: attack.id,
    attack: attack.attack,
    expected: attack.expected,
    ...outcome,
    ms: Math.round(performance.now() - start),
    rssBeforeKiB,
    rssAfterKiB: stats?.rssKiB() ?? null,
    rssPeakKiB: stats?.peakKiB() ?? null,
  };
}

/**
 * Attacks the relay at `url` (`http://127.0.0.1:8080`) and reports its measured response to each.
 * Needs a Deno runtime (raw sockets through `Deno.connect`) and, for memory and fd checks, the relay's pid.
 *
 * @example
 * ```ts
 * const report = await runAbuse("http://127.0.0.1:8080", { pid: 12345 });
 * for (const r of report.results) console.log(r.id, r.observed, r.problems);
 * ```
 */
export async function runAbuse(url: string, options: Partial<AbuseOptions> = {}): Promise<AbuseReport> {
  const opts: AbuseOptions = { ...ABUSE_DEFAULTS, ...options };
  const stats = ProcessStats.open(opts.pid);
  // The floods hold one descriptor per connection on both sides: stay under either process's `ulimit -n`.
  const limits = [openFileLimit("self"), stats?.openFileLimit() ?? null].filter((n) => n !== null);
  opts.floodConnections = Math.max(1, Math.min(opts.floodConnections, ...limits.map((n) => n - FD_RESERVE)));
  const ctx = contextFor(url, opts, stats);
  const start = performance.now();
  const baseline: Baseline | null = stats ? { rssKiB: stats.rssKiB(), fds: stats.fdCount() } : null;
  const selected = [...ATTACKS, stillServing(() => baseline)].filter((a) =>
    opts.only.length === 0 || opts.only.includes(a.id)
  );
  const results: AttackResult[] = [];
  for (const attack of selected) {
    const result = await runOne(attack, ctx);
    results.push(result);
    opts.onResult?.(result);
  }
  return {
    url,
    baseline,
    results,
    failed: results.filter((r) => r.problems.length > 0).length,
    ms: Math.round(performance.now() - start),
  };
}
