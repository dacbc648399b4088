/**
 * Masking (RFC 6455 §5.1, §5.3): every client frame must be masked; an unmasked one fails the connection
 * with 1002. Any masking key is valid, including all zeros.
 * @module
 */
import { caseList } from "../case.ts";
import { closePayload, type FrameSpec, OPCODE } from "../frame.ts";
import { closeNormally, echoRoundTrip, expectFailure, expectMessage } from "../expect.ts";
import { utf8 } from "../payloads.ts";

const { cases, add } = caseList("masking");

const UNMASKED: { label: string; frame: FrameSpec }[] = [
  { label: "an unmasked text frame", frame: { opcode: OPCODE.Text, payload: utf8("in the clear") } },
  { label: "an unmasked binary frame", frame: { opcode: OPCODE.Binary, payload: utf8("in the clear") } },
  { label: "an unmasked empty text frame", frame: { opcode: OPCODE.Text } },
  { label: "an unmasked ping", frame: { opcode: OPCODE.Ping, payload: utf8("ping") } },
  { label: "an unmasked close", frame: { opcode: OPCODE.Close, payload: closePayload(1000) } },
];

for (const { label, frame } of UNMASKED) {
  add(`${label} fails with 1002`, async (t) => {
    const ws = await t.open();
    await ws.send({ ...frame, mask: false });
    await expectFailure(t, ws, 1002);
  });
}

add("an unmasked continuation of a masked first fragment fails with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Text, fin: false, payload: utf8("masked ") });
  await ws.send({ opcode: OPCODE.Continuation, payload: utf8("unmasked"), mask: false });
  await expectFailure(t, ws, 1002);
});

add("an unmasked text frame after a valid message fails with 1002", async (t) => {
  const ws = await t.open();
  await echoRoundTrip(t, ws, OPCODE.Text, utf8("masked"));
  await ws.send({ opcode: OPCODE.Text, payload: utf8("unmasked"), mask: false });
  await expectFailure(t, ws, 1002);
});

add("an all-zero masking key is accepted", async (t) => {
  const ws = await t.open();
  const payload = utf8("zero key");
  await ws.send({ opcode: OPCODE.Text, payload, maskKey: new Uint8Array(4) });
  await expectMessage(t, ws, OPCODE.Text, payload);
  await closeNormally(t, ws);
});

export { cases };
