/**
 * permessage-deflate (RFC 7692; Autobahn 12.x/13.x in spirit), against a relay started with `--deflate`:
 * negotiation variants (the answer, declined offers that still open), compressed text and binary echoes,
 * fragmented compressed messages, BFINAL blocks, the empty message, and the failures: RSV1 where it is not
 * allowed (1002), a decompression bomb (1009), corrupt data and invalid UTF-8 once inflated (1007).
 * @module
 */
import { constants, deflateRawSync } from "node:zlib";
import { caseList, sizeLabel } from "../case.ts";
import type { CaseContext } from "../context.ts";
import { echoRoundTrip, expectFailure, expectMessage, expectPong, FAIL_FAST_MS } from "../expect.ts";
import { concatBytes, encodeFrame, OPCODE } from "../frame.ts";
import {
  checkSwitchingProtocols,
  encodeRequest,
  randomKey,
  readResponseHead,
  upgradeHeaders,
} from "../http.ts";
import { binaryPayload, textPayload, utf8 } from "../payloads.ts";
import { describeEvent, WsClient } from "../ws_client.ts";

const negotiation = caseList("deflate-negotiation");
const messages = caseList("deflate-messages");
const errors = caseList("deflate-errors");

const RSV1 = 4;
const AGREED = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
/** The relay's default `--deflate-threshold`: smaller messages come back uncompressed. */
const THRESHOLD_BYTES = 1024;
/** A bomb must be stopped while inflating: a 1009 later than this is non-strict. */
const BOMB_MS = 500;

/**
 * Opens `/ws/<fresh channel>` offering `offer`; checks the 101 and returns the client (reading compressed
 * messages when an extension was agreed) and the `Sec-WebSocket-Extensions` answer.
 */
async function openOffering(t: CaseContext, offer: string): Promise<{ ws: WsClient; agreed: string | null }> {
  const socket = await t.connect();
  const key = randomKey();
  const headers = { ...upgradeHeaders(t.host, key), "Sec-WebSocket-Extensions": offer };
  await socket.write(encodeRequest({ path: `/ws/${t.freshChannel()}`, headers }));
  const head = await readResponseHead(socket, t.deadline);
  if (typeof head === "string") t.fail(`opening handshake: ${head}`);
  const problem = checkSwitchingProtocols(head, key, true);
  if (problem) t.fail(`opening handshake: ${problem}`);
  const agreed = head.headers.get("sec-websocket-extensions") ?? null;
  return {
    ws: new WsClient(socket, (reason) => t.fail(reason), { perMessageDeflate: agreed !== null }),
    agreed,
  };
}

/** Opens with Chrome's offer and expects the relay's agreement. */
async function openDeflate(t: CaseContext): Promise<WsClient> {
  const { ws, agreed } = await openOffering(t, "permessage-deflate; client_max_window_bits");
  if (agreed !== AGREED) t.fail(`expected the answer "${AGREED}", got ${JSON.stringify(agreed)}`);
  return ws;
}

