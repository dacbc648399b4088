/**
 * Header list parsing for the handshake: comma-separated elements (RFC 9110 §5.6.1) and the
 * `Sec-WebSocket-Extensions` grammar with parameters (RFC 6455 §9.1).
 *
 * Linear time and regex-free, so a value with 10,000 commas costs microseconds; results are arrays and `Map`s,
 * never plain objects, so tokens such as `__proto__` or `constructor` are ordinary strings.
 * @module
 */

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const TAB = 0x09;

/** Optional whitespace (RFC 9110 §5.6.3): space and horizontal tab. */
function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

function skipOws(value: string, i: number): number {
  while (i < value.length && isOws(value.charCodeAt(i))) i++;
  return i;
}

/**
 * Splits a comma-separated header value into its elements, trimmed of optional whitespace; empty elements
 * (`a, , b`) are dropped as RFC 9110 §5.6.1 allows.
 * @param lowerCase lower-case each element, for lists compared case-insensitively (`Connection`, `Upgrade`)
 * @example
 * ```ts
 * parseTokenList("keep-alive, Upgrade", true); // ["keep-alive", "upgrade"]
 * ```
 */
export function parseTokenList(value: string | null, lowerCase = false): string[] {
  const tokens: string[] = [];
  if (value === null) return tokens;
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(",", start);
    if (end < 0) end = value.length;
    const from = skipOws(value, start);
    let to = end;
    while (to > from && isOws(value.charCodeAt(to - 1))) to--;
    if (to > from) {
      const token = value.slice(from, to);
      tokens.push(lowerCase ? token.toLowerCase() : token);
    }
    start = end + 1;
  }
  return tokens;
}

/** One extension offered in `Sec-WebSocket-Extensions`. */
export interface ExtensionOffer {
  /** Lower-cased extension token (`permessage-deflate`). */
  name: string;
  /** Parameters in order; a parameter without `=value` maps to `true`. Names lower-cased, values as sent. */
  params: Map<string, string | true>;
  /**
   * True when a parameter name appeared more than once (the map keeps the first): an extension may have to
   * decline such an offer (RFC 7692 §7.1 does), and the map alone cannot show it.
   */
  repeated: boolean;
}

/** Characters that end a token inside an extension offer. */
function endsToken(c: number): boolean {
  return c === COMMA || c === SEMICOLON || c === EQUALS || c === QUOTE || isOws(c);
}

function readToken(value: string, i: number): number {
  while (i < value.length && !endsToken(value.charCodeAt(i))) i++;
  return i;
}

/** Reads a quoted-string starting after its opening quote; returns the unescaped text and the index after it. */
function readQuoted(value: string, i: number): [string, number] {
  let text = "";
  let from = i;
  while (i < value.length && value.charCodeAt(i) !== QUOTE) {
    if (value.charCodeAt(i) === BACKSLASH && i + 1 < value.length) {
      text += value.slice(from, i);
      from = ++i; // keep the escaped character
    }
    i++;
  }
  return [text + value.slice(from, i), i + 1];
}

/**
 * Parses `Sec-WebSocket-Extensions` (RFC 6455 §9.1):
 * `extension *( ";" param [ "=" ( token / quoted-string ) ] )`, comma-separated. Malformed parts are skipped
 * rather than rejected: the offer is advisory and the server may ignore any extension.
 * @example
 * ```ts
 * parseExtensions("permessage-deflate; client_max_window_bits, x-foo");
 * // [{ name: "permessage-deflate", params: Map { "client_max_window_bits" => true }, repeated: false },
 * //  { name: "x-foo", params: Map {}, repeated: false }]
 * ```
 */
export function parseExtensions(value: string | null): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  if (value === null) return offers;
  let offer: ExtensionOffer | null = null;
  let i = 0;
  while (i < value.length) {
    i = skipOws(value, i);
    const start = i;
    i = readToken(value, i);
    const word = value.slice(start, i).toLowerCase();
    i = skipOws(value, i);
    let paramValue: string | true = true;
    if (i < value.length && value.charCodeAt(i) === EQUALS) {
      i = skipOws(value, i + 1);
      if (i < value.length && value.charCodeAt(i) === QUOTE) {
        [paramValue, i] = readQuoted(value, i + 1);
      } else {
        const from = i;
        i = readToken(value, i);
        paramValue = value.slice(from, i);
      }
      i = skipOws(value, i);
    }
    if (word !== "") {
      if (offer === null) offers.push(offer = { name: word, params: new Map(), repeated: false });
      else if (offer.params.has(word)) offer.repeated = true;
      else offer.params.set(word, paramValue);
    }
    // Each pass consumes at least this delimiter (or stray character), so the scan is linear.
    if (i < value.length) {
      if (value.charCodeAt(i) === COMMA) offer = null;
      i++;
    }
  }
  return offers;
}
