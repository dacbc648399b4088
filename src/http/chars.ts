/**
 * Byte classes and small text helpers shared by the parser and the writer. Everything is table lookups and
 * loops over char codes: untrusted input never meets a regular expression.
 * @module
 */

/** Bytes with a meaning in HTTP/1.1 syntax. */
export const BYTE = {
  HTAB: 0x09,
  LF: 0x0a,
  CR: 0x0d,
  SP: 0x20,
  Colon: 0x3a,
  Semicolon: 0x3b,
  Comma: 0x2c,
  Slash: 0x2f,
  Asterisk: 0x2a,
  QuestionMark: 0x3f,
  Hash: 0x23,
  DEL: 0x7f,
} as const;

/** tchar (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, DIGIT, ALPHA. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** True for a token character (header names, methods). */
export function isTchar(code: number): boolean {
  return TCHAR[code] === 1;
}

/**
 * Characters accepted in a request-target: visible ASCII except `#` (a fragment is never sent, RFC 9112
 * §3.2). Controls, space, DEL and bytes ≥ 0x80 are refused; the URL parser percent-encodes the rest.
 */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) TARGET[c] = c === BYTE.Hash ? 0 : 1;

export function isTargetChar(code: number): boolean {
  return TARGET[code] === 1;
}

/**
 * Host characters we accept (RFC 3986 §3.2.2 reg-name restricted to unreserved, plus IP literals): letters,
 * digits, `-`, `.`, `_`, `~`. Sub-delims and percent-encoding are refused: no real client sends them, and each
 * one is a way to smuggle a different host through the URL parser.
 */
const HOST = new Uint8Array(256);
for (const c of "-._~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  HOST[c.charCodeAt(0)] = 1;
}

/**
 * True when `host` is `reg-name[:port]` or `[IPv6][:port]` in the strict form above (RFC 9110 §7.2).
 */
export function isValidHost(host: string): boolean {
  const length = host.length;
  if (length === 0 || length > 255 + 6) return false;
  let i = 0;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    i = 1;
    for (; i < length; i++) {
      const c = host.charCodeAt(i);
      if (c === 0x5d /* ] */) break;
      const hex = (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
      if (!hex && c !== BYTE.Colon && c !== 0x2e /* . */) return false;
    }
    if (i === length || i < 3) return false;
    i++;
  } else {
    for (; i < length; i++) {
      const c = host.charCodeAt(i);
      if (c === BYTE.Colon) break;
      if (HOST[c] !== 1) return false;
    }
    if (i === 0) return false;
  }
  if (i === length) return true;
  if (host.charCodeAt(i) !== BYTE.Colon) return false;
  // port = *DIGIT (RFC 3986 §3.2.3); we also bound it to 65535.
  const digits = length - i - 1;
  if (digits === 0) return true;
  if (digits > 5) return false;
  let port = 0;
  for (let j = i + 1; j < length; j++) {
    const c = host.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65535;
}

/** True for SP or HTAB (OWS, RFC 9110 §5.6.3). */
export function isWhitespace(code: number): boolean {
  return code === BYTE.SP || code === BYTE.HTAB;
}

/**
 * True when the comma-separated list `list` (RFC 9110 §5.6.1) holds `token`, compared case-insensitively.
 * `token` must be lowercase.
 */
export function hasToken(list: string, token: string): boolean {
  const length = list.length;
  let start = 0;
  while (start <= length) {
    let end = list.indexOf(",", start);
    if (end === -1) end = length;
    let a = start;
    let b = end;
    while (a < b && isWhitespace(list.charCodeAt(a))) a++;
    while (b > a && isWhitespace(list.charCodeAt(b - 1))) b--;
    if (b - a === token.length && list.slice(a, b).toLowerCase() === token) return true;
    start = end + 1;
  }
  return false;
}

const asciiDecoder = new TextDecoder();

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  let bits = 0;
  for (let i = start; i < end; i++) bits |= bytes[i];
  return bits < 0x80;
}

/** Largest argument count passed to `String.fromCharCode` at once (stays far below engine stack limits). */
const DECODE_CHUNK = 8192;

/**
 * Decodes bytes as ISO-8859-1, one char per byte. `TextDecoder("latin1")` is windows-1252 (0x80 → U+20AC),
 * which would corrupt obs-text and make `Headers` reject it.
 */
export function decodeLatin1(bytes: Uint8Array, start: number, end: number): string {
  // ASCII reads the same in every decoding, and the native UTF-8 decoder is the fastest way to a string.
  if (isAscii(bytes, start, end)) return asciiDecoder.decode(bytes.subarray(start, end));
  if (end - start <= DECODE_CHUNK) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  let text = "";
  for (let i = start; i < end; i += DECODE_CHUNK) {
    const part = bytes.subarray(i, Math.min(end, i + DECODE_CHUNK));
    text += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return text;
}

const encoder = new TextEncoder();

/**
 * Writes `text` (code units ≤ 0xFF, as in `Headers` values) into `out` at `offset`, one byte per char.
 * ASCII takes the native `encodeInto` path; anything else falls back to a byte loop.
 * @returns the offset after the text.
 */
export function encodeLatin1Into(text: string, out: Uint8Array, offset: number): number {
  const { read, written } = encoder.encodeInto(text, out.subarray(offset));
  if (read === text.length && written === read) return offset + written;
  for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  return offset + text.length;
}

/** Bytes of `text` as ISO-8859-1. */
export function encodeLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  encodeLatin1Into(text, out, 0);
  return out;
}
