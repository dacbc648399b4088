/**
 * The Redis data layout of the Redis broker and the Lua scripts that keep it consistent. Each script runs
 * atomically in Redis (EVALSHA, falling back to EVAL after a Redis restart emptied the script cache), so a
 * message's `seq`, its history entry and its pub/sub delivery happen as one step for the whole cluster.
 *
 * Per channel `c`, with the key prefix `p` (default `relay:`); `{c}` is a Redis Cluster hash tag, so a channel's
 * keys share one slot (channel names cannot contain braces):
 *
 * | key            | type    | holds                                                                          |
 * | -------------- | ------- | ------------------------------------------------------------------------------ |
 * | `p{c}:meta`    | hash    | `epoch` (created once, like SET NX) and `seq` (the last assigned, via HINCRBY) |
 * | `p{c}:log`     | stream  | history: entry id `<seq>-0`, one field `m` = body; MAXLEN `historySize`        |
 * | `p{c}` (topic) | pub/sub | `<epoch>:<body>` per message                                                   |
 *
 * A body is `<seq>:<publishedAt>:<t|b><data>`: `t` marks UTF-8 text, `b` bytes, and `data` runs to the end of
 * the value, so any byte sequence round-trips (Redis strings and Lua strings are binary-safe). A message with a
 * publisher has `p<n>:<publisher>` (`n` its UTF-8 length) before the type; the publish script does not see the
 * difference, the caller puts it in the type argument (see `codec.ts`).
 * @module
 */

/** The Redis names of one channel. */
export interface ChannelKeys {
  /** Hash with the channel's `epoch` and `seq`. */
  readonly meta: string;
  /** Stream with the channel's history. */
  readonly log: string;
  /** Pub/sub channel its messages are published on. */
  readonly topic: string;
}

/** The Redis names of `channel` under `prefix`. */
export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const topic = `${prefix}{${channel}}`;
  return { meta: `${topic}:meta`, log: `${topic}:log`, topic };
}

/**
 * Drops expired history from the front of a stream: entries whose body's publishedAt is below `cutoff`.
 * Published times only grow along the stream (they come from Redis's own clock at XADD), so the scan stops at
 * the first live entry; it reads the first entry alone first because usually nothing has expired.
 */
const TRIM_EXPIRED = `
local function publishedAt(entry)
  return tonumber(string.match(entry[2][2], '^%d+:(%d+):'))
end
local function trimExpired(log, cutoff)
  local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  if first == nil or publishedAt(first) >= cutoff then return end
  local start = '-'
  while true do
    local batch = redis.call('XRANGE', log, start, '+', 'COUNT', 64)
    if #batch == 0 then
      redis.call('XTRIM', log, 'MAXLEN', 0)
      return
    end
    for _, entry in ipairs(batch) do
      if publishedAt(entry) >= cutoff then
        redis.call('XTRIM', log, 'MINID', entry[1])
        return
      end
    end
    start = '(' .. batch[#batch][1]
  end
end
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- A channel whose meta is gone (never used, expired, evicted, or lost with a Redis restart) starts a new
-- lineage: a new epoch at seq 0, and any history left from the lost one is dropped. Returns the epoch and
-- whether it was created now.
local function ensureEpoch(meta, log, candidate)
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then return epoch, 0 end
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', candidate, 'seq', 0)
  return candidate, 1
end
`;

/**
 * Publish: KEYS meta, log; ARGV epochCandidate, historySize, historyTtlMs (0 = no TTL), channelTtlMs (0 = no
 * expiry), type (`t`|`b`), data, topic, mayCreate (`0` = refuse if the channel does not exist; absent = `1`).
 * Returns `{seq, epoch, publishedAt, created}`, or `{0, '', 0, 0}` when refused (nothing was written).
 */
export const PUBLISH_SCRIPT = TRIM_EXPIRED + `
local meta, log = KEYS[1], KEYS[2]
if ARGV[8] == '0' and redis.call('EXISTS', meta) == 0 then return {0, '', 0, 0} end
local epoch, created = ensureEpoch(meta, log, ARGV[1])
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local now = nowMs()
local body = seq .. ':' .. now .. ':' .. ARGV[5] .. ARGV[6]
local size, ttl, channelTtl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if size > 0 then
  redis.call('XADD', log, 'MAXLEN', size, seq .. '-0', 'm', body)
  if ttl > 0 then
    trimExpired(log, now - ttl)
    redis.call('PEXPIRE', log, ttl)
  end
end
if channelTtl > 0 then redis.call('PEXPIRE', meta, channelTtl) end
redis.call('PUBLISH', ARGV[7], epoch .. ':' .. body)
return {seq, epoch, now, created}
`;

/**
 * Evict: KEYS meta, log; ARGV minIdleMs, channelTtlMs. Deletes a channel's keys when nothing touched them for
 * `minIdleMs` (its meta's TTL, refreshed by every publish and read from any node, tells when it was last used),
 * exactly as their expiry would later. Returns 1 when deleted (or already gone), 0 when kept.
 */
export const EVICT_SCRIPT = `
local meta, log = KEYS[1], KEYS[2]
local pttl = redis.call('PTTL', meta)
if pttl == -2 then return 1 end
if pttl == -1 or pttl > tonumber(ARGV[2]) - tonumber(ARGV[1]) then return 0 end
redis.call('DEL', meta, log)
return 1
`;

/**
 * Read: KEYS meta, log; ARGV epochCandidate ('' = create nothing), channelTtlMs, from, to (stream ids or `+`),
 * count (0 = all, -1 = none), historyTtlMs. Returns `{epoch | nil, seq, bodies}`: the channel's state and the
 * live history bodies in `[from, to]`, read atomically, so every seq up to the returned one that is not in the
 * range's answer is gone.
 */
export const READ_SCRIPT = TRIM_EXPIRED + `
local meta, log = KEYS[1], KEYS[2]
local epoch
if ARGV[1] ~= '' then
  epoch = ensureEpoch(meta, log, ARGV[1])
  if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', meta, ARGV[2]) end
else
  epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then return {false, 0, {}} end
end
local seq = tonumber(redis.call('HGET', meta, 'seq'))
local count, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
if ttl > 0 then trimExpired(log, nowMs() - ttl) end
local bodies = {}
if count >= 0 then
  local entries
  if count > 0 then
    entries = redis.call('XRANGE', log, ARGV[3], ARGV[4], 'COUNT', count)
  else
    entries = redis.call('XRANGE', log, ARGV[3], ARGV[4])
  end
  for i, entry in ipairs(entries) do bodies[i] = entry[2][2] end
end
return {epoch, seq, bodies}
`;
