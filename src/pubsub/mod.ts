/**
 * The pub/sub door: channel names, messages, the {@link Broker} contract with its memory, SQLite and Redis
 * brokers, all-or-nothing recovery, and the node-local {@link ChannelRegistry} that fans messages out. Knows no
 * sockets.
 *
 * Broker implementations inside this folder also use `broker.ts` (`checkHistoryOptions`, `coversSince`),
 * `history_ring.ts` and `replay_buffer.ts` directly.
 * @module
 */
export { isValidChannelName, MAX_CHANNEL_NAME_LENGTH } from "./channel_name.ts";
export {
  type ChannelMessage,
  channelMessage,
  type ChannelState,
  isSeq,
  MAX_PUBLISHER_LENGTH,
  perMessage,
} from "./message.ts";
export { isPromise, type MaybePromise } from "./maybe_promise.ts";
export {
  type Broker,
  BrokerFullError,
  type BrokerLimit,
  type BrokerListener,
  type BrokerStats,
  type HistoryOptions,
  type HistoryResult,
} from "./broker.ts";
export { MEMORY_BROKER_DEFAULTS, MemoryBroker, type MemoryBrokerOptions } from "./memory_broker.ts";
export {
  BrokerUnavailableError,
  parseRedisUrl,
  REDIS_BROKER_DEFAULTS,
  REDIS_PRESENCE_DEFAULTS,
  RedisBroker,
  type RedisBrokerOptions,
  type RedisEndpoint,
  RedisPresence,
  type RedisPresenceOptions,
} from "./redis/mod.ts";
export {
  DEFAULT_PRESENCE_MAX_MEMBERS,
  MemoryPresence,
  type PresenceAdd,
  type PresenceChange,
  type PresenceMember,
  type PresenceSnapshot,
  type PresenceStore,
} from "./presence.ts";
export {
  isSqliteSpec,
  parseSqliteSpec,
  SQLITE_BROKER_DEFAULTS,
  SQLITE_SCHEME,
  SqliteBroker,
  type SqliteBrokerOptions,
  SqliteOpenError,
} from "./sqlite/mod.ts";
export { recover, type Recovery } from "./recovery.ts";
export type { SubscribedState } from "./replay_buffer.ts";
export {
  type ChannelInfo,
  ChannelRegistry,
  type ChannelRegistryOptions,
  type JoinOptions,
  type RegistryStats,
  type Subscriber,
} from "./channel_registry.ts";
