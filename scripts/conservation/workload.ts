/**
 * The clients of a conservation run: publishers on every path (raw WebSocket, envelope with ids and acks, HTTP
 * POST) and envelope subscribers that drop (clean close or abort) and resume with `since`/`epoch` on any node.
 * Every payload is unique (`<publisher>:<n>`), so the ledger can tell where each one ended up.
 * @module
 */
import { RawWebSocket } from "../../tests/support/raw_ws.ts";
import { TestSocket } from "../../tests/support/ws_client.ts";
import type { Ledger, SubscriberLedger } from "./ledger.ts";

/** A relay node clients may use. */
export interface Node {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
}

/** What the clients share: the nodes still in use, the channels, the ledger, a seeded random source. */
export interface Field {
  /** Nodes still in use; a node taken out (killed) is no longer picked, and its clients move on. */
  alive(): readonly Node[];
  readonly channels: readonly string[];
  readonly ledger: Ledger;
  readonly random: () => number;
  /** Milliseconds between two publishes of one publisher. */
  readonly publishEveryMs: number;
  /** True once publishing must stop. */
  stopping(): boolean;
}

/** Counts of publish attempts, for the report. */
export interface PublishStats {
  rawSent: number;
  envelopeSent: number;
  httpSent: number;
  /** Refused, failed or unanswered publishes (expected while Redis is down or a node dies). */
  refused: number;
}

/** A subscriber's connection lives this long before it drops (milliseconds). */
export const SUBSCRIBER_LIFE_MS = { min: 500, max: 3000 } as const;
/** Pause before a client reconnects after a failure (milliseconds). */
const RETRY_MS = 200;
/** How long an envelope publisher waits for its last acks when stopping (milliseconds). */
const ACK_WAIT_MS = 2000;
/** An HTTP publish not answered within this many milliseconds counts as refused. */
const HTTP_TIMEOUT_MS = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(field: Field, items: readonly T[]): T => items[Math.floor(field.random() * items.length)];

/** Raw mode: one channel, text frames, no ack (lost silently when a node or Redis dies, as documented). */
export async function rawPublisher(field: Field, name: string, channel: string, stats: PublishStats) {
  let n = 0;
  while (!field.stopping()) {
    let socket: TestSocket | undefined;
    try {
      socket = await TestSocket.open(`${pick(field, field.alive()).wsUrl}/ws/${channel}`);
      while (!field.stopping() && socket.ws.readyState === WebSocket.OPEN) {
        socket.ws.send(`${name}:${n++}`);
        stats.rawSent++;
        socket.messages.length = 0; // its own channel's echoes: not checked here
        await sleep(field.publishEveryMs);
      }
    } catch {
      stats.refused++;
    }
    socket?.close();
    if (!field.stopping()) await sleep(RETRY_MS);
  }
}

/** Envelope mode: `publish` with an id on a random channel; an `ack` names the seq. */
export async function envelopePublisher(field: Field, name: string, stats: PublishStats) {
  let n = 0;
  while (!field.stopping()) {
    const pending = new Map<string, { channel: string; text: string }>();
    let socket: TestSocket | undefined;
    try {
      socket = await TestSocket.open(`${pick(field, field.alive()).wsUrl}/ws`, "relay.v1");
      const opened = socket;
      opened.ws.addEventListener("message", (event) => {
        opened.messages.length = 0;
        const frame = JSON.parse(String(event.data));
        const sent = pending.get(frame.id);
        if (sent === undefined) return;
        pending.delete(frame.id);
        if (frame.type === "ack") field.ledger.acked(sent.channel, frame.seq, sent.text);
        else stats.refused++;
      });
      while (!field.stopping() && opened.ws.readyState === WebSocket.OPEN) {
        const channel = pick(field, field.channels);
        const id = `p${n}`;
        const text = `${name}:${n++}`;
        pending.set(id, { channel, text });
        opened.sendJson({ type: "publish", channel, text, id });
        stats.envelopeSent++;
        await sleep(field.publishEveryMs);
      }
      const deadline = Date.now() + ACK_WAIT_MS;
      while (pending.size > 0 && opened.ws.readyState === WebSocket.OPEN && Date.now() < deadline) {
        await sleep(20);
      }
    } catch {
      // refused or dropped: counted below
    }
    stats.refused += pending.size; // never acknowledged: may or may not have been stored
    socket?.close();
    if (!field.stopping()) await sleep(RETRY_MS);
  }
}

