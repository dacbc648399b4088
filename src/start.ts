/**
 * Assembles a relay from a config (and the application's hooks): broker, relay core, Hono app; then on
 * `listen()` the HTTP server, listener and connection caps; and stops it.
 * @module
 */
import { setImmediate } from "node:timers";
import type { Config } from "./config.ts";
import {
  type Authenticator,
  ChannelPatterns,
  ConnectionLimiter,
  OPEN_AUTHENTICATOR,
  originPolicy,
  securityHeaderList,
  TokenVerifier,
} from "./access/mod.ts";
import { addRelayRoutes, createApp, type RelayApp } from "./app/mod.ts";
import { HttpServer } from "./http/mod.ts";
import {
  type Broker,
  isSqliteSpec,
  MemoryBroker,
  MemoryPresence,
  parseSqliteSpec,
  RedisBroker,
  RedisPresence,
  SqliteBroker,
} from "./pubsub/mod.ts";
import { HookRunner, PresenceTracker, Relay, type RelayHooks } from "./relay/mod.ts";
import type { Runtime } from "./runtime/mod.ts";

/** A relay that is listening. */
export interface RunningRelay {
  /** `http://HOST:PORT` or `https://…` with the real port. */
  readonly url: string;
  readonly relay: Relay;
  /** Stops accepting, closes every WebSocket with 1001, finishes in-flight HTTP responses. */
  stop(): Promise<void>;
}

/** A relay assembled and not yet listening: its app takes the application's routes and middleware. */
export interface PreparedRelay {
  /** The Hono app the relay's own HTTP server serves; the relay's routes are added by `listen()`. */
  readonly app: RelayApp;
  readonly relay: Relay;
  /** Adds the relay's routes (after the application's) and starts listening. At most once. */
  listen(): RunningRelay;
  /** Stops whatever runs: the listener and sessions if listening, then the broker. */
  stop(): Promise<void>;
}

/** How long `stop` waits for in-flight HTTP responses before giving up on them. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Starts the relay described by `config` on `runtime`. */
export async function startRelay(
  config: Config,
  runtime: Runtime,
  readFile: (path: string) => Promise<string>,
): Promise<RunningRelay> {
  return (await prepareRelay(config, runtime, readFile)).listen();
}

/**
 * Assembles the relay described by `config`, with the application's hooks: keys, broker, relay core and the
 * app; nothing listens until `listen()`.
 */
export async function prepareRelay(
  config: Config,
  runtime: Runtime,
  readFile: (path: string) => Promise<string>,
  hooks?: RelayHooks,
): Promise<PreparedRelay> {
  const tls = config.tlsCert !== null && config.tlsKey !== null
    ? { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) }
    : undefined;
  const secure = tls !== undefined;
  const auth = await createAuthenticator(config, readFile);
  const broker = await createBroker(config);
  const relay = new Relay(broker, {
    maxQueuedBytes: config.maxQueuedBytes,
    maxChannelsPerConnection: config.maxChannelsPerConnection,
    presence: createPresence(config),
    // No hooks, no runner: every hook check on the way is then one null test.
    hooks: hooks !== undefined && Object.values(hooks).some((hook) => hook !== undefined)
      ? new HookRunner(hooks, config.hookTimeoutMs)
      : null,
    exposePublisher: config.exposePublisher.length > 0 ? new ChannelPatterns(config.exposePublisher) : null,
  });
  const app = createApp({ ready: () => broker.ready() });
  // The application's routes and middleware go on the app before listen(): the relay's come after them, so
  // its middleware (logging, headers) wraps the relay's routes too.
  const addRoutes = () =>
    addRelayRoutes(app, {
      relay,
      checkOrigin: originPolicy(config),
      maxMessageBytes: config.maxMessageBytes,
      auth,
      maxMessagesPerSecond: config.maxMessagesPerSecond,
      sseKeepaliveMs: config.sseKeepaliveMs,
      demo: config.demo ? { allowedOrigins: config.allowedOrigins } : null,
      websocket: {
        maxMessageBytes: config.maxMessageBytes,
        maxPendingBytes: config.maxMessageBytes,
        pingIntervalMs: config.pingIntervalMs,
        // One object for every connection: agreements and compressed frames are shared per options object.
        deflate: config.deflate
          ? { thresholdBytes: config.deflateThreshold, level: config.deflateLevel }
          : null,
      },
    });
  const defaultHeaders = await securityHeaderList(secure);
  let running: RunningRelay | null = null;
  let stopped: Promise<void> | null = null;
  return {
    app,
    relay,
    listen() {
      if (running !== null || stopped !== null) throw new Error("listen() was already called, or stop()");
      addRoutes();
      running = serve(config, runtime, app, relay, broker, defaultHeaders, tls);
      return running;
    },
    stop() {
      return stopped ??= running === null ? Promise.resolve(broker.close()) : running.stop();
    },
  };
}

