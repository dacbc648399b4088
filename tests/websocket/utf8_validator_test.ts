import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeUtf8,
  isValidUtf8,
  UTF8_ACCEPT,
  UTF8_REJECT,
  utf8Step,
} from "../../src/websocket/utf8_validator.ts";
import { hex, prng } from "./frames.ts";

/** An independent oracle: the WHATWG decoder in fatal mode rejects exactly the RFC 3629 invalid inputs. */
const oracle = new TextDecoder("utf-8", { fatal: true });
function oracleValid(bytes: Uint8Array): boolean {
  try {
    oracle.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Index of the first byte at which the validator rejects, or -1. */
function rejectAt(bytes: Uint8Array): number {
  let state = UTF8_ACCEPT;
  for (let i = 0; i < bytes.length; i++) {
    state = utf8Step(state, bytes.subarray(i, i + 1));
    if (state === UTF8_REJECT) return i;
  }
  return -1;
}

describe("utf8 validator", () => {
  it("utf8Step accepts ASCII, 2-, 3- and 4-byte code points at their boundaries", () => {
    for (const text of ["", "plain ascii", "é", "€", "𝄞", "\u{10ffff}", "\ud7ff\ue000", "mixed é€𝄞 text"]) {
      assert.equal(isValidUtf8(new TextEncoder().encode(text)), true, JSON.stringify(text));
    }
  });

  it("utf8Step accepts a code point split at every position", () => {
    const bytes = new TextEncoder().encode("a€𝄞é");
    for (let cut = 0; cut <= bytes.length; cut++) {
      const state = utf8Step(utf8Step(UTF8_ACCEPT, bytes.subarray(0, cut)), bytes.subarray(cut));
      assert.equal(state, UTF8_ACCEPT, `cut at ${cut}`);
    }
  });

  it("utf8Step reports an open code point as neither accepted nor rejected", () => {
    const state = utf8Step(UTF8_ACCEPT, hex("f0 9d 84"));
    assert.notEqual(state, UTF8_ACCEPT);
    assert.notEqual(state, UTF8_REJECT);
  });

  const failFast: [string, string, number][] = [
    ["stray continuation", "41 80", 1],
    ["overlong C0", "c0 af", 0],
    ["overlong C1", "c1 bf", 0],
    ["overlong E0 80", "e0 80 af", 1],
    ["overlong F0 80", "f0 80 80 af", 1],
    ["surrogate ED A0", "ed a0 80", 1],
    ["surrogate ED BF", "ed bf bf", 1],
    ["above U+10FFFF via F4 90", "f4 90 80 80", 1],
    ["F5 lead byte", "f5 80 80 80", 0],
    ["FF byte", "ff", 0],
    ["lead byte where a continuation is due", "e2 41", 1],
  ];
  for (const [name, bytes, at] of failFast) {
    it(`utf8Step rejects ${name} at the first impossible byte`, () => {
      assert.equal(rejectAt(hex(bytes)), at);
    });
  }

  it("utf8Step agrees with the WHATWG decoder on random byte strings", () => {
    const next = prng(2024);
    // Bias towards the interesting lead and continuation bytes so invalid and valid inputs both occur.
    const alphabet = [
      0x41,
      0x7f,
      0x80,
      0x8f,
      0x90,
      0x9f,
      0xa0,
      0xbf,
      0xc0,
      0xc2,
      0xdf,
      0xe0,
      0xe1,
      0xed,
      0xee,
      0xf0,
      0xf4,
      0xf5,
    ];
    let valid = 0;
    for (let n = 0; n < 20000; n++) {
      const bytes = Uint8Array.from(
        { length: 1 + Math.floor(next() * 6) },
        () => alphabet[Math.floor(next() * alphabet.length)],
      );
      const expected = oracleValid(bytes);
      if (expected) valid++;
      assert.equal(isValidUtf8(bytes), expected, bytes.toHex());
    }
    assert.ok(valid > 100, "the sample should contain valid sequences too");
  });

  it("utf8Step never rejects a prefix of valid UTF-8", () => {
    const next = prng(7);
    for (let n = 0; n < 2000; n++) {
      const text = String.fromCodePoint(...Array.from({ length: 4 }, () => {
        const cp = Math.floor(next() * 0x110000);
        return cp >= 0xd800 && cp <= 0xdfff ? 0x41 : cp;
      }));
      const bytes = new TextEncoder().encode(text);
      assert.equal(rejectAt(bytes), -1, bytes.toHex());
      assert.equal(isValidUtf8(bytes), true);
    }
  });

  it("decodeUtf8 returns text for valid input, null for invalid, and keeps a BOM", () => {
    assert.equal(decodeUtf8(hex("ef bb bf 68 69")), "\ufeffhi");
    assert.equal(decodeUtf8(hex("ed a0 80")), null);
    assert.equal(decodeUtf8(hex("e2 82")), null);
  });
});
