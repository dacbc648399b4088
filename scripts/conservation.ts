/**
 * Delivery conservation on the Redis broker under faults: two relays on one private Redis, publishers on every
 * path, envelope subscribers that keep dropping and resuming on either node, and, unless `--no-faults`: Redis
 * stalled (SIGSTOP for 4 s, then SIGCONT) at 20 % of the run, killed and restarted empty at 50 %, the second
 * relay killed (SIGKILL) at 75 % and not used afterwards. At the end every subscriber resumes on the surviving
 * relay until it has caught up, and the ledger is checked: no silent gap (a gap is allowed only when announced
 * with `recovered: false`), no duplicate, no reorder, one payload per (channel, epoch, seq), every acknowledged
 * publish delivered under its acknowledged seq to every subscriber that stayed recovered over it (one that no
 * subscriber got is only counted: each of them was then told of a gap over it).
 *
 * Usage: `deno run -A scripts/conservation.ts [--seconds 30] [--subscribers 6] [--every-ms 10] [--seed 7]
 * [--no-faults]`; `RELAY_RUNTIME=bun BUN_BIN=…` runs the relays on Bun. Prints a JSON report; exits 1 when a
 * check failed. `tests/e2e/conservation_test.ts` runs it for a short time.
 * @module
 */
import process from "node:process";
import { type RelayProcess, startRelay } from "../tests/support/relay_process.ts";
import { type RedisServer, startRedis } from "../tests/support/redis_server.ts";
import { seededRandom } from "../tests/support/random.ts";
import { Ledger, type LedgerTotals } from "./conservation/ledger.ts";
import {
  envelopePublisher,
  type Field,
  httpPublisher,
  type PublishStats,
  rawPublisher,
  Subscriber,
} from "./conservation/workload.ts";

/** Options of {@link runConservation}. */
export interface ConservationOptions {
  /** Seconds of publishing. @default 30 */
  seconds?: number;
  /** Envelope subscribers. @default 6 */
  subscribers?: number;
  /** Milliseconds between two publishes of each of the six publishers. @default 10 */
  publishEveryMs?: number;
  /** Seed of the clients' random choices (nodes, channels, lifetimes). @default 7 */
  seed?: number;
  /** Stall and restart Redis and kill a relay. @default true */
  faults?: boolean;
  /** Progress lines (faults as they happen). */
  log?: (line: string) => void;
}

/** What a run found. */
export interface ConservationReport {
  seconds: number;
  totals: LedgerTotals;
  /** The first problems, described. */
  examples: string[];
  publish: PublishStats;
  /** Subscribers that had not caught up with a channel's final state at the end, as `subscriber channel`. */
  notCaughtUp: string[];
  /** Final state of each channel, from the surviving relay. */
  finals: Record<string, { epoch: string; seq: number }>;
  reconnects: number;
  /** What was done to Redis and the relays, with the second of the run. */
  faults: string[];
  /** True when every check passed. */
  ok: boolean;
}

/** Defaults of {@link ConservationOptions}. */
export const CONSERVATION_DEFAULTS = Object.freeze({
  seconds: 30,
  subscribers: 6,
  publishEveryMs: 10,
  seed: 7,
  faults: true,
});

