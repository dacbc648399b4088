/**
 * The chunk extensions after a chunk size, checked against their grammar (RFC 9112 §7.1.1) and discarded:
 *
 * ```
 * chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * chunk-ext-name = token
 * chunk-ext-val  = token / quoted-string
 * ```
 *
 * BWS (spaces and tabs) is accepted exactly where the grammar has it, around `;` and `=`, because RFC 9110
 * §5.6.3 tells a recipient to parse it; whitespace anywhere else (`5 ` before the CRLF, after a name or a
 * value) is refused, as are unterminated quoted strings and bytes that are neither token characters nor
 * quoted. Nothing here changes where a chunk ends (the line ends at its CRLF whatever its content): refusing
 * what the grammar does not allow leaves no room for a parser in front of us to read the line differently.
 * @module
 */
import { badRequest } from "./errors.ts";
import { BYTE, isTchar } from "./chars.ts";

const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;

/**
 * Checks `buf[start..end)`, the rest of a chunk-size line after the size digits (without its CRLF).
 * @throws {HttpError} 400 `invalid_chunk_size` when the digits are followed by anything but an extension,
 * 400 `invalid_chunk_extension` when an extension breaks the grammar.
 */
export function checkChunkExtensions(buf: Uint8Array, start: number, end: number): void {
  let i = skipBws(buf, start, end);
  if (i === end || buf[i] !== BYTE.Semicolon) {
    throw badRequest("invalid_chunk_size", "Invalid chunk size");
  }
  // `i` is at a ";" on every turn.
  for (;;) {
    i = tokenEnd(buf, skipBws(buf, i + 1, end), end);
    let next = skipBws(buf, i, end);
    if (next < end && buf[next] === EQUALS) {
      i = skipBws(buf, next + 1, end);
      i = i < end && buf[i] === DQUOTE ? quotedStringEnd(buf, i, end) : tokenEnd(buf, i, end);
      next = skipBws(buf, i, end);
    }
    // BWS only ever precedes a ";" or "=": none may trail the line.
    if (next === end && next === i) return;
    if (next === end || buf[next] !== BYTE.Semicolon) throw invalidExtension();
    i = next;
  }
}

/** BWS = *( SP / HTAB ); returns where it stops. */
function skipBws(buf: Uint8Array, i: number, end: number): number {
  while (i < end && (buf[i] === BYTE.SP || buf[i] === BYTE.HTAB)) i++;
  return i;
}

function tokenEnd(buf: Uint8Array, i: number, end: number): number {
  const start = i;
  while (i < end && isTchar(buf[i])) i++;
  if (i === start) throw invalidExtension();
  return i;
}

/**
 * quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4); `i` is at the opening quote.
 * Returns the index after the closing quote.
 */
function quotedStringEnd(buf: Uint8Array, i: number, end: number): number {
  for (i++; i < end; i++) {
    const c = buf[i];
    if (c === DQUOTE) return i + 1;
    if (c === BACKSLASH) {
      // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      if (++i === end || !isQuotable(buf[i])) throw invalidExtension();
    } else if (!isQuotable(c)) {
      throw invalidExtension();
    }
  }
  throw invalidExtension();
}

/** HTAB, SP, VCHAR and obs-text: every byte but the other controls and DEL (qdtext also excludes `"` and `\`). */
function isQuotable(c: number): boolean {
  return c === BYTE.HTAB || (c >= BYTE.SP && c !== BYTE.DEL);
}

function invalidExtension() {
  return badRequest("invalid_chunk_extension", "Invalid chunk extension");
}
