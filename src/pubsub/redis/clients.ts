/**
 * The two Redis connections of a Redis broker and their fault policy. Commands (scripts, reads) go on one;
 * the other is in subscriber mode, which allows nothing but (UN)SUBSCRIBE. Both reconnect on their own with
 * a capped backoff, and neither queues anything while disconnected: a command then fails at once, so memory
 * stays bounded and nothing is acknowledged that Redis did not store.
 * @module
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Buffer } from "node:buffer";
import type { RedisEndpoint } from "./url.ts";
import { EVICT_SCRIPT, PUBLISH_SCRIPT, READ_SCRIPT } from "./scripts.ts";

/** An argument of a script call. */
export type RedisArg = string | number | Buffer;

/** The command connection with the broker's scripts (see `scripts.ts` for their arguments). */
export interface ScriptClient {
  readonly status: string;
  relayPublish(...args: RedisArg[]): Promise<[number, string, number, number]>;
  relayEvict(...args: RedisArg[]): Promise<number>;
  relayReadBuffer(...args: RedisArg[]): Promise<[Buffer | null, number, Buffer[]]>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
}

/** How the connections behave. */
export interface ClientPolicy {
  connectTimeoutMs: number;
  reconnectMaxDelayMs: number;
  /** Sent as CLIENT SETNAME, to find a node's connections in `CLIENT LIST`. */
  name: string;
}

/**
 * ioredis options every relay connection to `endpoint` shares (the broker's and presence's): where to connect,
 * the name shown in `CLIENT LIST`, and reconnecting forever: 100, 200, 400, … ms, capped at `reconnectMaxDelayMs`.
 */
export function endpointOptions(
  endpoint: RedisEndpoint,
  name: string,
  reconnectMaxDelayMs: number,
): RedisOptions {
  return {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    db: endpoint.db,
    tls: endpoint.tls ? {} : undefined,
    connectionName: name,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 16), reconnectMaxDelayMs),
  };
}

/** ioredis options shared by both connections of the broker. */
function options(endpoint: RedisEndpoint, policy: ClientPolicy): RedisOptions {
  return {
    ...endpointOptions(endpoint, policy.name, policy.reconnectMaxDelayMs),
    connectTimeout: policy.connectTimeoutMs,
    // Fail fast while disconnected instead of queueing without bound.
    enableOfflineQueue: false,
    // A command in flight when the connection dropped may or may not have run: fail it, never send it twice.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
  };
}

/** The command connection, with the publish and read scripts defined (EVALSHA, EVAL after NOSCRIPT). */
export function createCommandClient(endpoint: RedisEndpoint, policy: ClientPolicy): ScriptClient {
  const client = new Redis(options(endpoint, policy));
  client.defineCommand("relayPublish", { numberOfKeys: 2, lua: PUBLISH_SCRIPT });
  client.defineCommand("relayRead", { numberOfKeys: 2, lua: READ_SCRIPT });
  client.defineCommand("relayEvict", { numberOfKeys: 2, lua: EVICT_SCRIPT });
  return client as unknown as ScriptClient;
}

/** The subscriber connection. The broker re-subscribes itself after a reconnect (and checks for gaps). */
export function createSubscriberClient(endpoint: RedisEndpoint, policy: ClientPolicy): Redis {
  return new Redis({ ...options(endpoint, policy), autoResubscribe: false });
}
