/**
 * Presence shared by every node through one Redis: every node sees every node's users, and the users of a
 * node that dies leave within a bound, with a `leave` every node hears (no ghost users).
 *
 * Per channel `c` (`{c}` a Cluster hash tag, as the broker's keys), with the key prefix `p` (default `relay:`):
 *
 * | key                 | type    | holds                                                                    |
 * | ------------------- | ------- | ------------------------------------------------------------------------ |
 * | `ppres{c}:conns`    | hash    | connection id → user                                                     |
 * | `ppres{c}:exp`      | zset    | connection id → when it expires (ms, Redis's clock) unless refreshed     |
 * | `ppres{c}:users`    | hash    | user → connections present (the join/leave transitions are read here)    |
 * | `ppres{c}:info`     | hash    | user → info (JSON text), while the user is present                       |
 * | `ppres:channels`    | set     | channels with someone present: what the sweeper walks                    |
 * | `ppres:events`      | pub/sub | `{"t":"join"/"leave","c":channel,"u":user,"i":info}` per transition      |
 * | `ppres:sweep`       | string  | the sweep lock (SET NX PX): one node sweeps per interval                 |
 *
 * Each node refreshes the expiry of its own connections every `ttlMs / 3`, in one script call per channel
 * (batched, not one per connection). Every node tries to sweep every `ttlMs / 3`; the one holding the lock
 * removes the connections whose expiry passed and publishes the leaves of users that had no other connection.
 * A node killed with `-9` stops refreshing: its connections expire within `ttlMs` of their last refresh and
 * are swept within one more sweep interval, so its users leave within `ttlMs + ttlMs / 3` (plus a
 * sweep's run time). Every script reads the time from Redis (`TIME`), so the nodes' clocks do not matter.
 * @module
 */
import { Redis } from "ioredis";
import {
  DEFAULT_PRESENCE_MAX_MEMBERS,
  type PresenceAdd,
  type PresenceChange,
  type PresenceMember,
  type PresenceSnapshot,
  type PresenceStore,
} from "../presence.ts";
import { parseRedisUrl } from "./url.ts";
import { endpointOptions } from "./clients.ts";

/** Defaults of {@link RedisPresenceOptions}. */
export const REDIS_PRESENCE_DEFAULTS = {
  /** A connection not refreshed for this long is swept: the bound on a dead node's ghosts is 4/3 of it. */
  ttlMs: 15_000,
  keyPrefix: "relay:",
  /** Connections refreshed per script call: bounds one call's size (and Redis's time in it). */
  refreshBatch: 500,
  /** Expired connections a sweep removes per channel per call, for the same reason. */
  sweepBatch: 1000,
  /** Channels read per SSCAN step of a sweep. */
  scanCount: 100,
  reconnectMaxDelayMs: 2_000,
} as const;

/** How a {@link RedisPresence} is set up. */
export interface RedisPresenceOptions {
  /** `redis://` or `rediss://` URL, as the broker's. */
  url: string;
  maxMembers?: number;
  /** Expiry of a connection not refreshed (ms); refresh and sweep run every third of it. */
  ttlMs?: number;
  keyPrefix?: string;
  /** Told about failed refreshes and sweeps (they are retried on the next tick). */
  onError?: (error: Error) => void;
}

/** The time in ms from Redis's own clock. */
const NOW =
  `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Removes connection `id` (present) of channel `ch`; publishes the leave when it was the user's last one. */
const REMOVE_FN = `
local function remove(id, user)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  if redis.call('HINCRBY', KEYS[3], user, -1) <= 0 then
    redis.call('HDEL', KEYS[3], user)
    redis.call('HDEL', KEYS[4], user)
    redis.call('PUBLISH', KEYS[6], cjson.encode({t = 'leave', c = ARGV[1], u = user}))
  end
end
local function forget()
  if redis.call('HLEN', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
    redis.call('SREM', KEYS[5], ARGV[1])
  end
end`;

/** Adds one connection; the member cap applies to new users only. */
const ADD_FN = `
local function add(id, user, info, expireAt)
  redis.call('HSET', KEYS[1], id, user)
  redis.call('ZADD', KEYS[2], expireAt, id)
  redis.call('SADD', KEYS[5], ARGV[1])
  if redis.call('HINCRBY', KEYS[3], user, 1) == 1 then
    local event = {t = 'join', c = ARGV[1], u = user}
    if info ~= '' then redis.call('HSET', KEYS[4], user, info); event.i = info end
    redis.call('PUBLISH', KEYS[6], cjson.encode(event))
    return 1
  end
  return 0
end`;

/**
 * KEYS conns, exp, users, info, channels, events; ARGV channel, ttlMs, maxMembers, id, user, info ('' = none).
 * → 1 joined, 0 already present (another connection of the user, or this one), -1 full.
 */
const ADD_SCRIPT = `${NOW}
${ADD_FN}
if redis.call('HEXISTS', KEYS[1], ARGV[4]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[5]) == 0 and redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[3]) then
  return -1
