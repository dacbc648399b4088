/**
 * Connection floods: a thousand handshakes that never finish, and a thousand aborted midway. The relay must
 * keep serving others, close the hanging ones at its head timeout, and leak no descriptor or memory.
 * @module
 */
import { settleFds } from "./process_stats.ts";
import { checkServed, describeProbe, probeService } from "./service_probe.ts";
import { type Attack, type AttackContext, Checks, signedKiB } from "./types.ts";
import { rawRequest, upgradeLines } from "./wire.ts";

/** Connections opened at once while building a flood (the listen backlog is the limit, not the relay). */
const BATCH = 100;
/** File descriptors the relay may hold above its starting count once a flood is over. */
export const FD_SLACK = 16;
/** Memory the relay may keep after a flood (allocator and JIT noise; a leak of 1000 connections is more). */
export const RSS_SLACK_KIB = 24 * 1024;
/** How long a normal client may wait while a flood is going on. */
const SERVED_MS = 2000;

/** One flood connection: writes its bytes and records when the relay closed it and what it answered. */
class FloodConn {
  readonly openedAt = performance.now();
  closedAt: number | null = null;
  /** The first bytes the relay sent (a status line), if any. */
  answer = "";
  readonly #conn: Deno.Conn;
  readonly #done: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#done = this.#read();
  }

  static async open(ctx: AttackContext, bytes: Uint8Array): Promise<FloodConn | string> {
    try {
      const conn = await Deno.connect({ hostname: ctx.target.hostname, port: ctx.target.port });
      const flood = new FloodConn(conn);
      await conn.write(bytes).catch(() => 0);
      return flood;
    } catch (error) {
      return (error as Error).message;
    }
  }

  get closed(): boolean {
    return this.closedAt !== null;
  }

  /** Closes from our side (an abort: FIN, or RST when the relay's answer is unread). */
  abort(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // The relay closed it first.
    }
    return this.#done;
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(512);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        if (this.answer.length < 16) this.answer += String.fromCharCode(...buf.subarray(0, Math.min(n, 16)));
      }
    } catch {
      // A reset, or our own close: either way the connection is over.
    }
    this.closedAt = performance.now();
  }
}

/** Opens `count` connections in batches, each writing `bytes(i)`. */
async function openMany(
  ctx: AttackContext,
  count: number,
  bytes: (i: number) => Uint8Array,
  onOpen?: (conn: FloodConn) => Promise<void>,
): Promise<{ conns: FloodConn[]; errors: string[] }> {
  const conns: FloodConn[] = [];
  const errors: string[] = [];
  for (let at = 0; at < count; at += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, count - at) }, async (_, j) => {
        const conn = await FloodConn.open(ctx, bytes(at + j));
        if (typeof conn !== "string") await onOpen?.(conn);
        return conn;
      }),
    );
    for (const c of batch) typeof c === "string" ? errors.push(c) : conns.push(c);
  }
  return { conns, errors };
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]);