/** HTTP: `POST /channels/:channel/messages`; a 200 names the seq. */
export async function httpPublisher(field: Field, name: string, stats: PublishStats) {
  let n = 0;
  while (!field.stopping()) {
    const channel = pick(field, field.channels);
    const text = `${name}:${n++}`;
    stats.httpSent++;
    try {
      const response = await fetch(`${pick(field, field.alive()).url}/channels/${channel}/messages`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: text,
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
      const body = await response.json();
      if (response.status === 200) field.ledger.acked(channel, body.seq, text);
      else stats.refused++;
    } catch {
      stats.refused++;
    }
    await sleep(field.publishEveryMs);
  }
}

/**
 * An envelope subscriber on every channel that drops its connection every 0.5–3 s, half the time with a clean
 * close and half with an abort (no close handshake), and resumes where it stood on a random node.
 */
export class Subscriber {
  readonly ledger: SubscriberLedger;
  reconnects = 0;
  readonly #field: Field;
  #socket: RawWebSocket | undefined;
  #node: Node | undefined;
  /** A subscribe of this connection was refused (Redis unavailable): the connection misses a channel. */
  #refused = false;
  /** Set by {@link finish}: the churn loop ends and the last connection stays on a surviving node. */
  #finishing = false;
  #churning: Promise<void> = Promise.resolve();

  constructor(field: Field, name: string) {
    this.#field = field;
    this.ledger = field.ledger.subscriber(name, field.channels);
  }

  /** Starts connecting, resuming and dropping, again and again, until {@link finish}. */
  start(): void {
    this.#churning = this.#churn();
  }

  async #churn(): Promise<void> {
    while (!this.#finishing) {
      try {
        await this.#connect(pick(this.#field, this.#field.alive()));
        const life = SUBSCRIBER_LIFE_MS.min +
          this.#field.random() * (SUBSCRIBER_LIFE_MS.max - SUBSCRIBER_LIFE_MS.min);
        const until = Date.now() + life;
        while (!this.#finishing && Date.now() < until && this.#open) await sleep(20);
        if (this.#finishing) return;
        if (this.#field.random() < 0.5) await this.#closeCleanly();
        else this.#abort();
      } catch {
        this.#abort();
        await sleep(RETRY_MS);
      }
      this.reconnects++;
    }
  }

  /**
   * Stops churning and makes sure the last connection is on a surviving node; resolves once every channel
   * reached `finals` (its final epoch and seq) or `timeoutMs` passed. Returns the channels that did not.
   */
  async finish(finals: Map<string, { epoch: string; seq: number }>, timeoutMs: number): Promise<string[]> {
    this.#finishing = true;
    await this.#churning;
    const deadline = Date.now() + timeoutMs;
    const behind = () => [...finals].filter(([c, f]) => !this.ledger.ended(c, f)).map(([c]) => c);
    while (behind().length > 0 && Date.now() < deadline) {
      const onSurvivor = this.#node !== undefined && this.#field.alive().includes(this.#node);
      if (!this.#open || !onSurvivor || this.#refused) {
        this.#abort();
        try {
          await this.#connect(pick(this.#field, this.#field.alive()));
        } catch {
          await sleep(RETRY_MS);
        }
      }
      await sleep(20);
    }
    const left = behind();
    this.#abort();
    return left;
  }

  get #open(): boolean {
    return this.#socket !== undefined && !this.#socket.socket.destroyed;
  }

  async #connect(node: Node): Promise<void> {
    this.#node = node;
    const socket = await RawWebSocket.connect(node.port, "/ws", { "sec-websocket-protocol": "relay.v1" });
    if (socket.status !== 101) {
      socket.destroy();
      throw new Error(`upgrade refused with ${socket.status}`);
    }
    this.#socket = socket;
    this.#refused = false;
    const decoder = new TextDecoder();
    socket.onFrame = (frame) => {
      // Frames that arrive after this connection was given up are not the subscriber's any more.
      if (frame.opcode !== 1 || this.#socket !== socket) return;
      this.#receive(JSON.parse(decoder.decode(frame.payload)));
    };
    for (const channel of this.#field.channels) {
      const { epoch, expect } = this.ledger.position(channel);
      const resume = epoch === undefined ? { since: 0 } : { since: expect - 1, epoch };
      const command = JSON.stringify({ type: "subscribe", channel, ...resume });
      socket.send(1, new TextEncoder().encode(command));
    }
  }

  #receive(frame: Record<string, unknown>): void {
    if (frame.type === "subscribed") {
      this.ledger.subscribed(frame as unknown as Parameters<SubscriberLedger["subscribed"]>[0]);
    } else if (frame.type === "message") {
      this.ledger.message(frame.channel as string, frame.seq as number, frame.text as string);
    } else if (frame.type === "error") {
      this.#refused = true;
    }
  }

  async #closeCleanly(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    socket.send(8, new Uint8Array([0x03, 0xe8])); // 1000, RFC 6455 §7.4.1
    await socket.closeFrame(2000).catch(() => {});
    socket.destroy();
  }

  #abort(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }
}
