/**
 * Reserved bits (Autobahn 3.x, RFC 6455 §5.2): with no extension negotiated, a frame with RSV1, RSV2 or RSV3
 * set fails the connection with 1002, and nothing sent after it is processed.
 * @module
 */
import { caseList } from "../case.ts";
import { concatBytes, encodeFrame, type FrameSpec, OPCODE } from "../frame.ts";
import { echoRoundTrip, expectFailure } from "../expect.ts";
import { utf8 } from "../payloads.ts";

const { cases, add } = caseList("reserved-bits");

const RSV_FRAMES: { label: string; frame: FrameSpec }[] = [
  { label: "RSV1 on a text frame", frame: { opcode: OPCODE.Text, rsv: 4, payload: utf8("rsv1") } },
  { label: "RSV2 on a text frame", frame: { opcode: OPCODE.Text, rsv: 2, payload: utf8("rsv2") } },
  { label: "RSV3 on a text frame", frame: { opcode: OPCODE.Text, rsv: 1, payload: utf8("rsv3") } },
  { label: "RSV1+RSV3 on a binary frame", frame: { opcode: OPCODE.Binary, rsv: 5, payload: utf8("rsv5") } },
  {
    label: "all RSV bits on a binary frame",
    frame: { opcode: OPCODE.Binary, rsv: 7, payload: utf8("rsv7") },
  },
  { label: "RSV2 on a ping", frame: { opcode: OPCODE.Ping, rsv: 2, payload: utf8("ping") } },
  { label: "RSV3 on a pong", frame: { opcode: OPCODE.Pong, rsv: 1 } },
  {
    label: "RSV1 on a close frame",
    frame: { opcode: OPCODE.Close, rsv: 4, payload: new Uint8Array([0x03, 0xe8]) },
  },
];

for (const { label, frame } of RSV_FRAMES) {
  add(`${label} after a valid message fails with 1002 and a ping after it gets no pong`, async (t) => {
    const ws = await t.open();
    await echoRoundTrip(t, ws, OPCODE.Text, utf8("valid first"));
    await ws.write(
      concatBytes([encodeFrame(frame), encodeFrame({ opcode: OPCODE.Ping, payload: utf8("late") })]),
    );
    await expectFailure(t, ws, 1002);
  });
}

add("RSV1 on a continuation frame fails with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Text, fin: false, payload: utf8("start ") });
  await ws.send({ opcode: OPCODE.Continuation, rsv: 4, payload: utf8("end") });
  await expectFailure(t, ws, 1002);
});

export { cases };
