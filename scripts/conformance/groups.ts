/**
 * The case groups, in run order (Autobahn's order where it has an equivalent).
 * @module
 */
import type { ConformanceCase } from "./context.ts";
import { cases as close } from "./cases/close.ts";
import { cases as fragmentation } from "./cases/fragmentation.ts";
import { cases as framing } from "./cases/framing.ts";
import { cases as handshake } from "./cases/handshake.ts";
import { cases as limits } from "./cases/limits.ts";
import { cases as masking } from "./cases/masking.ts";
import { cases as opcodes } from "./cases/opcodes.ts";
import { cases as pingPong } from "./cases/ping_pong.ts";
import { cases as reservedBits } from "./cases/reserved_bits.ts";
import { cases as utf8 } from "./cases/utf8.ts";
import {
  errorCases as deflateErrors,
  messageCases as deflateMessages,
  negotiationCases as deflateNegotiation,
} from "./cases/permessage_deflate.ts";

/** Every group's cases by group name. */
export const GROUPS: Readonly<Record<string, readonly ConformanceCase[]>> = Object.freeze({
  framing,
  "ping-pong": pingPong,
  "reserved-bits": reservedBits,
  opcodes,
  fragmentation,
  utf8,
  close,
  masking,
  limits,
  handshake,
});

/**
 * RFC 7692 (permessage-deflate) groups, run only when named (`--group deflate-negotiation,…`): they need a
 * relay started with `--deflate`, which the RFC 6455 groups do not.
 */
export const DEFLATE_GROUPS: Readonly<Record<string, readonly ConformanceCase[]>> = Object.freeze({
  "deflate-negotiation": deflateNegotiation,
  "deflate-messages": deflateMessages,
  "deflate-errors": deflateErrors,
});
