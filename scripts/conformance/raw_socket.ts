/**
 * A raw TCP (or TLS) connection to the server under test: bytes out exactly as the case wants them, bytes in
 * parsed by the suite's own reader. Nothing here trusts a WebSocket library.
 * @module
 */
import { ByteQueue } from "./byte_queue.ts";
import { encodeFrame, type FrameSpec, type ServerFrame, takeFrame } from "./frame.ts";

/** What a read produced: a frame, the end of the stream (`error` set on a reset), or nothing in time. */
export type ReadResult =
  | { kind: "frame"; frame: ServerFrame }
  | { kind: "eof"; error?: string }
  | { kind: "timeout" };

/** Where the server under test listens. */
export interface Target {
  hostname: string;
  port: number;
  tls: boolean;
}

const READ_BUFFER_BYTES = 256 * 1024;

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One TCP connection with a background reader feeding a {@link ByteQueue}. */
export class RawSocket {
  readonly queue: ByteQueue = new ByteQueue();
  #conn: Deno.Conn | Deno.TlsConn;
  #eof = false;
  #error: string | undefined;
  #closed = false;
  #wake: (() => void) | null = null;
  /** The first write error (the server may close while the case still writes; that is often expected). */
  writeError: string | undefined;

  private constructor(conn: Deno.Conn | Deno.TlsConn) {
    this.#conn = conn;
    this.#pump();
  }

  /** Opens a TCP (or TLS) connection; Nagle is off so byte-by-byte writes leave as separate segments. */
  static async connect(target: Target): Promise<RawSocket> {
    const conn = target.tls
      ? await Deno.connectTls({ hostname: target.hostname, port: target.port })
      : await Deno.connect({ hostname: target.hostname, port: target.port });
    if (!target.tls) (conn as Deno.TcpConn).setNoDelay(true);
    return new RawSocket(conn);
  }

  /** True once the server closed its side (or the connection failed). */
  get eof(): boolean {
    return this.#eof;
  }

  async #pump(): Promise<void> {
    const buf = new Uint8Array(READ_BUFFER_BYTES);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.queue.push(buf.slice(0, n));
        this.#notify();
      }
    } catch (e) {
      if (!this.#closed) this.#error = e instanceof Error ? e.name : String(e);
    }
    this.#eof = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Waits for more bytes or EOF; false when `deadline` (epoch ms) passes first. */
  async waitForData(deadline: number): Promise<boolean> {
    if (this.#eof) return true;
    const ms = deadline - Date.now();
    if (ms <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woke = await new Promise<boolean>((resolve) => {
      this.#wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), ms);
    });
    clearTimeout(timer);
    this.#wake = null;
    return woke;
  }

  /** Writes all bytes. Errors (the server already closed) are recorded in {@link writeError}, not thrown. */
  async write(bytes: Uint8Array): Promise<boolean> {
    if (this.#closed) return false;
    try {
      let at = 0;
      while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
      return true;
    } catch (e) {
      this.writeError ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      return false;
    }
  }

  /** Writes `bytes` in pieces of `chunkSize`, pausing `pauseMs` between pieces (0 = next macrotask). */
  async writeChunked(bytes: Uint8Array, chunkSize: number, pauseMs = 0): Promise<boolean> {
    for (let at = 0; at < bytes.length; at += chunkSize) {
      if (at > 0) await delay(pauseMs);
      if (!await this.write(bytes.subarray(at, at + chunkSize))) return false;
    }
    return true;
  }

  /** Encodes (masked unless told otherwise) and writes one frame. */
  sendFrame(spec: FrameSpec): Promise<boolean> {
    return this.write(encodeFrame(spec));
  }

  /** The next complete server frame, EOF, or timeout at `deadline` (epoch ms). */
  async readFrame(deadline: number): Promise<ReadResult> {
    for (;;) {
      const frame = takeFrame(this.queue);
      if (frame) return { kind: "frame", frame };
      if (this.#eof) return this.#error ? { kind: "eof", error: this.#error } : { kind: "eof" };
      if (!await this.waitForData(deadline)) return { kind: "timeout" };
    }
  }

  /** Half-closes our side (TCP FIN) while still reading. */
  async closeWrite(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch {
      // Already closed by the server: nothing left to half-close.
    }
  }

  /** Closes the connection at once. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}
