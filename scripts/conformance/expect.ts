/**
 * The expectations cases are built from. Each reads server events and either returns (expected behaviour),
 * records a non-strict note (acceptable deviation) or fails the case with a reason naming expected and got.
 * @module
 */
import type { CaseContext } from "./context.ts";
import { closePayload, OPCODE } from "./frame.ts";
import { describeEvent, type WsClient, type WsEvent } from "./ws_client.ts";

/** How long a server gets to close TCP after the closing handshake (RFC 6455 §7.1.1: the server closes first). */
export const TCP_CLOSE_WAIT_MS = 2000;

/** Names a message kind for reasons. */
function kind(opcode: number): string {
  return opcode === OPCODE.Text ? "text" : "binary";
}

/** Fails unless `got` equals `expected` byte for byte; the reason names the first difference. */
export function assertSameBytes(t: CaseContext, what: string, got: Uint8Array, expected: Uint8Array): void {
  if (got.length !== expected.length) t.fail(`${what}: expected ${expected.length} bytes, got ${got.length}`);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== expected[i]) t.fail(`${what}: byte ${i} is ${got[i]}, expected ${expected[i]}`);
  }
}

/** Expects the next event to be a message of `opcode` carrying exactly `payload` (the echo). */
export async function expectMessage(t: CaseContext, ws: WsClient, opcode: number, payload: Uint8Array) {
  const event = await ws.next(t.deadline);
  const expected = `the ${kind(opcode)} echo of ${payload.length} bytes`;
  if (event.type !== "message") t.fail(`expected ${expected}, got ${describeEvent(event)}`);
  if (event.opcode !== opcode) t.fail(`expected ${expected}, got ${describeEvent(event)}`);
  assertSameBytes(t, "echo", event.payload, payload);
}

/** Expects the next event to be a pong with exactly `payload` (RFC 6455 §5.5.3). */
export async function expectPong(t: CaseContext, ws: WsClient, payload: Uint8Array) {
  const event = await ws.next(t.deadline);
  if (event.type !== "pong") {
    t.fail(`expected a pong of ${payload.length} bytes, got ${describeEvent(event)}`);
  }
  assertSameBytes(t, "pong payload", event.payload, payload);
}

/**
 * Expects the server to fail the connection with one of `codes` (RFC 6455 §7.1.7), then completes the
 * closing handshake. TCP closed without a Close frame is non-strict. Returns false only when nothing happened
 * before `deadline` and `allowTimeout` is set (the caller then tries something else, e.g. fail-fast checks).
 */
export async function expectFailure(
  t: CaseContext,
  ws: WsClient,
  codes: number | readonly number[],
  options: { deadline?: number; allowTimeout?: boolean; nonStrictCodes?: readonly number[] } = {},
): Promise<boolean> {
  const accepted = typeof codes === "number" ? [codes] : codes;
  const expected = `close ${accepted.join(" or ")}`;
  const event = await ws.next(options.deadline ?? t.deadline);
  if (event.type === "timeout") {
    if (options.allowTimeout) return false;
    t.fail(`expected ${expected}, got nothing in time`);
  }
  if (event.type === "eof") {
    t.nonStrict(`expected ${expected}, got ${describeEvent(event)}`);
    return true;
  }
  if (event.type !== "close" || event.code === null) {
    t.fail(`expected ${expected}, got ${describeEvent(event)}`);
  }
  if (!accepted.includes(event.code)) {
    if (!options.nonStrictCodes?.includes(event.code)) {
      t.fail(`expected ${expected}, got ${describeEvent(event)}`);
    }
    t.nonStrict(`expected ${expected}, got ${describeEvent(event)}`);
  }
  await finishClosingHandshake(t, ws, event);
  return true;
}

/** Answers the server's Close and expects it to close TCP soon after (RFC 6455 §5.5.1, §7.1.1). */
async function finishClosingHandshake(t: CaseContext, ws: WsClient, close: WsEvent & { type: "close" }) {
  const payload = close.code === null ? new Uint8Array(0) : closePayload(close.code);
  await ws.send({ opcode: OPCODE.Close, payload });
  if (!await expectTcpClosed(t, ws, TCP_CLOSE_WAIT_MS)) {
    t.nonStrict(`server did not close TCP within ${TCP_CLOSE_WAIT_MS} ms after the closing handshake`);
  }
}

/** Waits up to `ms` for the server to end the connection; any frame meanwhile fails the case. */
export async function expectTcpClosed(t: CaseContext, ws: WsClient, ms: number): Promise<boolean> {
  const event = await ws.next(t.within(ms));
  if (event.type === "eof") return true;
  if (event.type === "timeout") return false;
  return t.fail(`expected the connection to end, got ${describeEvent(event)}`);
}

/**
 * Starts the closing handshake with `code` and expects it echoed (RFC 6455 §5.5.1), then TCP closed by the
 * server. An answer without code or with 1000 is non-strict; any other code fails.
 */
export async function closeNormally(
  t: CaseContext,
  ws: WsClient,
  code: number = 1000,
  reason: string | Uint8Array = "",
  options: { requireTcpClose?: boolean } = {},
): Promise<void> {
  await ws.send({ opcode: OPCODE.Close, payload: closePayload(code, reason) });
  await expectCloseReply(t, ws, code);
  if (!await expectTcpClosed(t, ws, TCP_CLOSE_WAIT_MS)) {
    const reasonText = `server did not close TCP within ${TCP_CLOSE_WAIT_MS} ms after the closing handshake`;
    if (options.requireTcpClose) t.fail(reasonText);
    t.nonStrict(reasonText);
  }
}

/** Expects the server's Close answering ours with `code` (see {@link closeNormally}). */
export async function expectCloseReply(t: CaseContext, ws: WsClient, code: number | null): Promise<void> {
  const event = await ws.next(t.deadline);
  const expected = code === null ? "a Close frame" : `close ${code} echoed`;
  if (event.type === "eof") return t.nonStrict(`expected ${expected}, got ${describeEvent(event)}`);
  if (event.type !== "close") return t.fail(`expected ${expected}, got ${describeEvent(event)}`);
  if (event.code === code || code === null && event.code === 1000) return;
  if (event.code === null || event.code === 1000) {
    return t.nonStrict(`expected ${expected}, got ${describeEvent(event)}`);
  }
  t.fail(`expected ${expected}, got ${describeEvent(event)}`);
}

/** Sends `payload` as one message and expects it echoed. */
export async function echoRoundTrip(t: CaseContext, ws: WsClient, opcode: number, payload: Uint8Array) {
  await ws.send({ opcode, payload });
  await expectMessage(t, ws, opcode, payload);
}

/** How long a server gets to reject input before the rest of it is sent (fail-fast checks). */
export const FAIL_FAST_MS = 2000;

/**
 * Expects the server to fail the connection with `codes` before `rest` is sent (fail fast, RFC 6455 §8.1
 * and §10.4); if it waits, sends `rest` and accepts a later failure as non-strict.
 */
export async function expectFailFast(
  t: CaseContext,
  ws: WsClient,
  codes: number | readonly number[],
  rest: Uint8Array,
  what: string,
): Promise<void> {
  if (await expectFailure(t, ws, codes, { deadline: t.within(FAIL_FAST_MS), allowTimeout: true })) return;
  t.nonStrict(`not fail-fast: nothing within ${FAIL_FAST_MS} ms, rejected only after ${what}`);
  await ws.write(rest);
  await expectFailure(t, ws, codes);
}
