/**
 * The transport-neutral relay core: the fan-out with its slow-consumer rule, the sessions (raw, envelope and
 * event-stream mode) with their policy guard, and the `Outbound`/`Wire` interfaces every transport implements.
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
export { EnvelopeSession, type SubscribeCommand } from "./envelope_session.ts";
export { EventStreamSession, type StreamChannel } from "./event_stream_session.ts";
export { SessionGuard, type SessionPolicy } from "./session_guard.ts";
