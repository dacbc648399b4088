import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { DEFLATE_TRAILER, deflateMessage, inflateMessage } from "../../src/websocket/deflate_codec.ts";
import { ProtocolError } from "../../src/websocket/errors.ts";
import { concat } from "./frames.ts";

const COMPRESSION = { thresholdBytes: 0, level: 1, windowBits: 15 };
const text = (s: string) => new TextEncoder().encode(s);

/** `payload` deflated the way a client does it: sync-flushed, trailer removed. */
function clientDeflate(payload: Uint8Array): Uint8Array {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** The error `fn` throws, as a ProtocolError. */
function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `not a ProtocolError: ${error}`);
    return error;
  }
  assert.fail("did not throw");
}

describe("deflateMessage (RFC 7692 §7.2.1)", () => {
  it("produces what zlib inflates back, without the 00 00 ff ff trailer", () => {
    const payload = text(JSON.stringify({ type: "message", text: "hello ".repeat(200) }));
    const deflated = deflateMessage(payload, COMPRESSION)!;
    assert.ok(deflated.length < payload.length / 5);
    assert.notDeepEqual([...deflated.subarray(-4)], [0, 0, 0xff, 0xff]);
    const back = inflateRawSync(concat(deflated, DEFLATE_TRAILER), { finishFlush: constants.Z_SYNC_FLUSH });
    assert.deepEqual(new Uint8Array(back), payload);
  });

  it("returns null when compression would not make the payload smaller", () => {
    const random = crypto.getRandomValues(new Uint8Array(2000));
    assert.equal(deflateMessage(random, COMPRESSION), null);
    assert.equal(deflateMessage(new Uint8Array(0), COMPRESSION), null);
  });

  it("compresses within the window it is given (9 bits: distances under 512 bytes)", () => {
    const payload = text("abcdefgh".repeat(500));
    const deflated = deflateMessage(payload, { ...COMPRESSION, windowBits: 9 })!;
    const back = inflateRawSync(concat(deflated, DEFLATE_TRAILER), {
      windowBits: 9,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    assert.deepEqual(new Uint8Array(back), payload);
  });
});

describe("inflateMessage (RFC 7692 §7.2.2)", () => {
  it("inflates a client's message, and the empty message", () => {
    const payload = text("a message ".repeat(100));
    assert.deepEqual(inflateMessage(concat(clientDeflate(payload), DEFLATE_TRAILER), 1 << 20), payload);
    assert.equal(inflateMessage(concat(new Uint8Array([0]), DEFLATE_TRAILER), 10).length, 0);
    assert.equal(inflateMessage(DEFLATE_TRAILER.slice(), 10).length, 0);
  });

  it("accepts a stream that ends with a BFINAL block (§7.2.3.4)", () => {
    const final = deflateRawSync(text("hello hello hello"));
    assert.equal(
      new TextDecoder().decode(inflateMessage(concat(final, DEFLATE_TRAILER), 100)),
      "hello hello hello",
    );
  });

  it("inflates exactly up to the cap and throws inflatedTooBig (1009) one byte past it", () => {
    const data = concat(clientDeflate(new Uint8Array(1000)), DEFLATE_TRAILER);
    assert.equal(inflateMessage(data, 1000).length, 1000);
    const error = protocolError(() => inflateMessage(data, 999));
    assert.equal(error.kind, "inflatedTooBig");
    assert.equal(error.code, 1009);
  });

  it("stops a 64 MiB bomb at a 1 MiB cap in milliseconds", () => {
    const chunk = clientDeflate(new Uint8Array(16 << 20));
    // Four copies of a sync-flushed stream are one valid stream of 64 MiB of zeros.
    const bomb = concat(
      chunk,
      DEFLATE_TRAILER,
      chunk,
      DEFLATE_TRAILER,
      chunk,
      DEFLATE_TRAILER,
      chunk,
      DEFLATE_TRAILER,
    );
    const started = performance.now();
    assert.equal(protocolError(() => inflateMessage(bomb, 1 << 20)).code, 1009);
    assert.ok(performance.now() - started < 100, `${performance.now() - started} ms`);
  });

  it("throws corruptDeflate (1007) for data that is not deflate", () => {
    const error = protocolError(() =>
      inflateMessage(concat(new Uint8Array([0xff, 0xff, 0xff, 1]), DEFLATE_TRAILER), 100)
    );
    assert.equal(error.kind, "corruptDeflate");
    assert.equal(error.code, 1007);
  });
});
