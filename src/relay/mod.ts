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
  type ReportError,
  type SendAccount,
  settle,
} from "./fanout.ts";
export { DRAIN_MIN_PER_SECOND, DRAIN_TICK_MS, drainDuration, drainEvenly } from "./drain.ts";
export { END_REASON, type EndReason, type Outbound, type Wire } from "./outbound.ts";
export { MAX_PENDING_HOOK_PUBLISHES, Session } from "./session.ts";
export { RawSession } from "./raw_session.ts";
export { EnvelopeSession, type SubscribeCommand } from "./envelope_session.ts";
export { EventStreamSession, type StreamChannel } from "./event_stream_session.ts";
export { SessionGuard, type SessionPolicy } from "./session_guard.ts";
export {
  MAX_PRESENCE_INFO_BYTES,
  type PresenceMemberSession,
  type PresenceRefusal,
  PresenceTracker,
} from "./presence.ts";
export {
  type AuthorizeContext,
  type AuthorizeResult,
  type ClientInfo,
  clientInfo,
  DEFAULT_HOOK_TIMEOUT_MS,
  type HookRejection,
  HookRunner,
  type HookTransport,
  type HookVerdict,
  type PublishContext,
  type PublishResult,
  type RelayHooks,
  type SubscribeContext,
  type SubscribeResult,
} from "./hooks.ts";