const slowHandshakes: Attack = {
  id: "slow-handshakes",
  attack: "1000 connections that send half an upgrade request and never finish it",
  expected: "others still served meanwhile; each closed with 408 at the head timeout (10 s)",
  timeoutMs: (o) => o.headTimeoutMs + 15_000,
  async run(ctx) {
    const checks = new Checks();
    const count = ctx.options.floodConnections;
    const fdsBefore = ctx.stats?.fdCount() ?? null;
    const partial = (i: number) =>
      new TextEncoder().encode(`GET /ws/${ctx.channel(`slow${i}`)} HTTP/1.1\r\nHost: ${ctx.host}\r\n`);
    const { conns, errors } = await openMany(ctx, count, partial);
    const fdsDuring = ctx.stats?.fdCount() ?? null;
    const refused = conns.filter((c) => c.answer.startsWith("HTTP/1.1 503")).length;
    const during = await probeService(ctx, SERVED_MS + 1000);
    const deadline = performance.now() + ctx.options.headTimeoutMs + 5000;
    while (conns.some((c) => !c.closed) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const lifetimes = conns.filter((c) => c.closed).map((c) => c.closedAt! - c.openedAt).sort((a, b) =>
      a - b
    );
    const answered408 = conns.filter((c) => c.answer.startsWith("HTTP/1.1 408")).length;
    const stillOpen = conns.filter((c) => !c.closed).length;
    await Promise.all(conns.map((c) => c.abort()));

    checks.oneOf("connections refused or failed", errors.length + refused, [0]);
    checkServed(checks, "while the flood hung", during, SERVED_MS);
    checks.oneOf("connections still open after the head timeout", stillOpen, [0]);
    checks.oneOf("connections answered 408", answered408, [conns.length]);
    const first = percentile(lifetimes, 0);
    const last = percentile(lifetimes, 1);
    checks.atLeast("earliest close", first, ctx.options.headTimeoutMs - 500, "ms");
    checks.atMost("latest close", last, ctx.options.headTimeoutMs + 3000, "ms");
    return {
      observed: `${conns.length} held (relay fds ${fdsBefore ?? "?"} → ${fdsDuring ?? "?"}), ${
        describeProbe(during)
      }; ${answered408} answered 408, closed after ${first}–${last} ms (median ${
        percentile(lifetimes, 0.5)
      } ms)`,
      problems: checks.problems,
      metrics: {
        opened: conns.length,
        refused,
        connectErrors: errors.length,
        fdsBefore,
        fdsDuring,
        echoMsDuring: during.echoMs,
        healthzMsDuring: during.healthzMs,
        answered408,
        stillOpen,
        firstCloseMs: first,
        medianCloseMs: percentile(lifetimes, 0.5),
        lastCloseMs: last,
      },
    };
  },
};

const abortedHandshakes: Attack = {
  id: "aborted-handshakes",
  attack: "1000 connections closed by the client midway through the upgrade request (0 bytes to all of it)",
  expected: "no descriptor or memory leak (fds back within 16, RSS within 24 MiB), others still served",
  timeoutMs: () => 20_000,
  async run(ctx) {
    const checks = new Checks();
    const count = ctx.options.floodConnections;
    const fdsBefore = ctx.stats?.fdCount() ?? null;
    const rssBefore = ctx.stats?.rssKiB() ?? null;
    const request = rawRequest(`GET /ws/${ctx.channel("aborted")} HTTP/1.1`, upgradeLines(ctx));
    // Cut points spread over the whole request, the complete head (answered with 101) included.
    const cut = (i: number) => request.subarray(0, Math.round((i / Math.max(1, count - 1)) * request.length));
    const { conns, errors } = await openMany(ctx, count, cut, (conn) => conn.abort());
    const settled = ctx.stats && fdsBefore !== null
      ? await settleFds(ctx.stats, fdsBefore + FD_SLACK, 5000)
      : null;
    const rssAfter = ctx.stats?.rssKiB() ?? null;
    const after = await probeService(ctx, SERVED_MS + 1000);
    checks.oneOf("connections that failed to open", errors.length, [0]);
    if (settled && fdsBefore !== null) {
      checks.atMost("relay fds afterwards", settled.fds, fdsBefore + FD_SLACK, "fds");
    }
    const rssGrowth = rssAfter !== null && rssBefore !== null ? rssAfter - rssBefore : null;
    if (rssGrowth !== null) checks.atMost("RSS growth", rssGrowth, RSS_SLACK_KIB, "KiB");
    checkServed(checks, "afterwards", after, SERVED_MS);
    return {
      observed: `${conns.length} aborted; relay fds ${fdsBefore ?? "?"} → ${
        settled?.fds ?? "?"
      } (settled in ${settled?.waitedMs ?? "?"} ms), RSS ${
        rssGrowth === null ? "?" : signedKiB(rssGrowth)
      }; ${describeProbe(after)}`,
      problems: checks.problems,
      metrics: {
        aborted: conns.length,
        connectErrors: errors.length,
        fdsBefore,
        fdsAfter: settled?.fds ?? null,
        fdSettleMs: settled?.waitedMs ?? null,
        rssGrowthKiB: rssGrowth,
      },
    };
  },
};

/** The connection floods, in run order. */
export const CONNECTION_ATTACKS: readonly Attack[] = [abortedHandshakes, slowHandshakes];
