import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { constants, deflateRawSync } from "node:zlib";
import { OPCODE } from "../../src/websocket/constants.ts";
import { clientFrame, concat, parse, randomBytes, toHex } from "./frames.ts";

const T = OPCODE.Text;
const B = OPCODE.Binary;
const C = OPCODE.Continuation;
const RSV1 = 4;

/** A message payload compressed as a client sends it (RFC 7692 §7.2.1). */
function deflated(payload: Uint8Array | string): Uint8Array {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const out = deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** Parsed on a connection that negotiated permessage-deflate, fed whole, byte by byte and in random splits. */
function parseDeflate(bytes: Uint8Array, maxMessageBytes = 1 << 20) {
  return parse(bytes, { maxMessageBytes, maxPendingBytes: maxMessageBytes }, true);
}

describe("FrameParser with permessage-deflate (RFC 7692 §6)", () => {
  it("inflates a compressed text and binary message", () => {
    const binary = randomBytes(300, 7);
    assert.deepEqual(
      parseDeflate(concat(
        clientFrame(T, deflated("Hello, compressed world"), { rsv: RSV1 }),
        clientFrame(B, deflated(binary), { rsv: RSV1 }),
      )),
      [["text", "Hello, compressed world"], ["binary", toHex(binary)]],
    );
  });

  it("takes plain messages between compressed ones", () => {
    assert.deepEqual(
      parseDeflate(concat(
        clientFrame(T, deflated("one"), { rsv: RSV1 }),
        clientFrame(T, "two"),
        clientFrame(T, deflated("three"), { rsv: RSV1 }),
      )),
      [["text", "one"], ["text", "two"], ["text", "three"]],
    );
  });

  it("inflates a compressed message fragmented at any byte, with a ping in between", () => {
    const whole = deflated("fragmented ".repeat(50));
    const a = whole.subarray(0, 5);
    const b = whole.subarray(5, 9);
    const c = whole.subarray(9);
    assert.deepEqual(
      parseDeflate(concat(
        clientFrame(T, a, { rsv: RSV1, fin: false }),
        clientFrame(C, b, { fin: false }),
        clientFrame(OPCODE.Ping, "p"),
        clientFrame(C, c),
      )),
      [["ping", "70"], ["text", "fragmented ".repeat(50)]],
    );
  });

  it("inflates the empty compressed message (a single 00 byte, §7.2.3.6) and an empty payload", () => {
    assert.deepEqual(
      parseDeflate(
        concat(clientFrame(T, new Uint8Array([0]), { rsv: RSV1 }), clientFrame(B, "", { rsv: RSV1 })),
      ),
      [["text", ""], ["binary", ""]],
    );
  });

  it("accepts a message compressed with a BFINAL block (§7.2.3.4)", () => {
    const final = deflateRawSync(new TextEncoder().encode("final block"));
    assert.deepEqual(parseDeflate(clientFrame(T, final, { rsv: RSV1 })), [["text", "final block"]]);
  });

  it("rejects RSV1 on a continuation frame with 1002", () => {
    const whole = deflated("abc");
    assert.deepEqual(
      parseDeflate(concat(
        clientFrame(T, whole.subarray(0, 2), { rsv: RSV1, fin: false }),
        clientFrame(C, whole.subarray(2), { rsv: RSV1 }),
      )),
      [["error", 1002, "compressedContinuation"]],
    );
  });

  it("rejects RSV1 on a control frame with 1002", () => {
    assert.deepEqual(parseDeflate(clientFrame(OPCODE.Ping, "x", { rsv: RSV1 })), [[
      "error",
      1002,
      "compressedControl",
    ]]);
  });

  it("still rejects RSV2 and RSV3 with 1002", () => {
    assert.deepEqual(parseDeflate(clientFrame(T, "x", { rsv: 2 })), [["error", 1002, "reservedBits"]]);
    assert.deepEqual(parseDeflate(clientFrame(T, "x", { rsv: RSV1 | 1 })), [["error", 1002, "reservedBits"]]);
  });

  it("rejects RSV1 with 1002 when permessage-deflate was not negotiated", () => {
    assert.deepEqual(parse(clientFrame(T, deflated("abc"), { rsv: RSV1 })), [[
      "error",
      1002,
      "reservedBits",
    ]]);
  });

  it("closes 1009 when the inflated message passes maxMessageBytes, though its wire size fits", () => {
    const bomb = deflated(new Uint8Array(200_000));
    assert.ok(bomb.length < 1000);
    assert.deepEqual(parseDeflate(clientFrame(B, bomb, { rsv: RSV1 }), 100_000), [[
      "error",
      1009,
      "inflatedTooBig",
    ]]);
    // Exactly at the limit is fine.
    assert.equal(
      parseDeflate(clientFrame(B, deflated(new Uint8Array(100_000)), { rsv: RSV1 }), 100_000).length,
      1,
    );
  });

  it("closes 1009 on the header when the compressed bytes pass the wire limit", () => {
    const big = deflated(randomBytes(3000, 1));
    assert.deepEqual(parseDeflate(clientFrame(B, big, { rsv: RSV1 }), 2000), [[
      "error",
      1009,
      "messageTooBig",
    ]]);
  });

  it("closes 1007 for corrupt compressed data and for invalid UTF-8 once inflated", () => {
    assert.deepEqual(parseDeflate(clientFrame(T, new Uint8Array([0xff, 0xfe, 0xfd]), { rsv: RSV1 })), [[
      "error",
      1007,
      "corruptDeflate",
    ]]);
    assert.deepEqual(
      parseDeflate(clientFrame(T, deflated(new Uint8Array([0x61, 0xc3, 0x28])), { rsv: RSV1 })),
      [[
        "error",
        1007,
        "invalidUtf8",
      ]],
    );
  });
});
