/**
 * The Redis broker: several relay nodes share channels, order and history through one Redis (streams for
 * history, Lua scripts for seq and epoch, pub/sub for live delivery). The only importer of `ioredis`.
 * @module
 */
export {
  BrokerUnavailableError,
  REDIS_BROKER_DEFAULTS,
  RedisBroker,
  type RedisBrokerOptions,
} from "./broker.ts";
export { parseRedisUrl, type RedisEndpoint } from "./url.ts";
export { REDIS_PRESENCE_DEFAULTS, RedisPresence, type RedisPresenceOptions } from "./presence.ts";
