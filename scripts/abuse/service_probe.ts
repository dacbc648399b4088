/**
 * Is the relay still serving a normal client? A raw-mode WebSocket echo (handshake, one text message, its
 * echo, a clean close) and `GET /healthz`, each timed.
 * @module
 */
import { closePayload, OPCODE } from "../conformance/frame.ts";
import type { AttackContext, Checks } from "./types.ts";
import { openWebSocket } from "./wire.ts";

/** What a normal client experienced. */
export interface ServiceProbe {
  /** Handshake to echo received, ms; null when it failed. */
  echoMs: number | null;
  /** `GET /healthz` round trip, ms; null when it failed. */
  healthzMs: number | null;
  /** Why it failed, when it did. */
  errors: string[];
}

let probes = 0;

/** Runs both checks, each bounded by `timeoutMs`. */
export async function probeService(ctx: AttackContext, timeoutMs = 3000): Promise<ServiceProbe> {
  const [echo, healthz] = await Promise.all([probeEcho(ctx, timeoutMs), probeHealthz(ctx, timeoutMs)]);
  return {
    echoMs: typeof echo === "number" ? echo : null,
    healthzMs: typeof healthz === "number" ? healthz : null,
    errors: [echo, healthz].filter((r): r is string => typeof r === "string"),
  };
}

/** Adds the probe's failures to `checks`, each prefixed with `when`. */
export function checkServed(checks: Checks, when: string, probe: ServiceProbe, maxMs: number): void {
  for (const error of probe.errors) checks.problems.push(`${when}: ${error}`);
  if (probe.echoMs !== null) checks.atMost(`${when}: WebSocket echo`, probe.echoMs, maxMs, "ms");
  if (probe.healthzMs !== null) checks.atMost(`${when}: GET /healthz`, probe.healthzMs, maxMs, "ms");
}

/** `echo 3 ms, healthz 2 ms`. */
export function describeProbe(p: ServiceProbe): string {
  if (p.errors.length > 0) return `normal client failed (${p.errors.join("; ")})`;
  return `normal client served (echo ${p.echoMs} ms, /healthz ${p.healthzMs} ms)`;
}

async function probeEcho(ctx: AttackContext, timeoutMs: number): Promise<number | string> {
  const start = performance.now();
  const deadline = Date.now() + timeoutMs;
  const text = `probe ${++probes}`;
  let socket;
  try {
    socket = await openWebSocket(ctx, `/ws/${ctx.channel("probe")}`, {}, timeoutMs);
    await socket.ws.send({ opcode: OPCODE.Text, payload: new TextEncoder().encode(text) });
    const event = await socket.ws.next(deadline);
    if (event.type !== "message" || new TextDecoder().decode(event.payload) !== text) {
      return `WebSocket echo: expected "${text}" back, got ${event.type}`;
    }
    const ms = Math.round(performance.now() - start);
    await socket.ws.send({ opcode: OPCODE.Close, payload: closePayload(1000) });
    return ms;
  } catch (error) {
    return `WebSocket echo: ${(error as Error).message}`;
  } finally {
    socket?.ws.socket.close();
  }
}

async function probeHealthz(ctx: AttackContext, timeoutMs: number): Promise<number | string> {
  const start = performance.now();
  try {
    const response = await fetch(`${ctx.origin}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.json();
    if (response.status !== 200 || body?.status !== "ok") {
      return `GET /healthz: ${response.status} ${JSON.stringify(body)}`;
    }
    return Math.round(performance.now() - start);
  } catch (error) {
    return `GET /healthz: ${(error as Error).message}`;
  }
}
