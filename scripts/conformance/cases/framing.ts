/**
 * Framing (Autobahn 1.x): messages at every payload-length boundary of RFC 6455 §5.2 (7-bit, 16-bit and
 * 64-bit lengths), sent whole, byte by byte and in chunks, all echoed byte-exact.
 * @module
 */
import { caseList, DATA_KINDS, LARGE_CASE_TIMEOUT_MS, sizeLabel } from "../case.ts";
import { concatBytes, encodeFrame, OPCODE } from "../frame.ts";
import { closeNormally, echoRoundTrip, expectMessage } from "../expect.ts";
import { textPayload } from "../payloads.ts";

const { cases, add } = caseList("framing");

const WHOLE_SIZES = [0, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20];
const BYTE_BY_BYTE_SIZES = [0, 125, 126, 127];
const CHUNKED = [{ size: 65536, chunk: 997 }, { size: 1 << 20, chunk: 65536 }];

function timeoutFor(size: number): number | undefined {
  return size >= 16 << 20 ? LARGE_CASE_TIMEOUT_MS : undefined;
}

for (const kind of DATA_KINDS) {
  for (const size of WHOLE_SIZES) {
    add(`${kind.name} message of ${sizeLabel(size)} sent whole is echoed`, async (t) => {
      const ws = await t.open();
      await echoRoundTrip(t, ws, kind.opcode, kind.payload(size));
      await closeNormally(t, ws);
    }, timeoutFor(size));
  }
  for (const size of BYTE_BY_BYTE_SIZES) {
    add(`${kind.name} message of ${sizeLabel(size)} sent byte by byte is echoed`, async (t) => {
      const ws = await t.open();
      const payload = kind.payload(size);
      await ws.socket.writeChunked(encodeFrame({ opcode: kind.opcode, payload }), 1);
      await expectMessage(t, ws, kind.opcode, payload);
      await closeNormally(t, ws);
    });
  }
  for (const { size, chunk } of CHUNKED) {
    add(`${kind.name} message of ${sizeLabel(size)} sent in ${chunk}-byte chunks is echoed`, async (t) => {
      const ws = await t.open();
      const payload = kind.payload(size);
      await ws.socket.writeChunked(encodeFrame({ opcode: kind.opcode, payload }), chunk);
      await expectMessage(t, ws, kind.opcode, payload);
      await closeNormally(t, ws);
    });
  }
}

add("100 text messages in one write are echoed in order", async (t) => {
  const ws = await t.open();
  const payloads = Array.from({ length: 100 }, (_, i) => textPayload(i * 7));
  await ws.write(concatBytes(payloads.map((payload) => encodeFrame({ opcode: OPCODE.Text, payload }))));
  for (const payload of payloads) await expectMessage(t, ws, OPCODE.Text, payload);
  await closeNormally(t, ws);
});

export { cases };