end
return add(ARGV[4], ARGV[5], ARGV[6], now + tonumber(ARGV[2]))`;

/** KEYS as add; ARGV channel, id. → 1 removed, 0 not there. */
const REMOVE_SCRIPT = `${REMOVE_FN}
local user = redis.call('HGET', KEYS[1], ARGV[2])
if not user then return 0 end
remove(ARGV[2], user)
forget()
return 1`;

/**
 * KEYS as add; ARGV channel, ttlMs, then (id, user, info) triples: pushes each connection's expiry on, and
 * adds back one that a sweep removed meanwhile (a node paused past the TTL: its users join again).
 */
const REFRESH_SCRIPT = `${NOW}
${ADD_FN}
local expireAt = now + tonumber(ARGV[2])
for i = 3, #ARGV, 3 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], expireAt, ARGV[i])
  else
    add(ARGV[i], ARGV[i + 1], ARGV[i + 2], expireAt)
  end
end
return 0`;

/** KEYS as add; ARGV channel, batch. Removes expired connections, publishing leaves. → how many. */
const SWEEP_SCRIPT = `${NOW}
${REMOVE_FN}
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(expired) do
  local user = redis.call('HGET', KEYS[1], id)
  if user then remove(id, user) else redis.call('ZREM', KEYS[2], id) end
end
forget()
return #expired`;

/**
 * KEYS conns, exp, users, info. → {clients, user, count, info, …}: connections not yet expired (a dead node's,
 * before the sweep, are not counted), grouped by user.
 */
const MEMBERS_SCRIPT = `${NOW}
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do expired[id] = true end
local all = redis.call('HGETALL', KEYS[1])
local counts, order, clients = {}, {}, 0
for i = 1, #all, 2 do
  if not expired[all[i]] then
    local user = all[i + 1]
    if not counts[user] then counts[user] = 0; order[#order + 1] = user end
    counts[user] = counts[user] + 1
    clients = clients + 1
  end
end
local out = {clients}
for _, user in ipairs(order) do
  out[#out + 1] = user
  out[#out + 1] = counts[user]
  out[#out + 1] = redis.call('HGET', KEYS[4], user) or ''
end
return out`;

interface PresenceClient {
  relayPresenceAdd(...args: (string | number)[]): Promise<number>;
  relayPresenceRemove(...args: (string | number)[]): Promise<number>;
  relayPresenceRefresh(...args: (string | number)[]): Promise<number>;
  relayPresenceSweep(...args: (string | number)[]): Promise<number>;
  relayPresenceMembers(...args: (string | number)[]): Promise<(string | number)[]>;
}

/** This node's connection of a channel, as the refresh sends it again. */
interface LocalEntry {
  user: string;
  info: string;
}

/** Presence in Redis, shared by every node of the cluster. */
export class RedisPresence implements PresenceStore {
  readonly maxMembers: number;
  readonly ttlMs: number;
  readonly #prefix: string;
  readonly #cmd: Redis & PresenceClient;
  readonly #sub: Redis;
  readonly #onError: (error: Error) => void;
  /** This node's connections per channel: what it refreshes, and removes on close. */
  readonly #local = new Map<string, Map<string, LocalEntry>>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #lockValue = crypto.randomUUID();
  #listener: (change: PresenceChange) => void = () => {};
  #closed = false;

