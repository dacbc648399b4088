/**
 * Opcodes (Autobahn 4.x, RFC 6455 §5.2, §11.8): reserved data opcodes 3–7 and reserved control opcodes
 * 11–15 fail the connection with 1002.
 * @module
 */
import { caseList } from "../case.ts";
import { concatBytes, encodeFrame, OPCODE } from "../frame.ts";
import { echoRoundTrip, expectFailure } from "../expect.ts";
import { utf8 } from "../payloads.ts";

const { cases, add } = caseList("opcodes");

const RESERVED = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];

for (const opcode of RESERVED) {
  add(`reserved opcode ${opcode} after a valid message fails with 1002`, async (t) => {
    const ws = await t.open();
    await echoRoundTrip(t, ws, OPCODE.Text, utf8("valid first"));
    await ws.write(concatBytes([
      encodeFrame({ opcode, payload: utf8("reserved") }),
      encodeFrame({ opcode: OPCODE.Ping, payload: utf8("late") }),
    ]));
    await expectFailure(t, ws, 1002);
  });
}

add("an empty frame with reserved opcode 3 as the first frame fails with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: 3 });
  await expectFailure(t, ws, 1002);
});

add("reserved opcode 11 between the fragments of a message fails with 1002", async (t) => {
  const ws = await t.open();
  await ws.send({ opcode: OPCODE.Text, fin: false, payload: utf8("start ") });
  await ws.send({ opcode: 11, payload: utf8("reserved") });
  await expectFailure(t, ws, 1002);
});

export { cases };
