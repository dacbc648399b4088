/**
 * Ping and pong (Autobahn 2.x, RFC 6455 §5.5.2–§5.5.3): pings are answered with identical payloads, control
 * frames over 125 bytes fail the connection, unsolicited pongs are ignored.
 * @module
 */
import { caseList } from "../case.ts";
import { concatBytes, encodeFrame, OPCODE } from "../frame.ts";
import {
  closeNormally,
  echoRoundTrip,
  expectFailFast,
  expectFailure,
  expectMessage,
  expectPong,
} from "../expect.ts";
import { binaryPayload, textPayload, utf8 } from "../payloads.ts";

const { cases, add } = caseList("ping-pong");

const PING_PAYLOADS = [
  { label: "an empty ping", payload: new Uint8Array(0) },
  { label: "a ping of 1 byte", payload: utf8("x") },
  { label: "a ping with a 125-byte text payload", payload: textPayload(125) },
  { label: "a ping with a 125-byte binary payload of all byte values", payload: binaryPayload(125) },
];

for (const { label, payload } of PING_PAYLOADS) {
  add(`${label} is answered with an identical pong`, async (t) => {
    const ws = await t.open();
    await ws.send({ opcode: OPCODE.Ping, payload });
    await expectPong(t, ws, payload);
    await closeNormally(t, ws);
  });
}

add("a 125-byte ping sent byte by byte is answered with an identical pong", async (t) => {
  const ws = await t.open();
  const payload = binaryPayload(125);
  await ws.socket.writeChunked(encodeFrame({ opcode: OPCODE.Ping, payload }), 1);
  await expectPong(t, ws, payload);
  await closeNormally(t, ws);
});

add("a ping of 126 bytes fails the connection with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Ping, payload: binaryPayload(126) });
  await expectFailure(t, ws, 1002);
});

add("a ping announcing 126 bytes fails with 1002 before its payload is sent", async (t) => {
  const ws = await t.open();
  const frame = encodeFrame({ opcode: OPCODE.Ping, payload: binaryPayload(126) });
  const headerLength = 2 + 2 + 4;
  await ws.write(frame.subarray(0, headerLength));
  await expectFailFast(t, ws, 1002, frame.subarray(headerLength), "the payload was sent");
});

add("an unsolicited empty pong is ignored", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Pong });
  await echoRoundTrip(t, ws, OPCODE.Text, utf8("after pong"));
  await closeNormally(t, ws);
});

add("an unsolicited pong with a 125-byte payload is ignored", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Pong, payload: binaryPayload(125) });
  await echoRoundTrip(t, ws, OPCODE.Text, utf8("after pong"));
  await closeNormally(t, ws);
});

add("an unsolicited pong followed by a ping gets exactly one pong, for the ping", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Pong, payload: utf8("unsolicited") }),
    encodeFrame({ opcode: OPCODE.Ping, payload: utf8("solicited") }),
  ]));
  await expectPong(t, ws, utf8("solicited"));
  await echoRoundTrip(t, ws, OPCODE.Text, utf8("then text"));
  await closeNormally(t, ws);
});

add("a ping between the fragments of a text message is answered before the message completes", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Text, fin: false, payload: utf8("frag-1 ") });
  await ws.send({ opcode: OPCODE.Ping, payload: utf8("ping in between") });
  await expectPong(t, ws, utf8("ping in between"));
  await ws.send({ opcode: OPCODE.Continuation, payload: utf8("frag-2") });
  await expectMessage(t, ws, OPCODE.Text, utf8("frag-1 frag-2"));
  await closeNormally(t, ws);
});

const TEN = Array.from({ length: 10 }, (_, i) => utf8(`ping ${i}`));

add("10 pings in one write get 10 pongs in order", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes(TEN.map((payload) => encodeFrame({ opcode: OPCODE.Ping, payload }))));
  for (const payload of TEN) await expectPong(t, ws, payload);
  await closeNormally(t, ws);
});

add("10 pings sent one by one get 10 pongs in order", async (t) => {
  const ws = await t.open();
  for (const payload of TEN) await ws.send({ opcode: OPCODE.Ping, payload });
  for (const payload of TEN) await expectPong(t, ws, payload);
  await closeNormally(t, ws);
});

add("a ping after a text message is answered after the echo", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Text, payload: utf8("first") }),
    encodeFrame({ opcode: OPCODE.Ping, payload: utf8("second") }),
  ]));
  // The echo travels through the channel and the pong does not, so their order is not fixed: accept both.
  const first = await ws.next(t.deadline);
  const second = await ws.next(t.deadline);
  const kinds = [first.type, second.type].sort().join(",");
  if (kinds !== "message,pong") t.fail(`expected the echo and a pong, got ${first.type} then ${second.type}`);
  await closeNormally(t, ws);
});

export { cases };
