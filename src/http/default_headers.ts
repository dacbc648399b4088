/**
 * The server's default headers (CSP, secure headers): validated and serialized once per server, then added to
 * every response, the app's and the server's own. A header the app set itself wins over the default of the
 * same name; that is noticed while the response headers are serialized, so the common case costs one map
 * lookup per app header and one string append.
 * @module
 */
import { isTchar } from "./chars.ts";

/** Most distinct default header names (each gets one bit of an override mask). */
export const MAX_DEFAULT_HEADERS = 30;

/** Default headers ready to be written. */
export interface DefaultHeaders {
  /** Every default header line, serialized (`name: value\r\n` each, lowercase names). */
  readonly lines: string;
  /** Lowercase name → its bit in an override mask. */
  readonly bits: ReadonlyMap<string, number>;
  /** The serialized lines of each name, by bit. */
  readonly linesByBit: readonly string[];
  /** Status line plus {@link lines}, encoded, per status: the constant start of most heads. */
  readonly heads: Map<number, Uint8Array>;
}

/** No default headers. */
export const NO_DEFAULT_HEADERS: DefaultHeaders = Object.freeze({
  lines: "",
  bits: new Map<string, number>(),
  linesByBit: [],
  heads: new Map<number, Uint8Array>(),
});

/**
 * Validates `[name, value]` pairs and serializes them once. Repeated names are kept (each its own line) and
 * share one bit.
 * @throws {TypeError} for a name that is not a token or a value with CR, LF, NUL or a code unit over 0xFF.
 * @throws {RangeError} for more than {@link MAX_DEFAULT_HEADERS} distinct names.
 */
export function resolveDefaultHeaders(headers: readonly (readonly [string, string])[]): DefaultHeaders {
  if (headers.length === 0) return NO_DEFAULT_HEADERS;
  const bits = new Map<string, number>();
  const linesByBit: string[] = [];
  let lines = "";
  for (const [rawName, value] of headers) {
    if (rawName.length === 0 || ![...rawName].every((c) => isTchar(c.charCodeAt(0)))) {
      throw new TypeError(`Invalid default header name: ${rawName}`);
    }
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x0d || c === 0x0a || c === 0 || c > 0xff) {
        throw new TypeError(`Invalid value for header ${rawName}`);
      }
    }
    const name = rawName.toLowerCase();
    let bit = bits.get(name);
    if (bit === undefined) {
      bit = bits.size;
      if (bit >= MAX_DEFAULT_HEADERS) {
        throw new RangeError(`More than ${MAX_DEFAULT_HEADERS} default headers`);
      }
      bits.set(name, bit);
      linesByBit.push("");
    }
    const line = `${name}: ${value}\r\n`;
    linesByBit[bit] += line;
    lines += line;
  }
  return Object.freeze({ lines, bits, linesByBit, heads: new Map<number, Uint8Array>() });
}

/** The default lines minus those of the names whose bits are set in `overridden` (names the app set). */
export function defaultLinesWithout(defaults: DefaultHeaders, overridden: number): string {
  if (overridden === 0) return defaults.lines;
  let lines = "";
  const each = defaults.linesByBit;
  for (let bit = 0; bit < each.length; bit++) {
    if ((overridden & (1 << bit)) === 0) lines += each[bit];
  }
  return lines;
}
