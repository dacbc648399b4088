/**
 * The transport-neutral relay core: the fan-out with its slow-consumer rule, the sessions (raw and envelope
 * mode) with their policy guard, and the `Outbound`/`Wire` interfaces every transport implements.
 * @module
 */
export {
  type Closable,
  Relay,
  type RelayCounters,
  type RelayOptions,
  type SendAccount,
  settle,
} from "./fanout.ts";
export { END_REASON, type EndReason, type Outbound, type Wire } from "./outbound.ts";
export { Session } from "./session.ts";
export { RawSession } from "./raw_session.ts";
export { EnvelopeSession } from "./envelope_session.ts";
export { SessionGuard, type SessionPolicy } from "./session_guard.ts";
