/**
 * Assembles a relay from a config (and the application's hooks): broker, relay core, Hono app; then on
 * `listen()` the HTTP server, listener and connection caps; and stops it.
 * @module
 */
import { setImmediate } from "node:timers";
import { type Config, policySummary, runtimeName, VERSION } from "./config.ts";
import {
  type Authenticator,
  ChannelPatterns,
  ConnectionLimiter,
  hostPolicy,
  OPEN_AUTHENTICATOR,
  originPolicy,
  securityHeaderList,
  TokenVerifier,
  TrustedProxies,
} from "./access/mod.ts";
import {
  addOperationGates,
  addRelayRoutes,
  createApp,
  DRAIN_RETRY_AFTER_SECONDS,
  type RelayApp,
} from "./app/mod.ts";
import { HttpServer, type RequestInfo } from "./http/mod.ts";
import {
  createLogger,
  EventLoopLag,
  type Logger,
  RejectionCounter,
  relayMetrics,
} from "./observability/mod.ts";
import { apiError } from "./protocol/mod.ts";
import { LongPolls, SseTransport } from "./transports/mod.ts";
import { type InternalListener, listenOrExplain, startInternalListener } from "./internal_listener.ts";
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
  /** The operators' listener (`--internal-port`), or null. */
  readonly internalUrl: string | null;
  readonly relay: Relay;
  /** Stops accepting, closes every WebSocket with 1001, finishes in-flight HTTP responses. */
  stop(): Promise<void>;
  /**
   * The graceful stop of a deploy: `/readyz` 503 and new upgrades and streams 503 at once, sessions ended
   * spread over `--drain-timeout`, then {@link stop}.
   */
  drain(): Promise<void>;
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
  /** Drains when listening (see {@link RunningRelay.drain}), else stops. */
  drain(): Promise<void>;
  /** The relay's logger (`--log-format`, `--log-level`). */
  readonly log: Logger;
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
  const log = createLogger({ format: config.logFormat, level: config.logLevel });
  const tls = config.tlsCert !== null && config.tlsKey !== null
    ? {
      cert: await readNamed(readFile, "--tls-cert", config.tlsCert),
      key: await readNamed(readFile, "--tls-key", config.tlsKey),
    }
    : undefined;
  const secure = tls !== undefined;
  const auth = await createAuthenticator(config, readFile, log);
  const broker = await createBroker(config, log);
  const relay = new Relay(broker, {
    maxQueuedBytes: config.maxQueuedBytes,
    maxChannelsPerConnection: config.maxChannelsPerConnection,
    presence: createPresence(config, log),
    // No hooks, no runner: every hook check on the way is then one null test.
    hooks: hooks !== undefined && Object.values(hooks).some((hook) => hook !== undefined)
      ? new HookRunner(hooks, config.hookTimeoutMs, (message, fields) => log.error(message, fields))
      : null,
    reportError: (message, fields) => log.error(message, fields),
    exposePublisher: config.exposePublisher.length > 0 ? new ChannelPatterns(config.exposePublisher) : null,
  });
  const ops = new Operations(config, log);
  const app = createApp({
    ready: () => !ops.draining && broker.ready(),
    onError: (error, method, path) => log.error("request failed", { method, path, error }),
  });
  const sseTransport = new SseTransport(relay, { keepaliveMs: config.sseKeepaliveMs });
  const longPolls = new LongPolls(relay);
  // The application's routes and middleware go on the app before listen(): the relay's come after them, so
  // its middleware (logging, headers) wraps the relay's routes too.
  const addRoutes = () => {
    addOperationGates(app, {
      draining: () => ops.draining,
      hostAllowed: hostPolicy(config.allowedHosts),
      rejections: ops.rejections,
      log,
    });
    addRelayRoutes(app, {
      relay,
      sseTransport,
      longPolls,
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
  };
  const defaultHeaders = await securityHeaderList(secure);
  const transports = () => ({ sse: sseTransport.streams, longPoll: longPolls.held });
  let running: RunningRelay | null = null;
  let stopped: Promise<void> | null = null;
  return {
    app,
    relay,
    log,
    listen() {
      if (running !== null || stopped !== null) throw new Error("listen() was already called, or stop()");
      addRoutes();
      running = serve(config, runtime, app, relay, broker, defaultHeaders, tls, ops, transports);
      log.info("policy", policySummary(config));
      return running;
    },
    stop() {
      return stopped ??= running === null ? Promise.resolve(broker.close()) : running.stop();
    },
    drain() {
      return stopped ??= running === null ? Promise.resolve(broker.close()) : running.drain();
    },
  };
}

/** What the operator's side shares: the logger, the drain state, refused handshakes, the lag probe. */
class Operations {
  readonly rejections = new RejectionCounter();
  draining = false;
  lag: EventLoopLag | null = null;
  readonly log: Logger;
  readonly config: Config;

  constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
  }
}

