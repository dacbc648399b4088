/**
 * Hooks: the embedding application's own code at the relay's decision points, on every transport. `authorize`
 * runs once per connection or request, `onSubscribe` once per channel joined, `onPublish` once per message
 * published by a client; `onConnect` / `onDisconnect` observe sessions. None runs per delivery: a message
 * published once reaches its subscribers without any hook, so a relay with no hooks delivers exactly as fast
 * as before, and one with hooks pays per publish, not per subscriber.
 *
 * A hook may answer synchronously or with a promise. A hook that throws, rejects or does not answer within
 * the hook timeout fails closed: the request, connection or message it was deciding is refused, and nothing
 * else (the error is logged, never sent to the client).
 * @module
 */
import { isPromise, type MaybePromise } from "../pubsub/mod.ts";
import type { ReportError } from "./fanout.ts";

/** How a client reached the relay. */
export type HookTransport =
  /** `GET /ws/:channel`: a raw WebSocket. */
  | "websocket"
  /** `GET /ws` with `relay.v1`: an envelope WebSocket. */
  | "envelope"
  /** `GET /channels/:channel/events` or `GET /events`: server-sent events. */
  | "sse"
  /** `GET /channels/:channel/messages`: a history read or a long poll. */
  | "poll"
  /** `POST /channels/:channel/messages`: an HTTP publish. */
  | "publish";

/** Who a client is, as the hooks see it: built once per connection or request, only when hooks are set. */
export interface ClientInfo {
  readonly transport: HookTransport;
  /** The request that opened the connection (its URL, headers); its body is not readable here. */
  readonly request: Request;
  /** The peer's address. */
  readonly remoteAddress: string;
  /** The verified token's `sub`, or null (no auth, or a token without one). */
  readonly subject: string | null;
  /** What `authorize` attached (`{ user }`), or undefined. */
  readonly user: unknown;
}

/** What `authorize` is asked about. */
export interface AuthorizeContext {
  readonly transport: HookTransport;
  readonly request: Request;
  readonly remoteAddress: string;
  readonly subject: string | null;
  /** The channels the request names (none for an envelope WebSocket, which subscribes later). */
  readonly channels: readonly string[];
}

/** A refusal: the reason the client sees, and for `authorize` the HTTP status (default 403). */
export interface HookRejection {
  reject: string;
  status?: number;
}

/** `authorize`: undefined or true accepts, `{ user }` accepts and attaches it, false or `{ reject }` refuses. */
export type AuthorizeResult = undefined | void | boolean | { user: unknown } | HookRejection;
/** `onSubscribe`: undefined or true allows, false or `{ reject }` refuses. */
export type SubscribeResult = undefined | void | boolean | HookRejection;
/** `onPublish`: undefined or true allows, false or `{ reject }` refuses, `{ data }` publishes that instead. */
export type PublishResult = undefined | void | boolean | HookRejection | { data: string | Uint8Array };

/** What `onSubscribe` is asked about. */
export interface SubscribeContext {
  readonly client: ClientInfo;
  readonly channel: string;
}

/** What `onPublish` is asked about: exactly one of `text` and `binary` is set. */
export interface PublishContext {
  readonly client: ClientInfo;
  readonly channel: string;
  readonly text: string | undefined;
  readonly binary: Uint8Array | undefined;
}

/** The hooks an application may give `createRelay`. Every one is optional and may be async. */
export interface RelayHooks {
  /** Once per connection or HTTP request to a relay route, after the token check. */
  authorize?(context: AuthorizeContext): MaybePromise<AuthorizeResult>;
  /** Once per channel a client joins (WebSocket, SSE) or reads (history, long poll). */
  onSubscribe?(context: SubscribeContext): MaybePromise<SubscribeResult>;
  /** Once per message a client publishes (WebSocket raw and envelope, HTTP); not for `relay.publish`. */
  onPublish?(context: PublishContext): MaybePromise<PublishResult>;
  /** A session opened (WebSocket, SSE). Observes only: its result is ignored. */
  onConnect?(client: ClientInfo): unknown;
  /** A session closed. Observes only. */
  onDisconnect?(client: ClientInfo): unknown;
}

/** The default of `--hook-timeout`: a hook slower than this fails closed. */
export const DEFAULT_HOOK_TIMEOUT_MS = 5_000;

/** The status of a refusal whose hook asked for none, or for one outside 400–599. */
const DEFAULT_REJECT_STATUS = 403;

/**
 * A hook's decision, normalized. `failed` is set when the hook threw or timed out (the client gets a 500 or
 * 503, or an `unavailable` error), else the refusal is the hook's own (its status, 403 by default).
 */
export type HookVerdict =
  | { ok: true; user?: unknown; data?: string | Uint8Array }
  | { ok: false; status: number; reason: string; failed: "threw" | "timeout" | null };

const ALLOW: HookVerdict = Object.freeze({ ok: true as const });

/** Runs the application's hooks with the timeout, and turns their answers into {@link HookVerdict}s. */
export class HookRunner {
  readonly hooks: RelayHooks;
  readonly timeoutMs: number;

  /** Where a failed or late hook is reported (the relay's logger). */
  readonly #report: ReportError;

  constructor(hooks: RelayHooks, timeoutMs = DEFAULT_HOOK_TIMEOUT_MS, report: ReportError = () => {}) {
    this.hooks = hooks;
    this.timeoutMs = timeoutMs;
    this.#report = report;
  }