/** Fault schedule, as fractions of the run, and how long Redis stays stopped (SIGSTOP) in milliseconds. */
const FAULTS = {
  stallAt: 0.2,
  stallMs: 4000,
  restartAt: 0.5,
  restartDownMs: 1000,
  killRelayAt: 0.75,
} as const;
/** A run with faults needs the stall over before the restart. */
const MIN_SECONDS_WITH_FAULTS = 16;
/** How long the subscribers get to catch up at the end (milliseconds). */
const CATCH_UP_MS = 20_000;
/** How long the last publishes get to reach every node before the final state is read (milliseconds). */
const SETTLE_MS = 500;
const CHANNELS = ["cons-0", "cons-1", "cons-2"] as const;
const RELAY_FLAGS = ["--history-size", "100000", "--max-connections-per-ip", "100000"];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startNode(redis: RedisServer): Promise<RelayProcess> {
  const node = await startRelay(["--broker", redis.url, ...RELAY_FLAGS]);
  const deadline = Date.now() + 10_000;
  while ((await fetch(`${node.url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`relay on ${node.port} did not get ready:\n${node.output()}`);
    await sleep(50);
  }
  return node;
}

async function finalState(node: RelayProcess, channel: string): Promise<{ epoch: string; seq: number }> {
  const response = await fetch(`${node.url}/channels/${channel}/messages?since=0&limit=1`);
  const body = await response.json();
  return { epoch: body.epoch, seq: body.seq };
}

/** Runs the workload (see the module comment) and checks it. Starts and stops everything it uses. */
export async function runConservation(options: ConservationOptions = {}): Promise<ConservationReport> {
  const o = { ...CONSERVATION_DEFAULTS, ...options };
  const log = options.log ?? (() => {});
  if (o.faults && o.seconds < MIN_SECONDS_WITH_FAULTS) {
    throw new RangeError(`a run with faults needs at least ${MIN_SECONDS_WITH_FAULTS} seconds`);
  }
  const redis = await startRedis();
  const nodes: RelayProcess[] = [];
  try {
    nodes.push(await startNode(redis), await startNode(redis));
    let alive: RelayProcess[] = [...nodes];
    let stopping = false;
    const ledger = new Ledger();
    const field: Field = {
      alive: () => alive,
      channels: CHANNELS,
      ledger,
      random: seededRandom(o.seed),
      publishEveryMs: o.publishEveryMs,
      stopping: () => stopping,
    };
    const started = Date.now();
    const faults: string[] = [];
    const note = (what: string) => {
      const line = `${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`;
      faults.push(line);
      log(line);
    };
    const at = (fraction: number) => sleep(Math.max(0, started + fraction * o.seconds * 1000 - Date.now()));

    const subscribers = Array.from({ length: o.subscribers }, (_, i) => new Subscriber(field, `s${i}`));
    for (const subscriber of subscribers) subscriber.start();
    await sleep(500);
    const stats: PublishStats = { rawSent: 0, envelopeSent: 0, httpSent: 0, refused: 0 };
    const publishers = [0, 1].flatMap((k) => [
      rawPublisher(field, `raw${k}`, CHANNELS[k % CHANNELS.length], stats),
      envelopePublisher(field, `env${k}`, stats),
      httpPublisher(field, `http${k}`, stats),
    ]);
    const chaos = (async () => {
      if (!o.faults) return;
      await at(FAULTS.stallAt);
      redis.pause();
      note("redis SIGSTOP");
      await sleep(FAULTS.stallMs);
      redis.resume();
      note("redis SIGCONT");
      await at(FAULTS.restartAt);
      await redis.stop("SIGKILL");
      note("redis killed (SIGKILL)");
      await sleep(FAULTS.restartDownMs);
      await redis.start();
      note("redis started again, empty");
      await at(FAULTS.killRelayAt);
      const victim = nodes[1];
      alive = alive.filter((node) => node !== victim);
      await victim.stop("SIGKILL");
      note(`relay on port ${victim.port} killed (SIGKILL)`);
    })();
    await at(1);
    stopping = true;
    await Promise.all([...publishers, chaos]);
    await sleep(SETTLE_MS);
    const finals = new Map<string, { epoch: string; seq: number }>();
    for (const channel of CHANNELS) finals.set(channel, await finalState(alive[0], channel));
    const behind = await Promise.all(subscribers.map((s) => s.finish(finals, CATCH_UP_MS)));
    const notCaughtUp = behind.flatMap((channels, i) =>
      channels.map((c) => `${subscribers[i].ledger.name} ${c}`)
    );
    const totals = ledger.finish();
    const failures = totals.duplicates + totals.reorders + totals.silentGaps + totals.crossEpochRecoveries +
      totals.payloadConflicts + totals.ackSeqMismatches + totals.acksMissed;
    return {
      seconds: o.seconds,
      totals,
      examples: ledger.examples,
      publish: stats,
      notCaughtUp,
      finals: Object.fromEntries(finals),
      reconnects: subscribers.reduce((sum, s) => sum + s.reconnects, 0),
      faults,
      ok: failures === 0 && notCaughtUp.length === 0 && totals.delivered > 0,
    };
  } finally {
    await Promise.all(nodes.map((node) => node.stop("SIGKILL")));
    await redis.stop();
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

if (import.meta.main) {
  const number = (name: string) => flag(name) === undefined ? undefined : Number(flag(name));
  const report = await runConservation({
    seconds: number("seconds"),
    subscribers: number("subscribers"),
    publishEveryMs: number("every-ms"),
    seed: number("seed"),
    faults: !process.argv.includes("--no-faults"),
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(report, null, 1));
  process.exit(report.ok ? 0 : 1);
}
