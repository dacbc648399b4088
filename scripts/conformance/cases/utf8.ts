/**
 * UTF-8 (Autobahn 6.x, RFC 6455 §5.6, §8.1, RFC 3629): valid text is echoed, invalid text fails the
 * connection with 1007, as early as the invalid bytes arrive (fail fast), also inside fragmented messages and
 * close reasons.
 * @module
 */
import { caseList } from "../case.ts";
import {
  applyMask,
  closePayload,
  concatBytes,
  encodeFrame,
  encodeHeader,
  OPCODE,
  randomMaskKey,
} from "../frame.ts";
import { closeNormally, echoRoundTrip, expectFailFast, expectFailure, expectMessage } from "../expect.ts";
import { hex, utf8 } from "../payloads.ts";

const { cases, add } = caseList("utf8");

/** "κόσμε" (Autobahn's sample text). */
const KOSME = hex("ce ba e1 bd b9 cf 83 ce bc ce b5");

const VALID: { label: string; bytes: Uint8Array }[] = [
  { label: "ASCII with Latin-1 letters", bytes: utf8("Hello-µ@ßöäüàá-UTF-8!!") },
  { label: "Greek κόσμε", bytes: KOSME },
  { label: "U+0000", bytes: hex("00") },
  { label: "U+007F and U+0080 (1/2-byte boundary)", bytes: hex("7f c2 80") },
  { label: "U+07FF and U+0800 (2/3-byte boundary)", bytes: hex("df bf e0 a0 80") },
  { label: "U+D7FF and U+E000 (around the surrogates)", bytes: hex("ed 9f bf ee 80 80") },
  { label: "U+FFFD, U+FFFE and U+FFFF (noncharacters are valid)", bytes: hex("ef bf bd ef bf be ef bf bf") },
  { label: "U+10000 (3/4-byte boundary)", bytes: hex("f0 90 80 80") },
  { label: "U+10FFFF (the last code point)", bytes: hex("f4 8f bf bf") },
  { label: "emoji and CJK", bytes: utf8("😀👍🏽 漢字 ∑") },
];

const INVALID: { label: string; bytes: Uint8Array }[] = [
  { label: "a lone continuation byte 0x80", bytes: hex("80") },
  { label: "a lone continuation byte 0xBF after ASCII", bytes: hex("41 bf") },
  { label: "a 2-byte lead without continuation at the end", bytes: hex("41 c2") },
  { label: "a 2-byte lead followed by ASCII", bytes: hex("c2 41") },
  { label: "a truncated 3-byte sequence", bytes: hex("e0 a0") },
  { label: "a truncated 4-byte sequence", bytes: hex("f0 90 80") },
  { label: "overlong NUL C0 80", bytes: hex("c0 80") },
  { label: "overlong slash C0 AF", bytes: hex("c0 af") },
  { label: "overlong C1 BF", bytes: hex("c1 bf") },
  { label: "overlong 3-byte E0 80 80", bytes: hex("e0 80 80") },
  { label: "overlong 3-byte E0 9F BF", bytes: hex("e0 9f bf") },
  { label: "overlong 4-byte F0 80 80 80", bytes: hex("f0 80 80 80") },
  { label: "overlong 4-byte F0 8F BF BF", bytes: hex("f0 8f bf bf") },
  { label: "surrogate U+D800", bytes: hex("ed a0 80") },
  { label: "surrogate U+DBFF", bytes: hex("ed af bf") },
  { label: "surrogate U+DFFF", bytes: hex("ed bf bf") },
  { label: "a surrogate pair encoded as two 3-byte sequences", bytes: hex("ed a0 80 ed b0 80") },
  { label: "U+110000 (above U+10FFFF) F4 90 80 80", bytes: hex("f4 90 80 80") },
  { label: "lead byte F5", bytes: hex("f5 80 80 80") },
  { label: "lead byte F7 BF BF BF", bytes: hex("f7 bf bf bf") },
  { label: "a 5-byte sequence", bytes: hex("f8 88 80 80 80") },
  { label: "a 6-byte sequence", bytes: hex("fc 84 80 80 80 80") },
  { label: "byte 0xFE", bytes: hex("fe") },
  { label: "byte 0xFF", bytes: hex("ff") },
  { label: "a surrogate after valid κόσμε", bytes: concatBytes([KOSME, hex("ed a0 80"), utf8("edited")]) },
];