/** Reads a file named by a flag; a failure names the flag and the file. */
async function readNamed(
  readFile: (path: string) => Promise<string>,
  flag: string,
  path: string,
): Promise<string> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new Error(`${flag}: cannot read ${path}: ${(error as Error).message}`);
  }
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
  ops: Operations,
  transports: () => { sse: number; longPoll: number },
): RunningRelay {
  const { log } = ops;
  const proxies = new TrustedProxies(config.trustProxy);
  const handler = (request: Request, info: RequestInfo) => {
    if (proxies.enabled) {
      // From a listed proxy: the client's address (caps, rate, logs) and origin come from its headers.
      const forwarded = proxies.resolve(info, request.headers);
      if (
        forwarded.remoteAddress !== info.remoteAddress &&
        !limiter.attribute(info.remoteAddress, info.remotePort, forwarded.remoteAddress)
      ) {
        ops.rejections.count("limit");
        log.warn("connection refused", { reason: "limit", remote: forwarded.remoteAddress });
        return apiError("unavailable", "too many connections from your address", {
          "retry-after": String(DRAIN_RETRY_AFTER_SECONDS),
        });
      }
      return app.fetch(request, forwarded);
    }
    return app.fetch(request, info);
  };
  const http = new HttpServer(handler, {
    defaultHeaders,
    limits: { maxBodyBytes: config.maxMessageBytes },
    onError: (error) => log.error("http", { error }),
  });
  // The handler above refuses a forwarded client at its cap through it (it runs only once listening).
  const limiter = new ConnectionLimiter(
    config.maxConnections,
    config.maxConnectionsPerIp,
    http,
    (address) => proxies.trusts(address),
  );
  const debug = log.enabled("debug");
  const listener = listenOrExplain(runtime, config.host, config.port, "--host, --port", (base) => ({
    ...base,
    tls,
    onConn: (conn) => {
      if (debug) log.debug("connection open", { remote: conn.remoteAddress, port: conn.remotePort });
      if (limiter.admit(conn)) http.serve(conn);
    },
    onConnClose: (conn) => {
      if (debug) log.debug("connection closed", { remote: conn.remoteAddress, port: conn.remotePort });
      limiter.release(conn);
    },
    onError: (error) => log.warn("accept", { error }),
  }));
  let internal: InternalListener | null = null;
  if (config.internalPort !== null) {
    ops.lag = new EventLoopLag();
    const metrics = relayMetrics({
      relay,
      http,
      limiter,
      transports,
      rejections: ops.rejections,
      lag: ops.lag,
      draining: () => ops.draining,
      build: { version: VERSION, runtime: runtimeName() },
    });
    try {
      internal = startInternalListener(runtime, config.internalHost, config.internalPort, {
        metrics: () => metrics.render(),
        ready: () => broker.ready(),
        draining: () => ops.draining,
      }, log);
    } catch (error) {
      listener.close();
      ops.lag.stop();
      throw error;
    }
  }
  const host = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
  let stopping: Promise<void> | null = null;
  const stop = async () => {
    listener.close();
    relay.shutdown();
    // The ends just written (WebSocket 1001, a stream's last `retry:` and chunk) are corked until the turn's
    // flush; let it run before the process may exit (Bun exited before it: streams lost their end).
    await new Promise((resolve) => setImmediate(resolve));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([http.shutdown(), new Promise((r) => timer = setTimeout(r, SHUTDOWN_GRACE_MS))]);
    clearTimeout(timer);
    await Promise.all([relay.presence?.store.close(), broker.close()]);
    ops.lag?.stop();
    await internal?.close();
  };
  return {
    url: `${tls !== undefined ? "https" : "http"}://${host}:${listener.port}`,
    internalUrl: internal?.url ?? null,
    relay,
    stop: () => stopping ??= stop(),
    drain: () =>
      stopping ??= (async () => {
        // Not ready at once, new upgrades and streams refused (app/operations.ts); the listener stays open
        // meanwhile so probes and refusals are answered while the load balancer moves clients away.
        ops.draining = true;
        log.info("draining", { sessions: relay.counters.connections, timeout: `${config.drainTimeoutMs}ms` });
        await relay.drain(config.drainTimeoutMs);
        await stop();
      })(),
  };
}

/**
 * The token verifier of `--jwt-secret` / `--jwt-public-key`, or an open relay, which says so on stderr: an
 * operator who forgot the flag should not find out from an incident.
 */
async function createAuthenticator(
  config: Config,
  readFile: (path: string) => Promise<string>,
  log: Logger,
): Promise<Authenticator> {
  if (config.jwtSecret === null && config.jwtPublicKey === null) {
    log.warn("no --jwt-secret or --jwt-public-key: anyone can subscribe and publish to any channel");
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
  log: Logger,
): PresenceTracker | null {
  if (config.presence.length === 0) return null;
  const maxMembers = config.presenceMaxMembers;
  const store = config.broker.startsWith("redis")
    ? new RedisPresence({
      url: config.broker,
      maxMembers,
      ttlMs: config.presenceTtlMs,
      onError: (error) => log.warn("redis presence failed", { error }),
    })
    : new MemoryPresence({ maxMembers });
  return new PresenceTracker(store, config.presence, (message, fields) => log.error(message, fields));
}

/**
 * Builds the configured broker. A Redis broker is returned at once, connecting in the background: the relay
 * serves while Redis is unreachable, with `/readyz` answering 503 and publishes refused until it is up.
 */
function createBroker(
  config: Pick<Config, "broker" | "historySize" | "historyTtlMs" | "maxHistoryBytes" | "maxChannels">,
  log: Logger,
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
        ready
          ? log.info("sqlite broker ready", { detail })
          : log.warn("sqlite broker cannot store", { detail }),
      onError: (error, channel) => log.error("sqlite broker failed", { channel, error }),
    });
  }
  // History lives in Redis there, bounded per channel by the stream length; the channel cap still applies.
  return new RedisBroker({
    url: config.broker,
    ...history,
    maxChannels: config.maxChannels,
    onReadyChange: (ready, detail) =>
      ready ? log.info("redis broker connected") : log.warn("redis broker unavailable", { detail }),
    onError: (error, channel) => log.error("redis broker failed", { channel, error }),
  });
}