/** A message payload compressed as a client sends it (RFC 7692 §7.2.1): sync-flushed, trailer removed. */
function deflate(payload: Uint8Array): Uint8Array {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** Expects the echo of `payload`; it must come compressed when `compressed` is true, plain when false. */
async function expectEcho(
  t: CaseContext,
  ws: WsClient,
  opcode: number,
  payload: Uint8Array,
  compressed?: boolean,
): Promise<void> {
  if (compressed === undefined) return expectMessage(t, ws, opcode, payload);
  const event = await ws.next(t.deadline);
  if (event.type !== "message" || event.opcode !== opcode) {
    t.fail(`expected the echo, got ${describeEvent(event)}`);
  }
  if ((event.compressed ?? false) !== compressed) {
    t.fail(`the echo of ${payload.length} bytes came ${event.compressed ? "compressed" : "uncompressed"}`);
  }
  if (event.payload.length !== payload.length || event.payload.some((b, i) => b !== payload[i])) {
    t.fail(`the echo of ${payload.length} bytes differs`);
  }
}

// --- Negotiation (RFC 7692 §5, §7.1) ---------------------------------------------------------------------

for (
  const [label, offer, answer] of [
    ["Chrome's offer", "permessage-deflate; client_max_window_bits", AGREED],
    ["Firefox's bare offer", "permessage-deflate", AGREED],
    [
      "server_max_window_bits=10 (echoed)",
      "permessage-deflate; server_max_window_bits=10",
      `${AGREED}; server_max_window_bits=10`,
    ],
    [
      "a quoted server_max_window_bits",
      'permessage-deflate; server_max_window_bits="12"',
      `${AGREED}; server_max_window_bits=12`,
    ],
    ["client_max_window_bits=9 (never echoed)", "permessage-deflate; client_max_window_bits=9", AGREED],
    [
      "both no-context-takeover parameters",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      AGREED,
    ],
    [
      "a bad offer then a good one",
      "permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=11",
      `${AGREED}; server_max_window_bits=11`,
    ],
    ["an unknown extension then permessage-deflate", "x-webkit-deflate-frame, permessage-deflate", AGREED],
  ] as const
) {
  negotiation.add(`${label} is accepted with the right answer and a compressed echo`, async (t) => {
    const { ws, agreed } = await openOffering(t, offer);
    if (agreed !== answer) t.fail(`expected the answer "${answer}", got ${JSON.stringify(agreed)}`);
    const payload = textPayload(4096);
    await ws.send({ opcode: OPCODE.Text, rsv: RSV1, payload: deflate(payload) });
    await expectEcho(t, ws, OPCODE.Text, payload, true);
  });
}

for (
  const [label, offer] of [
    ["an unknown parameter", "permessage-deflate; foo"],
    ["a duplicated parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
    ["server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7"],
    ["server_max_window_bits=16", "permessage-deflate; server_max_window_bits=16"],
    ["server_max_window_bits without a value", "permessage-deflate; server_max_window_bits"],
    ["client_max_window_bits=16", "permessage-deflate; client_max_window_bits=16"],
    ["a value on client_no_context_takeover", "permessage-deflate; client_no_context_takeover=1"],
  ] as const
) {
  negotiation.add(`${label} is declined, the connection opens uncompressed`, async (t) => {
    const { ws, agreed } = await openOffering(t, offer);
    if (agreed !== null) t.fail(`expected no Sec-WebSocket-Extensions, got ${JSON.stringify(agreed)}`);
    await echoRoundTrip(t, ws, OPCODE.Text, textPayload(2048));
  });
}

negotiation.add("server_max_window_bits=8 is accepted and nothing is sent compressed", async (t) => {
  const { ws, agreed } = await openOffering(t, "permessage-deflate; server_max_window_bits=8");
  if (agreed !== `${AGREED}; server_max_window_bits=8`) t.fail(`got ${JSON.stringify(agreed)}`);
  const payload = textPayload(8192);
  await ws.send({ opcode: OPCODE.Text, rsv: RSV1, payload: deflate(payload) });
  await expectEcho(t, ws, OPCODE.Text, payload, false);
});

// --- Messages (RFC 7692 §7.2) ----------------------------------------------------------------------------

for (const size of [0, 16, THRESHOLD_BYTES - 1, THRESHOLD_BYTES, 65536, 1 << 20]) {
  for (
    const [kind, opcode, make] of [["text", OPCODE.Text, textPayload], [
      "binary",
      OPCODE.Binary,
      binaryPayload,
    ]] as const
  ) {
    messages.add(`compressed ${kind} message of ${sizeLabel(size)} is echoed byte-exact`, async (t) => {
      const ws = await openDeflate(t);
      const payload = make(size);
      await ws.send({ opcode, rsv: RSV1, payload: deflate(payload) });
      // Under the threshold the relay answers plain; at or above it, compressed when that is smaller.
      await expectEcho(t, ws, opcode, payload, size < THRESHOLD_BYTES ? false : undefined);
    });
  }
}

messages.add("a compressible 64 KiB text comes back compressed", async (t) => {
  const ws = await openDeflate(t);
  const payload = textPayload(65536);
  await ws.send({ opcode: OPCODE.Text, rsv: RSV1, payload: deflate(payload) });
  await expectEcho(t, ws, OPCODE.Text, payload, true);
});

messages.add("an uncompressed message on a deflate connection is echoed", async (t) => {
  const ws = await openDeflate(t);
  await echoRoundTrip(t, ws, OPCODE.Text, utf8("plain on a deflate connection"));
});

for (const pieces of [2, 3, 64]) {
  messages.add(`a compressed message in ${pieces} fragments is echoed`, async (t) => {
    const ws = await openDeflate(t);
    const payload = textPayload(20_000);
    const deflated = deflate(payload);
    const step = Math.ceil(deflated.length / pieces);
    const frames: Uint8Array[] = [];
    for (let i = 0, at = 0; at < deflated.length; i++, at += step) {
      const last = at + step >= deflated.length;
      frames.push(encodeFrame({
        opcode: i === 0 ? OPCODE.Text : OPCODE.Continuation,
        rsv: i === 0 ? RSV1 : 0,
        fin: last,
        payload: deflated.subarray(at, at + step),
      }));
    }
    await ws.write(concatBytes(frames));
    await expectEcho(t, ws, OPCODE.Text, payload);
  });
}

messages.add("a ping between the fragments of a compressed message is answered first", async (t) => {
  const ws = await openDeflate(t);
  const payload = binaryPayload(5000);
  const deflated = deflate(payload);
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Binary, rsv: RSV1, fin: false, payload: deflated.subarray(0, 10) }),
    encodeFrame({ opcode: OPCODE.Ping, payload: utf8("between") }),
    encodeFrame({ opcode: OPCODE.Continuation, payload: deflated.subarray(10) }),
  ]));
  await expectPong(t, ws, utf8("between"));
  await expectEcho(t, ws, OPCODE.Binary, payload);
});

