import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFLATE_DEFAULTS,
  type DeflateOptions,
  negotiateDeflate,
} from "../../src/websocket/permessage_deflate.ts";

const BASE = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
const OPTIONS: DeflateOptions = { thresholdBytes: 1024, level: 1 };

/** The answer to `offer`, or null when it is declined. */
function answer(offer: string | null): string | null {
  return negotiateDeflate(offer, OPTIONS)?.response ?? null;
}

describe("negotiateDeflate (RFC 7692 §7.1)", () => {
  it("answers Chrome's offer without client_max_window_bits", () => {
    assert.equal(answer("permessage-deflate; client_max_window_bits"), BASE);
  });

  it("answers Firefox's bare offer with both no-context-takeover parameters", () => {
    assert.equal(answer("permessage-deflate"), BASE);
  });

  it("echoes server_max_window_bits and compresses with that window", () => {
    const agreement = negotiateDeflate("permessage-deflate; server_max_window_bits=10", OPTIONS)!;
    assert.equal(agreement.response, `${BASE}; server_max_window_bits=10`);
    assert.deepEqual(agreement.compression, { thresholdBytes: 1024, level: 1, windowBits: 10 });
  });

  it("accepts a quoted window value, as §7.1 allows", () => {
    assert.equal(
      answer('permessage-deflate; server_max_window_bits="12"'),
      `${BASE}; server_max_window_bits=12`,
    );
  });

  it("accepts server_max_window_bits=8 but never compresses on that connection", () => {
    const agreement = negotiateDeflate("permessage-deflate; server_max_window_bits=8", OPTIONS)!;
    assert.equal(agreement.response, `${BASE}; server_max_window_bits=8`);
    assert.equal(agreement.compression, null);
  });

  it("accepts the no-context-takeover parameters and client_max_window_bits with a value", () => {
    assert.equal(
      answer(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9",
      ),
      BASE,
    );
  });

  it("takes the first acceptable offer of a comma list and skips other extensions", () => {
    assert.equal(
      answer(
        "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=11, permessage-deflate",
      ),
      `${BASE}; server_max_window_bits=11`,
    );
  });

  it("reads offers split over repeated header fields (joined by commas)", () => {
    assert.equal(answer("permessage-deflate; foo, permessage-deflate; client_max_window_bits"), BASE);
  });

  for (
    const [label, offer] of [
      ["an unknown parameter", "permessage-deflate; foo"],
      ["a duplicated parameter", "permessage-deflate; client_max_window_bits; client_max_window_bits"],
      [
        "a duplicated valued parameter",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
      ],
      ["server_max_window_bits 7", "permessage-deflate; server_max_window_bits=7"],
      ["server_max_window_bits 16", "permessage-deflate; server_max_window_bits=16"],
      ["server_max_window_bits with a leading zero", "permessage-deflate; server_max_window_bits=09"],
      ["server_max_window_bits without a value", "permessage-deflate; server_max_window_bits"],
      ["client_max_window_bits 16", "permessage-deflate; client_max_window_bits=16"],
      ["client_max_window_bits of letters", 'permessage-deflate; client_max_window_bits="ab"'],
      ["a value on server_no_context_takeover", "permessage-deflate; server_no_context_takeover=1"],
      ["a value on client_no_context_takeover", 'permessage-deflate; client_no_context_takeover=""'],
      ["another extension only", "x-webkit-deflate-frame"],
      ["an empty header", ""],
    ] as const
  ) {
    it(`declines ${label} (no answer, the handshake still succeeds)`, () => {
      assert.equal(answer(offer), null);
    });
  }

  it("declines when there is no offer at all", () => {
    assert.equal(answer(null), null);
  });

  it("shares one frozen agreement per options object and window", () => {
    const a = negotiateDeflate("permessage-deflate", OPTIONS)!;
    const b = negotiateDeflate("permessage-deflate; client_max_window_bits", OPTIONS)!;
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.compression));
    assert.notEqual(negotiateDeflate("permessage-deflate; server_max_window_bits=15", OPTIONS), a);
    assert.notEqual(negotiateDeflate("permessage-deflate", DEFLATE_DEFAULTS), a);
  });

  it("parses a hostile 100 KB offer in linear time", () => {
    const started = performance.now();
    assert.equal(answer("permessage-deflate; a=1; ".repeat(4000)), null);
    assert.ok(performance.now() - started < 100);
  });
});
