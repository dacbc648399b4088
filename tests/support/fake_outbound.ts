/**
 * A fake transport for unit tests of the relay core: an {@link Outbound} that records what a session writes and
 * how it ends, with a `bufferedAmount` the test controls, and simple {@link Wire}s of text frames.
 *
 * By default every write stays queued (`bufferedAmount` grows by its length), as with a client that reads
 * nothing; `drain()` is the client catching up. `bufferedAmount` can also be set directly to stand for a
 * backlog left by earlier turns.
 * @module
 */
import { setImmediate } from "node:timers";
import { OPEN_ACCESS, type Permissions } from "../../src/access/mod.ts";
import type { ChannelMessage } from "../../src/pubsub/mod.ts";
import { perMessage } from "../../src/pubsub/mod.ts";
import { messageEnvelope } from "../../src/protocol/mod.ts";
import type { EndReason, Outbound, Session, SessionPolicy, Wire } from "../../src/relay/mod.ts";

/** How the outbound ended: `end` (polite), `fail` (policy broken), or `slow` (`closeSlow`). */
export interface Ending {
  kind: "end" | "fail" | "slow";
  reason: EndReason | "slow_consumer";
  detail: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FakeOutbound implements Outbound {
  /** Bytes queued and not yet read by the client; tests may set it. */
  bufferedAmount = 0;
  /** False: writes do not queue (a client that reads everything at once). */
  accumulate = true;
  /** Every frame written while open, in order (the same bytes the session passed). */
  writes: Uint8Array[] = [];
  /** Frames written after the outbound ended: a real transport drops them. */
  writesAfterEnd = 0;
  /** Every call to `end`, `fail` and a `closeSlow` that closed, in order. */
  endings: Ending[] = [];
  /** Calls to `closeSlow`, whatever they returned. */
  closeSlowCalls = 0;
  /** Runs in a microtask once the outbound ended, like a transport reporting its close. */
  onClosed: () => void = () => {};
  #open = true;

  get open(): boolean {
    return this.#open;
  }

  write(bytes: Uint8Array): void {
    if (!this.#open) {
      this.writesAfterEnd++;
      return;
    }
    this.writes.push(bytes);
    if (this.accumulate) this.bufferedAmount += bytes.length;
  }

  /** The client read everything queued. */
  drain(): void {
    this.bufferedAmount = 0;
  }

  end(reason: EndReason, detail: string): void {
    this.#finish({ kind: "end", reason, detail });
  }

  fail(reason: EndReason, detail: string): void {
    this.#finish({ kind: "fail", reason, detail });
  }

  closeSlow(): boolean {
    this.closeSlowCalls++;
    if (!this.#open) return false;
    this.bufferedAmount = 0;
    this.#finish({ kind: "slow", reason: "slow_consumer", detail: "slow consumer" });
    return true;
  }

  /** The frames written, decoded as UTF-8 text. */
  texts(): string[] {
    return this.writes.map((bytes) => decoder.decode(bytes));
  }

  /** The frames written, parsed as JSON (envelope mode). */
  // deno-lint-ignore no-explicit-any -- replies are checked field by field with assert
  json(): any[] {
    return this.texts().map((text) => JSON.parse(text));
  }

  /** Forgets what was written so far (not the endings). */
  clearWrites(): void {
    this.writes = [];
  }

  #finish(ending: Ending): void {
    // A transport may be asked to end twice (a policy failure after a polite end): record every request, close once.
    this.endings.push(ending);
    if (!this.#open) return;
    this.#open = false;
    queueMicrotask(() => this.onClosed());
  }
}

/**
 * A session on a {@link FakeOutbound} whose close is reported back to it, as a transport does: `make` builds
 * the session on the given outbound.
 */
export function fakeClient<S extends Session>(
  make: (out: FakeOutbound) => S,
): { out: FakeOutbound; session: S } {
  const out = new FakeOutbound();
  const session = make(out);
  out.onClosed = () => session.closed();
  return { out, session };
}

/** Raw mode: a message's data as it is (text as UTF-8), so a frame's length is the data's length. */
export const RAW_TEST_WIRE: Wire = Object.freeze({
  message: perMessage((m: ChannelMessage) => typeof m.data === "string" ? encoder.encode(m.data) : m.data),
  reply: (text: string) => encoder.encode(text),
});

/** Envelope mode: `{"type":"message",…}` per message, encoded once; replies as their JSON text. */
export const ENVELOPE_TEST_WIRE: Wire = Object.freeze({
  message: perMessage((m: ChannelMessage) => encoder.encode(messageEnvelope(m.channel, m.seq, m.data))),
  reply: (text: string) => encoder.encode(text),
});

/** An open relay's policy (everything allowed, no rate limit, 1 MiB messages), with `overrides`. */
export function testPolicy(overrides: Partial<SessionPolicy> = {}): SessionPolicy {
  return { permissions: OPEN_ACCESS, maxMessagesPerSecond: 0, maxMessageBytes: 1024 * 1024, ...overrides };
}

/** Permissions of a token granting exactly the listed channels (no patterns), until `expiresAt` (ms). */
export function grant(
  { subscribe = [], publish = [], expiresAt = Infinity }: {
    subscribe?: string[];
    publish?: string[];
    expiresAt?: number;
  },
): Permissions {
  return {
    subject: "test",
    expiresAt,
    canSubscribe: (channel) => subscribe.includes(channel),
    canPublish: (channel) => publish.includes(channel),
  };
}

/**
 * Resolves in a later event-loop turn (macrotask) than the current one: after the relay's own turn counter,
 * scheduled with `setImmediate` at the turn's first write, has moved on.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
