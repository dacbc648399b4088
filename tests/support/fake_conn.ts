/**
 * An in-memory {@link Conn} for unit tests: feed it bytes, read what the code under test wrote.
 * @module
 */
import type { Conn, ConnHandler } from "../../src/runtime/conn.ts";

const NOOP: ConnHandler = { data() {}, end() {}, drain() {}, close() {} };

export class FakeConn implements Conn {
  remoteAddress = "127.0.0.1";
  remotePort = 40000;
  secure = false;
  handler: ConnHandler = NOOP;
  /** Every chunk passed to `write`, in order. */
  writes: Uint8Array[] = [];
  paused = false;
  ended = false;
  closed = false;
  /** Set to make `write` report backpressure. */
  full = false;

  get bufferedAmount(): number {
    return 0;
  }

  setHandler(handler: ConnHandler): void {
    this.handler = handler;
  }

  write(bytes: Uint8Array): boolean {
    if (this.closed || this.ended) return false;
    this.writes.push(bytes.slice());
    return !this.full;
  }

  discardQueued(): number {
    return 0;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  end(): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    queueMicrotask(() => this.#finish());
  }

  close(): void {
    this.#finish();
  }

  /** Delivers bytes as the peer would (the chunk is copied, then lent, like a real adapter). */
  push(bytes: Uint8Array | string): void {
    const chunk = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    this.handler.data(chunk.slice());
  }

  /** The peer sends FIN. */
  pushEnd(): void {
    this.handler.end();
  }

  /** Everything written so far, joined. */
  output(): Uint8Array {
    const total = this.writes.reduce((n, w) => n + w.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const w of this.writes) {
      out.set(w, offset);
      offset += w.length;
    }
    return out;
  }

  /** Everything written so far as latin1 text (HTTP heads). */
  text(): string {
    return Array.from(this.output(), (b) => String.fromCharCode(b)).join("");
  }

  #finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler.close();
  }
}