for (const { label, bytes } of VALID) {
  add(`valid text (${label}) is echoed`, async (t) => {
    const ws = await t.open();
    await echoRoundTrip(t, ws, OPCODE.Text, bytes);
    await closeNormally(t, ws);
  });
}

for (const { label, bytes } of INVALID) {
  add(`a text message with ${label} fails with 1007`, async (t) => {
    const ws = await t.open();
    await ws.send({ opcode: OPCODE.Text, payload: bytes });
    await expectFailure(t, ws, 1007);
  });
}

add("invalid UTF-8 is fine in a binary message", async (t) => {
  const ws = await t.open();
  await echoRoundTrip(t, ws, OPCODE.Binary, hex("ed a0 80 c0 80 ff fe"));
  await closeNormally(t, ws);
});

const SPLIT: { label: string; parts: Uint8Array[] }[] = [
  { label: "a 2-byte code point split across 2 fragments", parts: [hex("ce"), hex("ba")] },
  { label: "a 3-byte code point split across 2 fragments", parts: [utf8("€ = "), hex("e2 82"), hex("ac")] },
  {
    label: "a 4-byte code point split across 4 fragments",
    parts: [hex("f0"), hex("9f"), hex("98"), hex("80")],
  },
  { label: "κόσμε in one-byte fragments", parts: Array.from(KOSME, (b) => new Uint8Array([b])) },
];

for (const { label, parts } of SPLIT) {
  add(`${label} is accepted and echoed`, async (t) => {
    const ws = await t.open();
    await ws.write(
      concatBytes(parts.map((payload, i) =>
        encodeFrame({
          opcode: i === 0 ? OPCODE.Text : OPCODE.Continuation,
          fin: i === parts.length - 1,
          payload,
        })
      )),
    );
    await expectMessage(t, ws, OPCODE.Text, concatBytes(parts));
    await closeNormally(t, ws);
  });
}

add("a code point left incomplete by the final fragment fails with 1007", async (t) => {
  const ws = await t.open();
  await ws.write(concatBytes([
    encodeFrame({ opcode: OPCODE.Text, fin: false, payload: concatBytes([KOSME, hex("e2 82")]) }),
    encodeFrame({ opcode: OPCODE.Continuation, payload: new Uint8Array(0) }),
  ]));
  await expectFailure(t, ws, 1007);
});

const FAIL_FAST_FRAGMENTS: { label: string; bytes: Uint8Array }[] = [
  { label: "a surrogate", bytes: concatBytes([KOSME, hex("ed a0 80"), utf8("more")]) },
  { label: "an overlong sequence", bytes: concatBytes([utf8("text "), hex("c0 80"), utf8("more")]) },
  { label: "a code point above U+10FFFF", bytes: concatBytes([utf8("text "), hex("f4 90 80 80")]) },
];

for (const { label, bytes } of FAIL_FAST_FRAGMENTS) {
  add(`${label} in the first fragment fails with 1007 before the final fragment is sent`, async (t) => {
    const ws = await t.open();
    await ws.send({ opcode: OPCODE.Text, fin: false, payload: bytes });
    const rest = encodeFrame({ opcode: OPCODE.Continuation, payload: utf8(" end") });
    await expectFailFast(t, ws, 1007, rest, "the final fragment was sent");
  });
}

add("invalid UTF-8 in the middle of a frame fails with 1007 before the frame's end is sent", async (t) => {
  const ws = await t.open();
  const payload = concatBytes([KOSME, hex("f4 90 80 80"), utf8("x".repeat(200))]);
  const key = randomMaskKey();
  const frame = concatBytes([
    encodeHeader({ opcode: OPCODE.Text }, payload.length, key),
    applyMask(payload, key),
  ]);
  const cut = frame.length - 150;
  await ws.write(frame.subarray(0, cut));
  await expectFailFast(t, ws, 1007, frame.subarray(cut), "the whole frame was sent");
});

add("a close reason that is not UTF-8 fails with 1007", async (t) => {
  const ws = await t.open();
  await ws.send({
    opcode: OPCODE.Close,
    payload: closePayload(1000, concatBytes([KOSME, hex("ed a0 80"), utf8("edited")])),
  });
  await expectFailure(t, ws, 1007);
});

add("a close reason with valid multi-byte UTF-8 is accepted", async (t) => {
  const ws = await t.open();
  await closeNormally(t, ws, 1000, KOSME);
});

export { cases };