messages.add("a message compressed into a BFINAL block (§7.2.3.4) is echoed", async (t) => {
  const ws = await openDeflate(t);
  const payload = textPayload(3000);
  await ws.send({ opcode: OPCODE.Text, rsv: RSV1, payload: deflateRawSync(payload) });
  await expectEcho(t, ws, OPCODE.Text, payload);
});

messages.add("the empty compressed message (a single 0x00, §7.2.3.6) is echoed", async (t) => {
  const ws = await openDeflate(t);
  await ws.send({ opcode: OPCODE.Text, rsv: RSV1, payload: new Uint8Array([0]) });
  await expectEcho(t, ws, OPCODE.Text, new Uint8Array(0), false);
});

messages.add("compressed stored blocks (level 0) are echoed", async (t) => {
  const ws = await openDeflate(t);
  const payload = binaryPayload(10_000);
  const out = deflateRawSync(payload, { level: 0, finishFlush: constants.Z_SYNC_FLUSH });
  await ws.send({ opcode: OPCODE.Binary, rsv: RSV1, payload: out.subarray(0, out.length - 4) });
  await expectEcho(t, ws, OPCODE.Binary, payload);
});

// --- Errors (RFC 7692 §6.1, §8; the inflated-size bound) --------------------------------------------------

errors.add("RSV1 on a continuation frame fails with 1002", async (t) => {
  const ws = await openDeflate(t);
  const deflated = deflate(textPayload(100));
  await ws.send({ opcode: OPCODE.Text, rsv: RSV1, fin: false, payload: deflated.subarray(0, 4) });
  await ws.send({ opcode: OPCODE.Continuation, rsv: RSV1, payload: deflated.subarray(4) });
  await expectFailure(t, ws, 1002);
});

for (const opcode of [OPCODE.Ping, OPCODE.Pong, OPCODE.Close]) {
  errors.add(`RSV1 on a control frame (opcode ${opcode}) fails with 1002`, async (t) => {
    const ws = await openDeflate(t);
    const payload = opcode === OPCODE.Close ? new Uint8Array([0x03, 0xe8]) : utf8("x");
    await ws.send({ opcode, rsv: RSV1, payload });
    await expectFailure(t, ws, 1002);
  });
}

errors.add("RSV2 on a data frame fails with 1002 even with permessage-deflate", async (t) => {
  const ws = await openDeflate(t);
  await ws.send({ opcode: OPCODE.Text, rsv: 2, payload: utf8("rsv2") });
  await expectFailure(t, ws, 1002);
});

errors.add("RSV1 without an agreement fails with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Text, rsv: RSV1, payload: deflate(utf8("not negotiated")) });
  await expectFailure(t, ws, 1002);
});

errors.add("a bomb inflating past the message limit fails fast with 1009", async (t) => {
  const ws = await openDeflate(t);
  // Twice the limit of zeros: about 1/1000 of it on the wire, well under the wire limit.
  const bomb = deflate(new Uint8Array(2 * t.settings.maxMessageBytes + 1));
  await ws.send({ opcode: OPCODE.Binary, rsv: RSV1, payload: bomb });
  const started = Date.now();
  await expectFailure(t, ws, 1009, { deadline: t.within(FAIL_FAST_MS) });
  if (Date.now() - started > BOMB_MS) t.nonStrict(`1009 only after ${Date.now() - started} ms`);
}, 30_000);

errors.add("corrupt compressed data fails with 1007", async (t) => {
  const ws = await openDeflate(t);
  await ws.send({
    opcode: OPCODE.Binary,
    rsv: RSV1,
    payload: new Uint8Array([0xff, 0xfe, 0xfd, 0xfc, 0xfb]),
  });
  await expectFailure(t, ws, 1007);
});

errors.add("compressed text that inflates to invalid UTF-8 fails with 1007", async (t) => {
  const ws = await openDeflate(t);
  await ws.send({
    opcode: OPCODE.Text,
    rsv: RSV1,
    payload: deflate(new Uint8Array([0x61, 0xc3, 0x28, 0x62])),
  });
  await expectFailure(t, ws, 1007);
});

export const negotiationCases = negotiation.cases;
export const messageCases = messages.cases;
export const errorCases = errors.cases;
