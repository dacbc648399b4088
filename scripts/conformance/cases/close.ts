/**
 * Closing handshake (Autobahn 7.x, RFC 6455 §5.5.1, §7): valid codes are echoed, invalid ones and malformed
 * close payloads fail with 1002, nothing after a Close is processed, and the server closes TCP afterwards.
 * @module
 */
import { caseList } from "../case.ts";
import { closePayload, concatBytes, encodeFrame, OPCODE } from "../frame.ts";
import {
  closeNormally,
  echoRoundTrip,
  expectCloseReply,
  expectFailure,
  expectTcpClosed,
  TCP_CLOSE_WAIT_MS,
} from "../expect.ts";
import { textPayload, utf8 } from "../payloads.ts";

const { cases, add } = caseList("close");

/** Codes a client may send (RFC 6455 §7.4.1, IANA registry, §7.4.2 ranges). */
const VALID_CODES = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  3999,
  4000,
  4999,
];
/** Codes that must never appear on the wire (reserved, "MUST NOT be set", or out of range). */
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

for (const code of VALID_CODES) {
  add(`close ${code} is echoed and TCP closed`, async (t) => {
    const ws = await t.open();
    await closeNormally(t, ws, code, "reason");
  });
}

for (const code of INVALID_CODES) {
  add(`close ${code} fails with 1002`, async (t) => {
    const ws = await t.open();
    await ws.send({ opcode: OPCODE.Close, payload: closePayload(code) });
    await expectFailure(t, ws, 1002);
  });
}

add("a close payload of 1 byte fails with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Close, payload: new Uint8Array([0x03]) });
  await expectFailure(t, ws, 1002);
});

add("a close payload of 126 bytes (control frame too long) fails with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Close, payload: closePayload(1000, textPayload(124)) });
  await expectFailure(t, ws, 1002);
});

add("a close with a 123-byte reason (the maximum) is echoed", async (t) => {
  const ws = await t.open();
  await closeNormally(t, ws, 1000, textPayload(123));
});

add("an empty close is answered with an empty close or 1000", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Close });
  await expectCloseReply(t, ws, null);
  if (!await expectTcpClosed(t, ws, TCP_CLOSE_WAIT_MS)) {
    t.nonStrict("server did not close TCP after the closing handshake");
  }
});

add("the server closes TCP after the closing handshake without further client action", async (t) => {
  const ws = await t.open();
  await echoRoundTrip(t, ws, OPCODE.Text, utf8("before close"));
  await closeNormally(t, ws, 1000, "", { requireTcpClose: true });
});

add("a text message and a ping after a close are not processed", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Close, payload: closePayload(1000) }),
    encodeFrame({ opcode: OPCODE.Text, payload: utf8("after close") }),
    encodeFrame({ opcode: OPCODE.Ping, payload: utf8("after close") }),
  ]));
  await expectCloseReply(t, ws, 1000);
  if (!await expectTcpClosed(t, ws, TCP_CLOSE_WAIT_MS)) {
    t.nonStrict("server did not close TCP after the closing handshake");
  }
});

add("a text message sent after the close reply is not echoed", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Close, payload: closePayload(1000) });
  await expectCloseReply(t, ws, 1000);
  await ws.send({ opcode: OPCODE.Text, payload: utf8("too late") });
  if (!await expectTcpClosed(t, ws, TCP_CLOSE_WAIT_MS)) {
    t.nonStrict("server did not close TCP after the closing handshake");
  }
});

add("a second close after the first is ignored", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Close, payload: closePayload(1000) }),
    encodeFrame({ opcode: OPCODE.Close, payload: closePayload(1001) }),
  ]));
  await expectCloseReply(t, ws, 1000);
  if (!await expectTcpClosed(t, ws, TCP_CLOSE_WAIT_MS)) {
    t.nonStrict("server did not close TCP after the closing handshake");
  }
});

add("a close in the same write as a message is answered after the echo", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Text, payload: utf8("last words") }),
    encodeFrame({ opcode: OPCODE.Close, payload: closePayload(1000) }),
  ]));
  // The echo travels through the channel; a relay may close before it comes back. Missing it is non-strict.
  const first = await ws.next(t.deadline);
  if (first.type === "message") {
    if (new TextDecoder().decode(first.payload) !== "last words") {
      t.fail("echo differs from the message sent");
    }
    await expectCloseReply(t, ws, 1000);
  } else if (first.type === "close") {
    if (first.code !== 1000) t.fail(`expected close 1000, got close ${first.code}`);
    t.nonStrict("the message sent before the close was not echoed");
  } else {
    t.fail(`expected the echo and close 1000, got ${first.type}`);
  }
});

export { cases };
