/**
 * Helpers for the runtime adapter contract test: a listener on 127.0.0.1 that hands out accepted connections,
 * a recording handler, and `node:net` / `node:tls` peers (both work under Deno and Bun).
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Conn,
  type Listener,
  type ListenOptions,
  loadRuntime,
  type Runtime,
} from "../../src/runtime/mod.ts";

let runtime: Runtime | undefined;

/** The adapter of the runtime running the tests. */
export async function currentRuntime(): Promise<Runtime> {
  return runtime ??= await loadRuntime();
}

/** Rejects if `promise` has not settled within `ms`, naming what we waited for. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Polls `ready` every few milliseconds until it holds; rejects (and stops polling) after `ms`. */
export async function until(ms: number, what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Bytes whose value depends on the position, so a lost, repeated or reordered segment changes the content. */
export function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >>> 9) + seed) & 0xff;
  return bytes;
}

/** A running listener plus the connections it accepted, in order. */
export class TestServer {
  readonly errors: Error[] = [];
  /** Connections reported to `onConnClose`, in order. */
  readonly closedConns: Conn[] = [];
  #accepted: Conn[] = [];
  #waiters: ((conn: Conn) => void)[] = [];
  listener!: Listener;

  static async start(extra: Partial<ListenOptions> = {}): Promise<TestServer> {
    const server = new TestServer();
    const { listen } = await currentRuntime();
    server.listener = listen({
      hostname: "127.0.0.1",
      port: 0,
      ...extra,
      onConn: (conn) => {
        const waiter = server.#waiters.shift();
        if (waiter) waiter(conn);
        else server.#accepted.push(conn);
      },
      onConnClose: (conn) => server.closedConns.push(conn),
      onError: (error) => server.errors.push(error),
    });
    return server;
  }

  get port(): number {
    return this.listener.port;
  }

  /** The next accepted connection. */
  nextConn(): Promise<Conn> {
    const ready = this.#accepted.shift();
    if (ready) return Promise.resolve(ready);
    return within(3000, "an accepted connection", new Promise((resolve) => this.#waiters.push(resolve)));
  }

  close(): void {
    this.listener.close();
  }
}

/** A handler that records every event; `data` chunks are copied, as the contract requires. */
export class Recorder {
  readonly events: string[] = [];
  readonly chunks: Uint8Array[] = [];
  drains = 0;
  closes = 0;
  closeError: Error | undefined;
  readonly ended: Promise<void>;
  readonly closed: Promise<void>;
  #onEnd!: () => void;
  #onClose!: () => void;

  constructor(
    readonly conn: Conn,
    hooks: { data?(chunk: Uint8Array): void; end?(): void; drain?(): void } = {},
  ) {
    this.ended = new Promise((resolve) => this.#onEnd = resolve);
    this.closed = new Promise((resolve) => this.#onClose = resolve);
    conn.setHandler({
      data: (chunk) => {
        this.chunks.push(chunk.slice());
        this.events.push(`data:${new TextDecoder().decode(chunk)}`);
        hooks.data?.(chunk);
      },
      end: () => {
        this.events.push("end");
        this.#onEnd();
        hooks.end?.();
      },
      drain: () => {
        this.drains++;
        hooks.drain?.();
      },
      close: (error) => {
        this.closes++;
        this.closeError = error;
        this.#onClose();
      },
    });
  }

  text(): string {
    return new TextDecoder().decode(concat(this.chunks));
  }
}

/** A `node:net` or `node:tls` peer that collects what it receives. */
export class Peer {
  readonly chunks: Uint8Array[] = [];
  received = 0;
  readonly ended: Promise<void>;
  readonly closed: Promise<void>;
  error: Error | undefined;
  #progress: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Uint8Array) => {
      this.chunks.push(chunk);
      this.received += chunk.length;
      for (const wake of this.#progress.splice(0)) wake();
    });
    socket.on("error", (error) => this.error = error);
    this.ended = new Promise((resolve) => socket.once("end", () => resolve()));
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static async tcp(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<Peer> {
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: options.allowHalfOpen ?? false });
    const peer = new Peer(socket);
    await within(
      3000,
      "TCP connect",
      new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("error", reject);
      }),
    );
    return peer;
  }

  static async tls(port: number, ca: string): Promise<Peer> {
    const socket = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca });
    const peer = new Peer(socket);
    await within(
      3000,
      "TLS connect",
      new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", () => resolve());
        socket.once("error", reject);
      }),
    );
    return peer;
  }

  /** Resolves once at least `n` bytes have arrived in total. */
  async receive(n: number, ms = 5000): Promise<Uint8Array> {
    await within(
      ms,
      `${n} bytes (have ${this.received})`,
      (async () => {
        while (this.received < n) {
          await new Promise<void>((resolve) => this.#progress.push(resolve));
        }
      })(),
    );
    return this.bytes();
  }

  bytes(): Uint8Array {
    return concat(this.chunks);
  }

  text(): string {
    return new TextDecoder().decode(this.bytes());
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A throwaway self-signed certificate for localhost / 127.0.0.1 (SAN and CA:FALSE, which Deno's client needs). */
export function makeCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "edge-relay-cert-"));
  try {
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      join(dir, "k.pem"),
      "-out",
      join(dir, "c.pem"),
    ], { stdio: "ignore" });
    return { cert: readFileSync(join(dir, "c.pem"), "utf8"), key: readFileSync(join(dir, "k.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
