import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OPCODE } from "../../src/websocket/constants.ts";
import {
  closeReasonBytes,
  encodeBinary,
  encodeClose,
  encodeFrame,
  encodePing,
  encodePong,
  encodeText,
} from "../../src/websocket/frame_encoder.ts";
import { hex, randomBytes, toHex } from "./frames.ts";

describe("frame encoder §5.2 server frames", () => {
  it("encodeText produces the RFC 6455 §5.7 unmasked 'Hello' frame", () => {
    assert.equal(toHex(encodeText("Hello")), "810548656c6c6f");
  });

  it("encodeText encodes non-ASCII text with its UTF-8 byte length", () => {
    assert.equal(toHex(encodeText("é€")), "8105c3a9e282ac");
    const long = "€".repeat(100); // 300 bytes: the 16-bit length form
    const frame = encodeText(long);
    assert.equal(toHex(frame.subarray(0, 4)), "817e012c");
    assert.equal(new TextDecoder().decode(frame.subarray(4)), long);
  });

  it("encodeBinary uses the 7-, 16- and 64-bit length forms at their boundaries", () => {
    assert.equal(toHex(encodeBinary(new Uint8Array(125)).subarray(0, 2)), "827d");
    assert.equal(toHex(encodeBinary(new Uint8Array(126)).subarray(0, 4)), "827e007e");
    assert.equal(toHex(encodeBinary(new Uint8Array(65535)).subarray(0, 4)), "827effff");
    assert.equal(toHex(encodeBinary(new Uint8Array(65536)).subarray(0, 10)), "827f0000000000010000");
  });

  it("encodeFrame puts header and payload in one exactly sized buffer", () => {
    const payload = randomBytes(70000, 3);
    const frame = encodeFrame(OPCODE.Binary, payload);
    assert.equal(frame.length, 10 + payload.length);
    assert.equal(frame.byteLength, frame.buffer.byteLength);
    assert.deepEqual(frame.subarray(10), payload);
  });

  it("encodeFrame clears FIN for a non-final fragment", () => {
    assert.equal(toHex(encodeFrame(OPCODE.Text, hex("61"), false)), "010161");
  });

  it("encodeFrame refuses an oversized or fragmented control frame", () => {
    assert.throws(() => encodeFrame(OPCODE.Ping, new Uint8Array(126)), RangeError);
    assert.throws(() => encodeFrame(OPCODE.Ping, new Uint8Array(0), false), RangeError);
  });

  it("encodePing and encodePong carry the given payload", () => {
    assert.equal(toHex(encodePing()), "8900");
    assert.equal(toHex(encodePong(hex("010203"))), "8a03010203");
  });

  it("encodeClose writes the code big-endian followed by the reason", () => {
    assert.equal(toHex(encodeClose(1000, "bye")), "880503e8627965");
    assert.equal(toHex(encodeClose(4000)), "88020fa0");
    assert.equal(toHex(encodeClose()), "8800");
  });

  it("encodeClose refuses codes that must not be sent", () => {
    for (const code of [0, 999, 1004, 1006, 1015, 2999, 5000]) {
      assert.throws(() => encodeClose(code), RangeError, `code ${code}`);
    }
  });

  it("closeReasonBytes cuts a long reason at a character boundary within 123 bytes", () => {
    const bytes = closeReasonBytes("a" + "€".repeat(60)); // 181 bytes
    assert.equal(bytes.length, 121); // "a" + 40 × 3 bytes: the 41st "€" would pass 123
    assert.equal(new TextDecoder("utf-8", { fatal: true }).decode(bytes), "a" + "€".repeat(40));
    assert.equal(encodeClose(1000, "x".repeat(200)).length, 2 + 125);
  });
});
