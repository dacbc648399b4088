/**
 * Incremental, fail-fast UTF-8 validation (RFC 6455 §8.1 requires failing a text message as soon as its bytes
 * can no longer be valid UTF-8).
 *
 * A byte-indexed DFA built from the RFC 3629 §4 grammar: one table lookup per non-ASCII byte, a tight skip over
 * ASCII runs. It rejects overlongs (C0, C1, E0 80–9F, F0 80–8F), surrogates (ED A0–BF), code points above
 * U+10FFFF (F4 90+, F5–FF) and stray continuation bytes at the first byte that proves the input invalid, and
 * accepts a code point split across calls until the caller asks whether the input ended complete.
 * @module
 */

/** DFA state: every byte so far forms whole code points. */
export const UTF8_ACCEPT = 0;
/** DFA state: the bytes so far can never become valid UTF-8 (absorbing). */
export const UTF8_REJECT = 1;

// The other states name what the next byte must be.
const TAIL1 = 2; // one more 80–BF
const TAIL2 = 3; // two more
const TAIL3 = 4; // three more
const AFTER_E0 = 5; // A0–BF then one more (no overlong 3-byte forms)
const AFTER_ED = 6; // 80–9F then one more (no surrogates D800–DFFF)
const AFTER_F0 = 7; // 90–BF then two more (no overlong 4-byte forms)
const AFTER_F4 = 8; // 80–8F then two more (nothing above U+10FFFF)
const STATES = 9;

/** `TABLE[state << 8 | byte]` is the next state; everything not listed rejects. */
const TABLE: Uint8Array = (() => {
  const table = new Uint8Array(STATES << 8).fill(UTF8_REJECT);
  const edge = (state: number, from: number, to: number, next: number) => {
    table.fill(next, (state << 8) | from, ((state << 8) | to) + 1);
  };
  // RFC 3629 §4: UTF8-1 / UTF8-2 / UTF8-3 / UTF8-4.
  edge(UTF8_ACCEPT, 0x00, 0x7f, UTF8_ACCEPT);
  edge(UTF8_ACCEPT, 0xc2, 0xdf, TAIL1);
  edge(UTF8_ACCEPT, 0xe0, 0xe0, AFTER_E0);
  edge(UTF8_ACCEPT, 0xe1, 0xec, TAIL2);
  edge(UTF8_ACCEPT, 0xed, 0xed, AFTER_ED);
  edge(UTF8_ACCEPT, 0xee, 0xef, TAIL2);
  edge(UTF8_ACCEPT, 0xf0, 0xf0, AFTER_F0);
  edge(UTF8_ACCEPT, 0xf1, 0xf3, TAIL3);
  edge(UTF8_ACCEPT, 0xf4, 0xf4, AFTER_F4);
  edge(TAIL1, 0x80, 0xbf, UTF8_ACCEPT);
  edge(TAIL2, 0x80, 0xbf, TAIL1);
  edge(TAIL3, 0x80, 0xbf, TAIL2);
  edge(AFTER_E0, 0xa0, 0xbf, TAIL1);
  edge(AFTER_ED, 0x80, 0x9f, TAIL1);
  edge(AFTER_F0, 0x90, 0xbf, TAIL2);
  edge(AFTER_F4, 0x80, 0x8f, TAIL2);
  return table;
})();

/**
 * Advances the validator over `bytes`, starting from `state` (begin with {@link UTF8_ACCEPT}).
 * @returns the new state: {@link UTF8_REJECT} as soon as a byte proves the input invalid, {@link UTF8_ACCEPT}
 * when the bytes end on a code point boundary, any other value when a code point is still open.
 * @example
 * ```ts
 * let state = utf8Step(UTF8_ACCEPT, new Uint8Array([0xe2, 0x82])); // open, not rejected
 * state = utf8Step(state, new Uint8Array([0xac])); // "€" complete: UTF8_ACCEPT
 * ```
 */
export function utf8Step(state: number, bytes: Uint8Array): number {
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    if (state === UTF8_ACCEPT) {
      // ASCII fast path: no table lookups while bytes stay below 0x80.
      while (i < length && bytes[i] < 0x80) i++;
      if (i === length) break;
    }
    state = TABLE[(state << 8) | bytes[i++]];
    if (state === UTF8_REJECT) return UTF8_REJECT;
  }
  return state;
}

/** True when `bytes` are complete, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return utf8Step(UTF8_ACCEPT, bytes) === UTF8_ACCEPT;
}

// ignoreBOM: a leading U+FEFF is message content, not a byte order mark to strip.
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Validates and decodes complete UTF-8 in one native call, or returns `null` when it is not valid UTF-8: the
 * WHATWG decoder with `fatal` rejects exactly what RFC 3629 rejects. For a message that arrived whole this is
 * the fastest check (fail-fast matters only while a message is still arriving). Non-streaming calls keep no
 * state, so one decoder serves every connection.
 */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

/** Decodes bytes already proven valid by {@link utf8Step} (no second validation pass). */
export function decodeValidUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
