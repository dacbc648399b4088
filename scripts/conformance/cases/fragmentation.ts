/**
 * Fragmentation (Autobahn 5.x, RFC 6455 §5.4): fragmented messages are echoed as one message, control frames
 * may be interleaved, and every broken fragment sequence fails the connection with 1002.
 * @module
 */
import { caseList } from "../case.ts";
import { closePayload, concatBytes, encodeFrame, type FrameSpec, OPCODE } from "../frame.ts";
import { closeNormally, expectCloseReply, expectFailure, expectMessage, expectPong } from "../expect.ts";
import { binaryPayload, textPayload, utf8 } from "../payloads.ts";

const { cases, add } = caseList("fragmentation");

/** Frames carrying `payload` as a message of `opcode` cut at `cuts` (byte offsets). */
function fragments(opcode: number, payload: Uint8Array, cuts: number[]): FrameSpec[] {
  const bounds = [0, ...cuts, payload.length];
  return bounds.slice(1).map((end, i) => ({
    opcode: i === 0 ? opcode : OPCODE.Continuation,
    fin: i === bounds.length - 2,
    payload: payload.subarray(bounds[i], end),
  }));
}

const ECHO_CASES = [
  { label: "a text message in 2 fragments", opcode: OPCODE.Text, payload: textPayload(40), cuts: [17] },
  { label: "a binary message in 2 fragments", opcode: OPCODE.Binary, payload: binaryPayload(40), cuts: [20] },
  {
    label: "a text message in 3 fragments, the middle one empty",
    opcode: OPCODE.Text,
    payload: textPayload(30),
    cuts: [10, 10],
  },
  {
    label: "a text message with empty first and last fragments",
    opcode: OPCODE.Text,
    payload: textPayload(30),
    cuts: [0, 30],
  },
  {
    label: "a text message of 3 empty fragments",
    opcode: OPCODE.Text,
    payload: new Uint8Array(0),
    cuts: [0, 0],
  },
  {
    label: "a text message in 64 one-byte fragments",
    opcode: OPCODE.Text,
    payload: utf8("a".repeat(64)),
    cuts: Array.from({ length: 63 }, (_, i) => i + 1),
  },
  {
    label: "a binary message of 1 MiB in 16 fragments",
    opcode: OPCODE.Binary,
    payload: binaryPayload(1 << 20),
    cuts: Array.from({ length: 15 }, (_, i) => (i + 1) << 16),
  },
];

for (const { label, opcode, payload, cuts } of ECHO_CASES) {
  add(`${label} sent in one write is echoed as one message`, async (t) => {
    const ws = await t.open();
    await ws.write(concatBytes(fragments(opcode, payload, cuts).map(encodeFrame)));
    await expectMessage(t, ws, opcode, payload);
    await closeNormally(t, ws);
  });
  add(`${label} sent frame by frame is echoed as one message`, async (t) => {
    const ws = await t.open();
    for (const frame of fragments(opcode, payload, cuts)) await ws.send(frame);
    await expectMessage(t, ws, opcode, payload);
    await closeNormally(t, ws);
  });
}

add("a pong between fragments is ignored and the message echoed", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Binary, fin: false, payload: utf8("one ") }),
    encodeFrame({ opcode: OPCODE.Pong, payload: utf8("unsolicited") }),
    encodeFrame({ opcode: OPCODE.Continuation, payload: utf8("two") }),
  ]));
  await expectMessage(t, ws, OPCODE.Binary, utf8("one two"));
  await closeNormally(t, ws);
});

add("pings between each of 3 fragments are answered in order and the message echoed", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Text, fin: false, payload: utf8("a") }),
    encodeFrame({ opcode: OPCODE.Ping, payload: utf8("p1") }),
    encodeFrame({ opcode: OPCODE.Continuation, fin: false, payload: utf8("b") }),
    encodeFrame({ opcode: OPCODE.Ping, payload: utf8("p2") }),
    encodeFrame({ opcode: OPCODE.Continuation, payload: utf8("c") }),
  ]));
  await expectPong(t, ws, utf8("p1"));
  await expectPong(t, ws, utf8("p2"));
  await expectMessage(t, ws, OPCODE.Text, utf8("abc"));
  await closeNormally(t, ws);
});

add("a close between fragments is answered and the partial message is not delivered", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Text, fin: false, payload: utf8("never completed") }),
    encodeFrame({ opcode: OPCODE.Close, payload: closePayload(1000) }),
  ]));
  await expectCloseReply(t, ws, 1000);
});

const BROKEN: { label: string; before?: FrameSpec; frames: FrameSpec[] }[] = [
  {
    label: "a final continuation frame without a message in progress",
    frames: [{ opcode: OPCODE.Continuation, payload: utf8("x") }],
  },
  {
    label: "a non-final continuation frame without a message in progress",
    frames: [{ opcode: OPCODE.Continuation, fin: false, payload: utf8("x") }],
  },
  {
    label: "a continuation frame after a complete message",
    before: { opcode: OPCODE.Text, payload: utf8("done") },
    frames: [{ opcode: OPCODE.Continuation, payload: utf8("x") }],
  },
  {
    label: "a text frame inside a fragmented text message",
    frames: [{ opcode: OPCODE.Text, fin: false, payload: utf8("a") }, {
      opcode: OPCODE.Text,
      payload: utf8("b"),
    }],
  },
  {
    label: "a binary frame inside a fragmented text message",
    frames: [{ opcode: OPCODE.Text, fin: false, payload: utf8("a") }, {
      opcode: OPCODE.Binary,
      payload: utf8("b"),
    }],
  },
  {
    label: "a non-final text frame inside a fragmented binary message",
    frames: [{ opcode: OPCODE.Binary, fin: false, payload: utf8("a") }, {
      opcode: OPCODE.Text,
      fin: false,
      payload: utf8("b"),
    }],
  },
  {
    label: "a fragmented ping",
    frames: [{ opcode: OPCODE.Ping, fin: false, payload: utf8("a") }, {
      opcode: OPCODE.Continuation,
      payload: utf8("b"),
    }],
  },
  {
    label: "a fragmented pong",
    frames: [{ opcode: OPCODE.Pong, fin: false, payload: utf8("a") }, {
      opcode: OPCODE.Continuation,
      payload: utf8("b"),
    }],
  },
  {
    label: "a fragmented close",
    frames: [{ opcode: OPCODE.Close, fin: false, payload: closePayload(1000) }, {
      opcode: OPCODE.Continuation,
      payload: utf8("b"),
    }],
  },
  {
    label: "a non-final ping inside a fragmented message",
    frames: [{ opcode: OPCODE.Text, fin: false, payload: utf8("a") }, {
      opcode: OPCODE.Ping,
      fin: false,
      payload: utf8("p"),
    }],
  },
];

for (const { label, before, frames } of BROKEN) {
  add(`${label} fails with 1002`, async (t) => {
    const ws = await t.open();
    if (before) {
      await ws.send(before);
      await expectMessage(t, ws, before.opcode, before.payload!);
    }
    // The trailing ping must stay unanswered: nothing after a protocol error is processed (RFC 6455 §7.1.7).
    await ws.write(concatBytes([...frames, { opcode: OPCODE.Ping, payload: utf8("late") }].map(encodeFrame)));
    await expectFailure(t, ws, 1002);
  });
}

export { cases };
