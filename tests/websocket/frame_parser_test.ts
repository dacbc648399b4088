import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OPCODE } from "../../src/websocket/constants.ts";
import { clientFrame, concat, hex, parse, randomBytes, record, toHex } from "./frames.ts";

const T = OPCODE.Text;
const B = OPCODE.Binary;
const C = OPCODE.Continuation;

describe("FrameParser §5.1–5.3 masking", () => {
  it("FrameParser decodes the RFC 6455 §5.7 masked 'Hello' frame", () => {
    assert.deepEqual(parse(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")), [["text", "Hello"]]);
  });

  it("FrameParser rejects an unmasked client frame with 1002", () => {
    assert.deepEqual(parse(hex("81 05 48 65 6c 6c 6f")), [["error", 1002, "unmaskedFrame"]]);
  });

  it("FrameParser unmasks long payloads for any split and any mask", () => {
    for (const [length, seed] of [[33, 1], [1000, 2], [4099, 3]]) {
      const payload = randomBytes(length, seed);
      const frame = clientFrame(B, payload, { mask: randomBytes(4, seed + 100) });
      assert.deepEqual(parse(frame), [["binary", toHex(payload)]]);
    }
  });

  it("FrameParser keeps parsing frames that follow each other in one chunk", () => {
    const bytes = concat(clientFrame(T, "a"), clientFrame(B, hex("0102")), clientFrame(T, ""));
    assert.deepEqual(parse(bytes), [["text", "a"], ["binary", "0102"], ["text", ""]]);
  });
});

describe("FrameParser §5.2 base framing", () => {
  for (const [rsv, name] of [[4, "RSV1"], [2, "RSV2"], [1, "RSV3"]] as const) {
    it(`FrameParser rejects ${name} set with 1002`, () => {
      assert.deepEqual(parse(clientFrame(T, "x", { rsv })), [["error", 1002, "reservedBits"]]);
    });
  }

  it("FrameParser rejects every reserved opcode with 1002", () => {
    for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      assert.deepEqual(
        parse(clientFrame(opcode, "")),
        [["error", 1002, "reservedOpcode"]],
        `opcode ${opcode}`,
      );
    }
  });

  it("FrameParser reads 16-bit and 64-bit payload lengths", () => {
    const medium = randomBytes(300, 7);
    const large = randomBytes(70_000, 8);
    assert.deepEqual(parse(clientFrame(B, medium)), [["binary", toHex(medium)]]);
    assert.deepEqual(record([clientFrame(B, large)]), [["binary", toHex(large)]]);
  });

  it("FrameParser accepts non-minimal length encodings", () => {
    assert.deepEqual(parse(clientFrame(T, "hi", { lengthForm: 16 })), [["text", "hi"]]);
    assert.deepEqual(parse(clientFrame(T, "hi", { lengthForm: 64 })), [["text", "hi"]]);
  });

  it("FrameParser rejects a 64-bit length with the most significant bit set with 1002", () => {
    assert.deepEqual(parse(hex("82 ff 80 00 00 00 00 00 00 01 37 fa 21 3d")), [[
      "error",
      1002,
      "lengthTooLarge",
    ]]);
  });

  it("FrameParser refuses a frame over maxMessageBytes with 1009 on its header alone", () => {
    // Only the header is fed: the refusal cannot depend on buffering the payload.
    assert.deepEqual(parse(hex("82 ff 00 00 00 01 00 00 00 00")), [["error", 1009, "messageTooBig"]]);
    assert.deepEqual(parse(hex("82 fe 00 0b"), { maxMessageBytes: 10 }), [["error", 1009, "messageTooBig"]]);
  });

  it("FrameParser accepts a message of exactly maxMessageBytes", () => {
    assert.deepEqual(parse(clientFrame(T, "0123456789"), { maxMessageBytes: 10 }), [["text", "0123456789"]]);
  });

  it("FrameParser ignores everything after an error", () => {
    const bytes = concat(clientFrame(T, "x", { mask: null }), clientFrame(T, "after"));
    assert.deepEqual(parse(bytes), [["error", 1002, "unmaskedFrame"]]);
  });
});

describe("FrameParser §5.4 fragmentation", () => {
  it("FrameParser joins a fragmented text message", () => {
    const bytes = concat(clientFrame(T, "Hel", { fin: false }), clientFrame(C, "lo"));
    assert.deepEqual(parse(bytes), [["text", "Hello"]]);
  });

  it("FrameParser joins a fragmented binary message with empty fragments", () => {
    const bytes = concat(
      clientFrame(B, hex("01"), { fin: false }),
      clientFrame(C, "", { fin: false }),
      clientFrame(C, hex("0203")),
    );
    assert.deepEqual(parse(bytes), [["binary", "010203"]]);
  });

  it("FrameParser rejects a continuation without a started message with 1002", () => {
    assert.deepEqual(parse(clientFrame(C, "x")), [["error", 1002, "unexpectedContinuation"]]);
  });

  it("FrameParser rejects a new text or binary frame inside a fragmented message with 1002", () => {
    for (const opcode of [T, B]) {
      const bytes = concat(clientFrame(T, "a", { fin: false }), clientFrame(opcode, "b"));
      assert.deepEqual(parse(bytes), [["error", 1002, "interleavedMessage"]]);
    }
  });

  it("FrameParser delivers control frames between fragments at once", () => {
    const bytes = concat(
      clientFrame(T, "a", { fin: false }),
      clientFrame(OPCODE.Ping, "p1"),
      clientFrame(C, "b", { fin: false }),
      clientFrame(OPCODE.Pong, "p2"),
      clientFrame(C, "c"),
    );
    assert.deepEqual(parse(bytes), [["ping", "7031"], ["pong", "7032"], ["text", "abc"]]);
  });

  it("FrameParser counts empty continuations against maxFragments and closes with 1009", () => {
    const frames = (count: number) =>
      concat(
        clientFrame(T, "a", { fin: false }),
        ...Array.from({ length: count - 2 }, () => clientFrame(C, "", { fin: false })),
        clientFrame(C, ""),
      );
    assert.deepEqual(parse(frames(4), { maxFragments: 4 }), [["text", "a"]]);
    assert.deepEqual(parse(frames(5), { maxFragments: 4 }), [["error", 1009, "tooManyFragments"]]);
  });

  it("FrameParser sums fragment lengths against maxMessageBytes", () => {
    const bytes = concat(
      clientFrame(B, randomBytes(6, 1), { fin: false }),
      clientFrame(C, randomBytes(6, 2)),
    );
    assert.deepEqual(parse(bytes, { maxMessageBytes: 10 }), [["error", 1009, "messageTooBig"]]);
  });

  it("FrameParser holds no more than maxPendingBytes for an unfinished message", () => {
    const bytes = concat(
      clientFrame(B, randomBytes(6, 1), { fin: false }),
      clientFrame(C, randomBytes(6, 2)),
    );
    assert.deepEqual(parse(bytes, { maxPendingBytes: 8 }), [["error", 1009, "messageTooBig"]]);
  });

  it("FrameParser starts a new message cleanly after a fragmented one", () => {
    const bytes = concat(clientFrame(T, "a", { fin: false }), clientFrame(C, "b"), clientFrame(B, hex("ff")));
    assert.deepEqual(parse(bytes, { maxFragments: 2, maxMessageBytes: 2 }), [["text", "ab"], [
      "binary",
      "ff",
    ]]);
  });
});

describe("FrameParser §5.5 control frames", () => {
  it("FrameParser reports pings and pongs with their payload", () => {
    const payload = randomBytes(125, 5);
    const bytes = concat(clientFrame(OPCODE.Ping, payload), clientFrame(OPCODE.Pong, ""));
    assert.deepEqual(parse(bytes), [["ping", toHex(payload)], ["pong", ""]]);
  });

  it("FrameParser rejects a control frame with a payload over 125 bytes with 1002", () => {
    assert.deepEqual(parse(clientFrame(OPCODE.Ping, randomBytes(126, 1))), [[
      "error",
      1002,
      "controlTooLong",
    ]]);
    assert.deepEqual(parse(clientFrame(OPCODE.Close, hex("03e8"), { lengthForm: 16 })), [
      ["error", 1002, "controlTooLong"],
    ]);
  });

  it("FrameParser rejects a fragmented control frame with 1002", () => {
    for (const opcode of [OPCODE.Ping, OPCODE.Pong, OPCODE.Close]) {
      assert.deepEqual(parse(clientFrame(opcode, "", { fin: false })), [[
        "error",
        1002,
        "fragmentedControl",
      ]]);
    }
  });
});

describe("FrameParser §5.5.1 and §7.4 close frames", () => {
  it("FrameParser reports a Close frame's code and reason and stops reading", () => {
    const bytes = concat(
      clientFrame(OPCODE.Close, concat(hex("03e8"), hex("627965"))),
      clientFrame(T, "late"),
    );
    assert.deepEqual(parse(bytes), [["close", 1000, "bye"]]);
  });

  it("FrameParser reports an empty Close frame as 1005", () => {
    assert.deepEqual(parse(clientFrame(OPCODE.Close, "")), [["close", 1005, ""]]);
  });

  it("FrameParser rejects a one-byte Close payload with 1002", () => {
    assert.deepEqual(parse(clientFrame(OPCODE.Close, hex("03"))), [["error", 1002, "closePayloadOneByte"]]);
  });

  it("FrameParser accepts every sendable close code", () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
      const payload = new Uint8Array([code >> 8, code & 0xff]);
      assert.deepEqual(parse(clientFrame(OPCODE.Close, payload)), [["close", code, ""]], `code ${code}`);
    }
  });

  it("FrameParser rejects reserved and out-of-range close codes with 1002", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
      const payload = new Uint8Array([code >> 8, code & 0xff]);
      assert.deepEqual(
        parse(clientFrame(OPCODE.Close, payload)),
        [["error", 1002, "invalidCloseCode"]],
        `code ${code}`,
      );
    }
  });

  it("FrameParser rejects a close reason that is not UTF-8 with 1007", () => {
    assert.deepEqual(parse(clientFrame(OPCODE.Close, hex("03e8 ed a0 80"))), [[
      "error",
      1007,
      "invalidCloseReason",
    ]]);
  });
});