  constructor(options: RedisPresenceOptions) {
    const endpoint = parseRedisUrl(options.url);
    this.maxMembers = options.maxMembers ?? DEFAULT_PRESENCE_MAX_MEMBERS;
    this.ttlMs = options.ttlMs ?? REDIS_PRESENCE_DEFAULTS.ttlMs;
    this.#prefix = options.keyPrefix ?? REDIS_PRESENCE_DEFAULTS.keyPrefix;
    this.#onError = options.onError ?? (() => {});
    const base = endpointOptions(
      endpoint,
      "edge-relay-presence",
      REDIS_PRESENCE_DEFAULTS.reconnectMaxDelayMs,
    );
    // Commands fail at once while Redis is away (no queue grows); the subscriber resubscribes by itself.
    this.#cmd = new Redis({
      ...base,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    }) as Redis & PresenceClient;
    const scripts = {
      relayPresenceAdd: ADD_SCRIPT,
      relayPresenceRemove: REMOVE_SCRIPT,
      relayPresenceRefresh: REFRESH_SCRIPT,
      relayPresenceSweep: SWEEP_SCRIPT,
    };
    for (const [name, lua] of Object.entries(scripts)) {
      this.#cmd.defineCommand(name, { numberOfKeys: 6, lua });
    }
    this.#cmd.defineCommand("relayPresenceMembers", { numberOfKeys: 4, lua: MEMBERS_SCRIPT });
    this.#cmd.on("error", () => {});
    this.#sub = new Redis(base);
    this.#sub.on("error", () => {});
    this.#sub.on("message", (_topic: string, text: string) => this.#event(text));
    this.#sub.subscribe(this.#events).catch((error) => this.#onError(error as Error));
    this.#timer = setInterval(() => this.#tick(), Math.max(1, Math.floor(this.ttlMs / 3)));
  }

  /** Resolves once the event subscription is in place (tests wait for it). */
  async ready(): Promise<void> {
    while (!this.#closed && this.#sub.status !== "ready") await new Promise((r) => setTimeout(r, 20));
    await this.#sub.subscribe(this.#events);
  }

  get #events(): string {
    return `${this.#prefix}pres:events`;
  }

  #keys(channel: string): string[] {
    const base = `${this.#prefix}pres{${channel}}`;
    return [
      `${base}:conns`,
      `${base}:exp`,
      `${base}:users`,
      `${base}:info`,
      `${this.#prefix}pres:channels`,
      this.#events,
    ];
  }

  async add(channel: string, connection: string, user: string, info: string | null): Promise<PresenceAdd> {
    let local = this.#local.get(channel);
    if (local === undefined) this.#local.set(channel, local = new Map());
    const entry = { user, info: info ?? "" };
    local.set(connection, entry);
    const result = await this.#cmd.relayPresenceAdd(
      ...this.#keys(channel),
      channel,
      this.ttlMs,
      this.maxMembers,
      connection,
      user,
      entry.info,
    ).catch((error) => {
      this.#forget(channel, connection);
      throw error;
    });
    if (result < 0) this.#forget(channel, connection);
    return result > 0 ? "joined" : result === 0 ? "present" : "full";
  }

  remove(channel: string, connection: string): Promise<void> {
    this.#forget(channel, connection);
    return this.#cmd.relayPresenceRemove(...this.#keys(channel), channel, connection).then(() => {});
  }

  async members(channel: string): Promise<PresenceSnapshot> {
    const reply = await this.#cmd.relayPresenceMembers(...this.#keys(channel).slice(0, 4));
    const users: PresenceMember[] = [];
    for (let i = 1; i < reply.length; i += 3) {
      const info = String(reply[i + 2]);
      users.push({
        user: String(reply[i]),
        connections: Number(reply[i + 1]),
        info: info === "" ? null : info,
      });
    }
    return { users, clients: Number(reply[0]) };
  }

  onChange(listener: (change: PresenceChange) => void): void {
    this.#listener = listener;
  }

  /** Removes this node's connections (their users leave at once), then disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const removals: Promise<unknown>[] = [];
    for (const [channel, local] of this.#local) {
      for (const connection of local.keys()) {
        removals.push(this.#cmd.relayPresenceRemove(...this.#keys(channel), channel, connection));
      }
    }
    this.#local.clear();
    await Promise.allSettled(removals);
    this.#cmd.disconnect();
    this.#sub.disconnect();
  }

  #forget(channel: string, connection: string): void {
    const local = this.#local.get(channel);
    if (local?.delete(connection) && local.size === 0) this.#local.delete(channel);
  }

  #event(text: string): void {
    let event: { t?: unknown; c?: unknown; u?: unknown; i?: unknown };
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (
      (event.t !== "join" && event.t !== "leave") || typeof event.c !== "string" ||
      typeof event.u !== "string"
    ) {
      return;
    }
    this.#listener({
      type: event.t,
      channel: event.c,
      user: event.u,
      info: typeof event.i === "string" ? event.i : null,
    });
  }

  /** One refresh of this node's connections and one sweep attempt; failures wait for the next tick. */
  async #tick(): Promise<void> {
    if (this.#closed || this.#cmd.status !== "ready") return;
    try {
      await Promise.all([this.#refresh(), this.#sweep()]);
    } catch (error) {
      this.#onError(error as Error);
    }
  }

  async #refresh(): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (const [channel, local] of this.#local) {
      let args: (string | number)[] = [];
      const flush = () => {
        calls.push(this.#cmd.relayPresenceRefresh(...this.#keys(channel), channel, this.ttlMs, ...args));
        args = [];
      };
      for (const [connection, { user, info }] of local) {
        args.push(connection, user, info);
        if (args.length >= REDIS_PRESENCE_DEFAULTS.refreshBatch * 3) flush();
      }
      if (args.length > 0) flush();
    }
    await Promise.all(calls);
  }

  /** Sweeps every channel with presence when this node holds the lock for this interval. */
  async #sweep(): Promise<void> {
    const interval = Math.max(1, Math.floor(this.ttlMs / 3));
    const lock = await this.#cmd.set(`${this.#prefix}pres:sweep`, this.#lockValue, "PX", interval, "NX");
    if (lock !== "OK") return;
    let cursor = "0";
    do {
      const [next, channels] = await this.#cmd.sscan(
        `${this.#prefix}pres:channels`,
        cursor,
        "COUNT",
        REDIS_PRESENCE_DEFAULTS.scanCount,
      );
      cursor = next;
      await Promise.all(channels.map((channel) => this.#sweepChannel(channel)));
    } while (cursor !== "0" && !this.#closed);
  }

  async #sweepChannel(channel: string): Promise<void> {
    const batch = REDIS_PRESENCE_DEFAULTS.sweepBatch;
    while ((await this.#cmd.relayPresenceSweep(...this.#keys(channel), channel, batch)) >= batch) {
      if (this.#closed) return;
    }
  }
}