  /** True when any hook that decides (not only observes) is set. */
  get decides(): boolean {
    return this.hooks.authorize !== undefined || this.hooks.onSubscribe !== undefined ||
      this.hooks.onPublish !== undefined;
  }

  /** Authorizes a connection or request; an accepted verdict may carry the `user` to attach. */
  authorize(context: AuthorizeContext): MaybePromise<HookVerdict> {
    const hook = this.hooks.authorize;
    if (hook === undefined) return ALLOW;
    return this.#run("authorize", () => hook(context), (result) => {
      if (result !== null && typeof result === "object" && "user" in result) {
        return { ok: true, user: result.user };
      }
      return verdictOf(result as SubscribeResult, "not authorized");
    });
  }

  /** Decides one channel join or read. */
  subscribe(client: ClientInfo, channel: string): MaybePromise<HookVerdict> {
    const hook = this.hooks.onSubscribe;
    if (hook === undefined) return ALLOW;
    return this.#run(
      "onSubscribe",
      () => hook({ client, channel }),
      (result) => verdictOf(result as SubscribeResult, `not allowed to subscribe to ${channel}`),
    );
  }

  /** Decides one publish; an accepted verdict may carry replacement `data`. */
  publish(client: ClientInfo, channel: string, data: string | Uint8Array): MaybePromise<HookVerdict> {
    const hook = this.hooks.onPublish;
    if (hook === undefined) return ALLOW;
    const text = typeof data === "string" ? data : undefined;
    const binary = typeof data === "string" ? undefined : data;
    return this.#run("onPublish", () => hook({ client, channel, text, binary }), (result) => {
      if (result !== null && typeof result === "object" && "data" in result) {
        const replaced = result.data;
        if (typeof replaced === "string" || replaced instanceof Uint8Array) {
          return { ok: true, data: replaced };
        }
        return failure(
          this.#report,
          "onPublish",
          "threw",
          new TypeError("onPublish returned data that is not text or bytes"),
        );
      }
      return verdictOf(result as SubscribeResult, "message rejected");
    });
  }

  /** A session opened: tell `onConnect`, never waiting and never failing anything. */
  connected(client: ClientInfo): void {
    if (this.hooks.onConnect !== undefined) {
      observe(this.#report, "onConnect", () => this.hooks.onConnect!(client));
    }
  }

  /** A session closed: tell `onDisconnect`. */
  disconnected(client: ClientInfo): void {
    if (this.hooks.onDisconnect !== undefined) {
      observe(this.#report, "onDisconnect", () => this.hooks.onDisconnect!(client));
    }
  }

  /**
   * Calls a deciding hook: its synchronous answer is read at once (no promise, no timer), an asynchronous one
   * is raced against the timeout. Either way a throw or a rejection becomes a failed verdict.
   */
  #run(
    name: string,
    call: () => unknown,
    read: (result: unknown) => HookVerdict,
  ): MaybePromise<HookVerdict> {
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      return failure(this.#report, name, "threw", error);
    }
    if (!isPromise(result)) return read(result);
    return new Promise<HookVerdict>((resolve) => {
      const timer = setTimeout(
        () => resolve(failure(this.#report, name, "timeout", null, this.timeoutMs)),
        this.timeoutMs,
      );
      (result as Promise<unknown>).then(
        (value) => {
          clearTimeout(timer);
          resolve(read(value));
        },
        (error) => {
          clearTimeout(timer);
          resolve(failure(this.#report, name, "threw", error));
        },
      );
    });
  }
}

/** A client's identity for the hooks. */
export function clientInfo(
  transport: HookTransport,
  request: Request,
  remoteAddress: string,
  subject: string | null,
  user?: unknown,
): ClientInfo {
  return Object.freeze({ transport, request, remoteAddress, subject, user });
}

function verdictOf(result: SubscribeResult, fallbackReason: string): HookVerdict {
  if (result === undefined || result === true) return ALLOW;
  if (result === false) {
    return { ok: false, status: DEFAULT_REJECT_STATUS, reason: fallbackReason, failed: null };
  }
  if (typeof result === "object" && result !== null && typeof result.reject === "string") {
    const status = Number.isInteger(result.status) && result.status! >= 400 && result.status! <= 599
      ? result.status!
      : DEFAULT_REJECT_STATUS;
    return { ok: false, status, reason: result.reject, failed: null };
  }
  // Anything else is a bug of the hook: refuse rather than guess.
  return { ok: false, status: 500, reason: "the hook failed", failed: "threw" };
}

/** Statuses of a failed hook: 500 for a bug (it threw), 503 for one that was too slow (try again). */
const FAILED_STATUS = { threw: 500, timeout: 503 } as const;

function failure(
  report: ReportError,
  name: string,
  failed: "threw" | "timeout",
  error: unknown,
  timeoutMs?: number,
): HookVerdict {
  if (failed === "threw") report("hook failed", { hook: name, error });
  else report("hook timed out", { hook: name, timeout: `${timeoutMs}ms` });
  return {
    ok: false,
    status: FAILED_STATUS[failed],
    reason: failed === "threw" ? `the ${name} hook failed` : `the ${name} hook timed out`,
    failed,
  };
}

/** Runs an observing hook: a throw or a rejection is logged, nothing else. */
function observe(report: ReportError, name: string, call: () => unknown): void {
  try {
    const result = call();
    if (isPromise(result)) {
      result.then(undefined, (error) => report("hook failed", { hook: name, error }));
    }
  } catch (error) {
    report("hook failed", { hook: name, error });
  }
}
