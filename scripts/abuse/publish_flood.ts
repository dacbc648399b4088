/**
 * A client that publishes as fast as it can, while a normal subscriber on another channel measures how
 * long its messages take. With `--max-messages-per-second` (default 1000, burst one second's worth) the
 * flooder is closed with 1008; it ignores the Close and keeps writing, and the relay still drops it within
 * its close timeout. The subscriber keeps receiving promptly throughout.
 * @module
 */
import { closePayload, concatBytes, encodeFrame, OPCODE } from "../conformance/frame.ts";
import type { FloodReport, FloodRequest } from "./flood_worker.ts";
import { type Attack, Checks } from "./types.ts";
import { describeEnding, type OpenSocket, openWebSocket } from "./wire.ts";

/** Frames per write: a burst big enough that the client, not the loop, is the limit. */
const FRAMES_PER_WRITE = 500;
/** How often the normal publisher sends on the calm channel. */
const CALM_INTERVAL_MS = 50;
/** The normal subscriber's messages must arrive within this long of being sent. */
export const CALM_MAX_MS = 500;
/** The relay's default rate: the flooder is cut off after about a second's burst of this many. */
const DEFAULT_RATE = 1000;
/** The relay's close timeout (RFC 6455 §7.1.1 wait for the peer's Close), plus slack, in ms. */
const CLOSE_TIMEOUT_MS = 5000;
const DROP_SLACK_MS = 1500;

/** Runs the flooder in a worker and resolves with its report. */
function runFlooder(request: FloodRequest): Promise<FloodReport> {
  const worker = new Worker(new URL("./flood_worker.ts", import.meta.url).href, { type: "module" });
  return new Promise<FloodReport>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<FloodReport>) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`flood worker: ${event.message}`));
    };
    worker.postMessage(request);
  }).finally(() => worker.terminate());
}

export const publishFlood: Attack = {
  id: "publish-flood",
  attack: "a raw-mode client publishing 16-byte messages as fast as it can, ignoring the relay's Close",
  expected: `close 1008 (rate limit, default ${DEFAULT_RATE}/s), TCP dropped within the close timeout; a ` +
    `subscriber on another channel gets every message within ${CALM_MAX_MS} ms`,
  timeoutMs: (o) => o.publishFloodMs + CLOSE_TIMEOUT_MS + 10_000,
  async run(ctx) {
    const checks = new Checks();
    const calm = ctx.channel("calm");
    const sockets: OpenSocket[] = [];
    try {
      const subscriber = await openWebSocket(ctx, `/ws/${calm}`);
      const publisher = await openWebSocket(ctx, `/ws/${calm}`);
      sockets.push(subscriber, publisher);
      const payload = new TextEncoder().encode("flood flood 0123");
      const flooding = runFlooder({
        target: ctx.target,
        host: ctx.host,
        path: `/ws/${ctx.channel("flood")}`,
        durationMs: ctx.options.publishFloodMs,
        drainMs: CLOSE_TIMEOUT_MS + DROP_SLACK_MS,
        batch: concatBytes(
          Array.from({ length: FRAMES_PER_WRITE }, () => encodeFrame({ opcode: OPCODE.Text, payload })),
        ),
        framesPerBatch: FRAMES_PER_WRITE,
      });
      let flooded: FloodReport | null = null;
      flooding.then((r) => flooded = r, () => {});

      // The calm channel: one message every CALM_INTERVAL_MS while the flood lasts, each timed to receipt.
      const stopAt = performance.now() + ctx.options.publishFloodMs;
      const sentAt = new Map<string, number>();
      const latencies: number[] = [];
      let sending = true;
      const receiving = (async () => {
        const deadline = Date.now() + ctx.options.publishFloodMs + CLOSE_TIMEOUT_MS + DROP_SLACK_MS;
        while ((sending || latencies.length < sentAt.size) && Date.now() < deadline) {
          // Short waits, so the loop notices when sending is over and everything arrived.
          const event = await subscriber.ws.next(Math.min(deadline, Date.now() + 100));
          if (event.type === "timeout") continue;
          if (event.type !== "message") break;
          const at = sentAt.get(new TextDecoder().decode(event.payload));
          if (at !== undefined) latencies.push(performance.now() - at);
        }
      })();
      // It goes on while the relay still holds the flooder, up to the close timeout.
      const calmUntil = stopAt + CLOSE_TIMEOUT_MS + DROP_SLACK_MS;
      for (
        let i = 0;
        performance.now() < stopAt || (flooded === null && performance.now() < calmUntil);
        i++
      ) {
        const text = `calm ${i}`;
        sentAt.set(text, performance.now());
        await publisher.ws.send({ opcode: OPCODE.Text, payload: new TextEncoder().encode(text) });
        await new Promise((resolve) => setTimeout(resolve, CALM_INTERVAL_MS));
      }
      sending = false;
      const end = await flooding;
      await receiving;

      const sorted = latencies.toSorted((a, b) => a - b);
      const maxLatency = sorted.length ? Math.round(sorted.at(-1)!) : null;
      const medianLatency = sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]) : null;
      if (end.error) checks.problems.push(`flooder: ${end.error}`);
      checks.oneOf("flooder close code", end.code, [1008]);
      if (end.msToCloseFrame !== null) {
        checks.atMost(
          "TCP drop after the Close frame",
          end.msToEof === null ? null : end.msToEof - end.msToCloseFrame,
          CLOSE_TIMEOUT_MS + DROP_SLACK_MS,
          "ms",
        );
      }
      checks.oneOf("calm messages received", latencies.length, [sentAt.size]);
      checks.atMost("slowest calm message", maxLatency, CALM_MAX_MS, "ms");
      return {
        observed: `flooder: ${describeEnding(end)}; ${end.sentBeforeClose ?? end.sent} messages before the ` +
          `Close, ${end.sent} in all (${Math.round(end.sent / Math.max(1, end.floodMs) * 1000)}/s); calm ` +
          `subscriber: ${latencies.length}/${sentAt.size} messages, median ${medianLatency} ms, max ${maxLatency} ms`,
        problems: checks.problems,
        metrics: {
          closeCode: end.code,
          msToCloseFrame: end.msToCloseFrame,
          msToEof: end.msToEof,
          sent: end.sent,
          sentBeforeClose: end.sentBeforeClose,
          echoes: end.messages,
          calmSent: sentAt.size,
          calmReceived: latencies.length,
          calmMedianMs: medianLatency,
          calmMaxMs: maxLatency,
        },
      };
    } finally {
      for (const { ws } of sockets) {
        await ws.send({ opcode: OPCODE.Close, payload: closePayload(1000) });
        ws.socket.close();
      }
    }
  },
};