describe("FrameParser §8.1 UTF-8 in text messages", () => {
  it("FrameParser decodes multi-byte text and keeps a leading BOM", () => {
    assert.deepEqual(parse(clientFrame(T, "héllo €𝄞")), [["text", "héllo €𝄞"]]);
    assert.deepEqual(parse(clientFrame(T, hex("ef bb bf 41"))), [["text", "\ufeffA"]]);
  });

  it("FrameParser accepts code points split across fragments", () => {
    // "€" = E2 82 AC and "𝄞" = F0 9D 84 9E, cut inside each code point.
    const bytes = concat(
      clientFrame(T, hex("41 e2"), { fin: false }),
      clientFrame(C, hex("82"), { fin: false }),
      clientFrame(C, hex("ac f0 9d"), { fin: false }),
      clientFrame(C, hex("84 9e")),
    );
    assert.deepEqual(parse(bytes), [["text", "A€𝄞"]]);
  });

  const invalid: [string, string][] = [
    ["a stray continuation byte", "41 80"],
    ["an overlong 2-byte form", "c0 af"],
    ["an overlong 3-byte form", "e0 80 af"],
    ["an overlong 4-byte form", "f0 80 80 af"],
    ["a UTF-16 surrogate", "ed a0 80"],
    ["a code point above U+10FFFF", "f4 90 80 80"],
    ["the byte F5", "f5 80 80 80"],
  ];
  for (const [name, bytes] of invalid) {
    it(`FrameParser rejects ${name} with 1007 before the final fragment arrives`, () => {
      // Only a non-final fragment is fed: the error must come without the rest of the message.
      assert.deepEqual(parse(clientFrame(T, hex(bytes), { fin: false })), [["error", 1007, "invalidUtf8"]]);
      assert.deepEqual(parse(clientFrame(T, hex(bytes))), [["error", 1007, "invalidUtf8"]]);
    });
  }

  it("FrameParser fails fast inside a frame whose rest has not arrived", () => {
    const frame = clientFrame(T, concat(hex("41 ed a0"), randomBytes(50, 1)));
    // Header (6 bytes) + "41 ED A0": the surrogate is certain at A0, long before the frame ends.
    assert.deepEqual(record([frame.subarray(0, 9)]), [["error", 1007, "invalidUtf8"]]);
  });

  it("FrameParser rejects a text message that ends inside a code point with 1007", () => {
    assert.deepEqual(parse(clientFrame(T, hex("41 e2 82"))), [["error", 1007, "invalidUtf8"]]);
    const fragmented = concat(clientFrame(T, hex("41 e2"), { fin: false }), clientFrame(C, hex("82")));
    assert.deepEqual(parse(fragmented), [["error", 1007, "invalidUtf8"]]);
  });

  it("FrameParser does not check binary messages for UTF-8", () => {
    assert.deepEqual(parse(clientFrame(B, hex("ed a0 80 ff"))), [["binary", "eda080ff"]]);
  });
});