/** Serves the app on the relay's own HTTP server and listener, with the connection caps. */
function serve(
  config: Config,
  runtime: Runtime,
  app: RelayApp,
  relay: Relay,
  broker: Broker,
  defaultHeaders: Awaited<ReturnType<typeof securityHeaderList>>,
  tls: { cert: string; key: string } | undefined,
): RunningRelay {
  const http = new HttpServer((request, info) => app.fetch(request, info), {
    defaultHeaders,
    limits: { maxBodyBytes: config.maxMessageBytes },
    onError: (error) => console.error("edge-relay: http:", error),
  });
  const limiter = new ConnectionLimiter(config.maxConnections, config.maxConnectionsPerIp, http);
  const listener = runtime.listen({
    hostname: config.host,
    port: config.port,
    tls,
    onConn: (conn) => {
      if (limiter.admit(conn)) http.serve(conn);
    },
    onConnClose: (conn) => limiter.release(conn),
    onError: (error) => console.error("edge-relay: accept:", error.message),
  });
  const host = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
  return {
    url: `${tls !== undefined ? "https" : "http"}://${host}:${listener.port}`,
    relay,
    async stop() {
      listener.close();
      relay.shutdown();
      // The ends just written (WebSocket 1001, a stream's last `retry:` and chunk) are corked until the turn's
      // flush; let it run before the process may exit (Bun exited before it: streams lost their end).
      await new Promise((resolve) => setImmediate(resolve));
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([http.shutdown(), new Promise((r) => timer = setTimeout(r, SHUTDOWN_GRACE_MS))]);
      clearTimeout(timer);
      await Promise.all([relay.presence?.store.close(), broker.close()]);
    },
  };
}

/**
 * The token verifier of `--jwt-secret` / `--jwt-public-key`, or an open relay, which says so on stderr: an
 * operator who forgot the flag should not find out from an incident.
 */
async function createAuthenticator(
  config: Config,
  readFile: (path: string) => Promise<string>,
): Promise<Authenticator> {
  if (config.jwtSecret === null && config.jwtPublicKey === null) {
    console.error(
      "edge-relay: warning: no --jwt-secret or --jwt-public-key: anyone can subscribe and publish to any channel",
    );
    return OPEN_AUTHENTICATOR;
  }
  let publicKeyPem: string | null = null;
  if (config.jwtPublicKey !== null) {
    try {
      publicKeyPem = await readFile(config.jwtPublicKey);
    } catch (error) {
      throw new Error(`--jwt-public-key: cannot read ${config.jwtPublicKey}: ${(error as Error).message}`);
    }
  }
  try {
    return await TokenVerifier.create({ secret: config.jwtSecret, publicKeyPem });
  } catch (error) {
    // Name the flag(s) that configured the keys; with both, the message itself says which key failed.
    const flags = [config.jwtSecret !== null && "--jwt-secret", publicKeyPem !== null && "--jwt-public-key"];
    throw new Error(`${flags.filter(Boolean).join(", ")}: ${(error as Error).message}`);
  }
}

/**
 * The presence of `--presence` channels, or null (off: nothing is built). One node (memory, SQLite) keeps it
 * in memory, exact and immediate; a Redis broker shares it through the same Redis.
 */
function createPresence(
  config: Pick<Config, "broker" | "presence" | "presenceMaxMembers" | "presenceTtlMs">,
): PresenceTracker | null {
  if (config.presence.length === 0) return null;
  const maxMembers = config.presenceMaxMembers;
  const store = config.broker.startsWith("redis")
    ? new RedisPresence({
      url: config.broker,
      maxMembers,
      ttlMs: config.presenceTtlMs,
      onError: (error) => console.error("edge-relay: redis presence:", error.message),
    })
    : new MemoryPresence({ maxMembers });
  return new PresenceTracker(store, config.presence);
}

/**
 * Builds the configured broker. A Redis broker is returned at once, connecting in the background: the relay
 * serves while Redis is unreachable, with `/readyz` answering 503 and publishes refused until it is up.
 */
function createBroker(
  config: Pick<Config, "broker" | "historySize" | "historyTtlMs" | "maxHistoryBytes" | "maxChannels">,
): Promise<Broker> | Broker {
  const history = { historySize: config.historySize, historyTtlMs: config.historyTtlMs };
  if (config.broker === "memory") {
    return new MemoryBroker({
      ...history,
      maxHistoryBytes: config.maxHistoryBytes,
      maxChannels: config.maxChannels,
    });
  }
  if (isSqliteSpec(config.broker)) {
    // Opens the file now: a file that is unwritable, corrupt or held by another relay stops the start (exit 1).
    return new SqliteBroker({
      path: parseSqliteSpec(config.broker),
      ...history,
      maxHistoryBytes: config.maxHistoryBytes,
      maxChannels: config.maxChannels,
      onReadyChange: (ready, detail) =>
        console.error(
          ready
            ? `edge-relay: sqlite broker: ${detail}`
            : `edge-relay: sqlite broker cannot store: ${detail}`,
        ),
      onError: (error, channel) => console.error(`edge-relay: sqlite broker, channel ${channel}:`, error),
    });
  }
  // History lives in Redis there, bounded per channel by the stream length; the channel cap still applies.
  return new RedisBroker({
    url: config.broker,
    ...history,
    maxChannels: config.maxChannels,
    onReadyChange: (ready, detail) =>
      console.error(
        ready ? "edge-relay: redis broker connected" : `edge-relay: redis broker unavailable: ${detail}`,
      ),
    onError: (error, channel) => console.error(`edge-relay: redis broker, channel ${channel}:`, error),
  });
}
