/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1), server side. Pure: the `Sec-WebSocket-Extensions` offer
 * in, the agreement (or none) out.
 *
 * The relay always answers `server_no_context_takeover; client_no_context_takeover`: every message is
 * compressed and inflated on its own, so an idle connection holds no zlib state (a sliding window both ways
 * costs about 300 KiB per connection), and one compressed frame can be shared by every subscriber.
 * @module
 */
import { type ExtensionOffer, parseExtensions } from "./tokens.ts";

/** The extension token (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** Smallest and largest LZ77 window, in bits, either side may ask for (RFC 7692 §7.1.2). */
export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;

/**
 * Raw deflate cannot produce an 8-bit window: zlib ≥ 1.2.9 turns 8 into 9, which a peer that asked for 8 may
 * fail to inflate. An offer of `server_max_window_bits=8` is accepted, and that connection is never sent a
 * compressed message (per-message compression is optional, RFC 7692 §6).
 */
const SMALLEST_PRODUCIBLE_WINDOW_BITS = 9;

/** How the server compresses what it sends. */
export interface DeflateOptions {
  /**
   * Messages smaller than this many bytes (payload, before compression) go out plain: deflate gains little on
   * them and costs CPU per message.
   * @default 1024
   */
  thresholdBytes: number;
  /** zlib level, 0 (store) to 9 (smallest, slowest). @default 1 */
  level: number;
}

/** The defaults of {@link DeflateOptions}. */
export const DEFLATE_DEFAULTS: Readonly<DeflateOptions> = Object.freeze({ thresholdBytes: 1024, level: 1 });

/** What the server compresses outgoing messages with, on a connection that may receive compressed ones. */
export interface DeflateCompression extends DeflateOptions {
  /** The window to compress with: `server_max_window_bits` when offered, else 15. */
  windowBits: number;
}

/** An accepted permessage-deflate offer. */
export interface DeflateAgreement {
  /** The `Sec-WebSocket-Extensions` answer. */
  readonly response: string;
  /** How to compress outgoing messages; null when the client's window (8 bits) cannot be honoured. */
  readonly compression: DeflateCompression | null;
}

/** Parameters of one permessage-deflate offer that the server accepts. */
interface AcceptedParams {
  /** `server_max_window_bits` as offered, or null. */
  serverMaxWindowBits: number | null;
}

/**
 * A window-bits value (RFC 7692 §7.1.2.1): 1*DIGIT without a leading zero, 8–15, possibly sent quoted (the
 * tokenizer already removed the quotes, as §7.1 requires of a quoted value).
 * @returns the number, or null when the value is not one
 */
function windowBits(value: string): number | null {
  if (!/^[1-9][0-9]?$/.test(value)) return null;
  const bits = Number(value);
  return bits >= MIN_WINDOW_BITS && bits <= MAX_WINDOW_BITS ? bits : null;
}

/**
 * Checks one offer's parameters (RFC 7692 §7.1): each at most once, the no-context-takeover ones without a
 * value, `server_max_window_bits` with one, `client_max_window_bits` with or without one, nothing unknown.
 * @returns the accepted parameters, or null to decline this offer
 */
function acceptOffer(offer: ExtensionOffer): AcceptedParams | null {
  if (offer.name !== PERMESSAGE_DEFLATE || offer.repeated) return null;
  let serverMaxWindowBits: number | null = null;
  for (const [name, value] of offer.params) {
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return null;
        break;
      case "server_max_window_bits": {
        if (value === true) return null;
        serverMaxWindowBits = windowBits(value);
        if (serverMaxWindowBits === null) return null;
        break;
      }
      case "client_max_window_bits":
        // A hint that the client can limit its window; the server inflates with 15 bits, which reads any.
        if (value !== true && windowBits(value) === null) return null;
        break;
      default:
        return null;
    }
  }
  return { serverMaxWindowBits };
}

/**
 * The agreements made so far, per server options and offered window: few distinct ones exist, and sharing
 * them keeps a compressed connection as small as a plain one and lets the transport share compressed frames
 * by agreement. Keyed weakly by the options object, so options that are dropped take their agreements along.
 */
const agreements = new WeakMap<DeflateOptions, Map<number | null, DeflateAgreement>>();

function agreement(options: DeflateOptions, bits: number | null): DeflateAgreement {
  let byBits = agreements.get(options);
  if (byBits === undefined) agreements.set(options, byBits = new Map());
  let made = byBits.get(bits);
  if (made === undefined) {
    let response = `${PERMESSAGE_DEFLATE}; server_no_context_takeover; client_no_context_takeover`;
    if (bits !== null) response += `; server_max_window_bits=${bits}`;
    const windowBits = bits ?? MAX_WINDOW_BITS;
    const compression = windowBits >= SMALLEST_PRODUCIBLE_WINDOW_BITS
      ? Object.freeze({ thresholdBytes: options.thresholdBytes, level: options.level, windowBits })
      : null;
    byBits.set(bits, made = Object.freeze({ response, compression }));
  }
  return made;
}

/**
 * Picks the first offer of permessage-deflate the server can satisfy (RFC 7692 §5.1). An offer it cannot
 * satisfy is declined, never a failed handshake: the connection then simply runs uncompressed.
 *
 * The answer is `permessage-deflate; server_no_context_takeover; client_no_context_takeover`, plus
 * `server_max_window_bits=N` when the client offered it; `client_max_window_bits` is never added (a client
 * that did not offer it must fail a response that carries it, §7.1.2.2).
 * @param header the request's `Sec-WebSocket-Extensions` (repeated fields joined by commas)
 * @param options how the server compresses
 * @returns the agreement (one shared, frozen object per options and window), or null when no offer is
 * acceptable (or none was made)
 * @example
 * ```ts
 * negotiateDeflate("permessage-deflate; client_max_window_bits", DEFLATE_DEFAULTS)?.response;
 * // "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
 * ```
 */
export function negotiateDeflate(header: string | null, options: DeflateOptions): DeflateAgreement | null {
  for (const offer of parseExtensions(header)) {
    const accepted = acceptOffer(offer);
    if (accepted !== null) return agreement(options, accepted.serverMaxWindowBits);
  }
  return null;
}
