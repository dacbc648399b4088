/**
 * The publish flooder, run in a Web Worker so that its tight write loop cannot starve the main thread,
 * where the normal subscriber measures latency: what the suite measures is the relay, not its own client.
 *
 * The flooder is hostile: it ignores the relay's Close frame and keeps writing until the flood time is over,
 * then waits (without writing) for the relay to close TCP.
 * @module
 */
import type { Target } from "../conformance/raw_socket.ts";
import { awaitEnding, type Ending, openWebSocket } from "./wire.ts";

/** What the main thread sends. */
export interface FloodRequest {
  target: Target;
  host: string;
  path: string;
  /** Flood for this long (ms), then stop writing. */
  durationMs: number;
  /** After the flood, how long to wait for the relay to close TCP (ms). */
  drainMs: number;
  /** One write's worth of masked frames. */
  batch: Uint8Array;
  framesPerBatch: number;
}

/** What the worker answers. */
export interface FloodReport extends Ending {
  /** Messages written in all, and before the relay's Close frame arrived. */
  sent: number;
  sentBeforeClose: number | null;
  floodMs: number;
  error?: string;
}

declare const self: Worker & { close(): void };

async function flood(request: FloodRequest): Promise<FloodReport> {
  const { ws } = await openWebSocket(request, request.path);
  const start = performance.now();
  let sent = 0;
  let sentBeforeClose: number | null = null;
  let over = false;
  const done = awaitEnding(
    ws,
    start,
    Date.now() + request.durationMs + request.drainMs,
    () => sentBeforeClose = sent,
  ).finally(() => over = true);
  const stopAt = start + request.durationMs;
  while (!over && performance.now() < stopAt) {
    if (!await ws.write(request.batch)) break;
    sent += request.framesPerBatch;
    // A macrotask between writes lets this worker's own reader see the relay's frames.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const floodMs = Math.round(performance.now() - start);
  const ending = await done;
  ws.socket.close();
  return { ...ending, sent, sentBeforeClose, floodMs };
}

self.onmessage = async (event: MessageEvent<FloodRequest>) => {
  let report: FloodReport;
  try {
    report = await flood(event.data);
  } catch (error) {
    report = {
      code: null,
      reason: "",
      msToCloseFrame: null,
      msToEof: null,
      messages: 0,
      sent: 0,
      sentBeforeClose: null,
      floodMs: 0,
      error: (error as Error).message,
    };
  }
  self.postMessage(report);
  self.close();
};
