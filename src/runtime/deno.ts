/**
 * Deno adapter: `Deno.listen` connections (TCP, or TLS run by `deno_tls.ts` over them) turned into push-style
 * {@link Conn}s.
 *
 * Memory per idle connection matters (a relay holds many idle sockets): the read buffer starts small and
 * grows only while reads fill it, then shrinks back once traffic is light again.
 * @module
 */
import { type Conn, type ConnHandler, type Listener, type ListenOptions, NOOP_HANDLER } from "./conn.ts";
import {
  END_FLUSH_TIMEOUT_MS,
  HIGH_WATER_MARK,
  LINGER_BYTES,
  LINGER_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from "./limits.ts";
import { createTlsContext, TlsOverTcp } from "./deno_tls.ts";
import { toError } from "../util/mod.ts";

/** Read buffer sizes: small while idle, grown (x4) while reads fill it. */
const READ_BUFFER_MIN = 512;
const READ_BUFFER_MAX = 256 * 1024;
/** Largest joined write: corks a burst of frames into one write without pinning a whole backlog in flight. */
const MAX_BATCH_BYTES = 256 * 1024;

type DenoConn = Deno.Conn | TlsOverTcp;

class DenoSocket implements Conn {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly secure: boolean;
  #conn: DenoConn;
  #handler: ConnHandler = NOOP_HANDLER;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #inFlight = 0;
  #writing = false;
  #flushScheduled = false;
  #needDrain = false;
  #ending = false;
  #closed = false;
  #paused = false;
  #resume: (() => void) | null = null;
  #peerEnded = false;
  #lingered = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** While `end()` flushes: the bytes still buffered at the last check (progress restarts the timeout). */
  #flushMark = 0;

  readonly #onClose: ((conn: Conn) => void) | undefined;
  /** The listener's `onError`: a handler that threw is a bug, reported for the log. */
  readonly #onError: ((error: Error) => void) | undefined;

  constructor(
    conn: DenoConn,
    secure: boolean,
    onClose?: (conn: Conn) => void,
    onError?: (error: Error) => void,
  ) {
    this.#conn = conn;
    this.#onClose = onClose;
    this.#onError = onError;
    this.secure = secure;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = addr.hostname;
    this.remotePort = addr.port;
  }

  get bufferedAmount(): number {
    return this.#queued + this.#inFlight;
  }

  get closed(): boolean {
    return this.#closed;
  }

  setHandler(handler: ConnHandler): void {
    this.#handler = handler;
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    if (bytes.length === 0) return true;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing && !this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    if (this.bufferedAmount > HIGH_WATER_MARK) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  discardQueued(): number {
    const dropped = this.#queued;
    this.#queue = [];
    this.#queued = 0;
    return dropped;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const wake = this.#resume;
    this.#resume = null;
    wake?.();
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.resume();
    if (!this.#writing && !this.#flushScheduled) this.#finishEnd();
    else this.#watchFlush();
  }

  /** Closes the connection if no queued byte went out for {@link END_FLUSH_TIMEOUT_MS}. */
  #watchFlush(): void {
    this.#flushMark = this.bufferedAmount;
    this.#lingerTimer = setTimeout(() => {
      if (this.bufferedAmount < this.#flushMark) this.#watchFlush();
      else this.#teardown(undefined);
    }, END_FLUSH_TIMEOUT_MS);
  }

  close(): void {
    this.#teardown(undefined);
  }

  /** Runs the read loop until the peer or we close. */
  async run(): Promise<void> {
    let buffer = new Uint8Array(READ_BUFFER_MIN);
    let lightReads = 0;
    while (!this.#closed) {
      if (this.#paused) {
        await new Promise<void>((wake) => this.#resume = wake);
        continue;
      }
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        this.#teardown(toError(error));
        return;
      }
      if (this.#closed) return;
      if (n === null) {
        this.#peerEnded = true;
        if (this.#ending) {
          if (!this.#writing && !this.#flushScheduled) this.#teardown(undefined);
          return;
        }
        // The handler decides whether to answer and end(); nothing more can be read.
        this.#safely(() => this.#handler.end());
        return;
      }
      if (this.#ending) {
        this.#lingered += n;
        if (this.#lingered > LINGER_BYTES) this.#teardown(undefined);
        continue;
      }
      if (this.#paused) {
        // pause() came while this read was pending: hold the chunk until resume().
        await new Promise<void>((wake) => this.#resume = wake);
        if (this.#closed) return;
        if (this.#ending) continue;
      }
      this.#safely(() => this.#handler.data(buffer.subarray(0, n)));
      if (n === buffer.length && buffer.length < READ_BUFFER_MAX) {
        buffer = new Uint8Array(buffer.length * 4);
        lightReads = 0;
      } else if (buffer.length > READ_BUFFER_MIN && n < buffer.length / 8 && ++lightReads >= 4) {
        buffer = new Uint8Array(READ_BUFFER_MIN);
        lightReads = 0;
      }
    }
  }

  #flush = async (): Promise<void> => {
    this.#flushScheduled = false;
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const chunk = this.#takeBatch();
        this.#inFlight = chunk.length;
        let offset = 0;
        while (offset < chunk.length) {
          offset += await this.#conn.write(offset === 0 ? chunk : chunk.subarray(offset));
          this.#inFlight = chunk.length - offset;
        }
      }
    } catch (error) {
      this.#writing = false;
      this.#teardown(toError(error));
      return;
    }
    this.#writing = false;
    if (this.#closed) return;
    if (this.#ending) {
      this.#finishEnd();
      return;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      this.#safely(() => this.#handler.drain());
    }
  };

  /**
   * Takes the next write off the queue: every queued chunk joined into one buffer (corking), but at most about
   * {@link MAX_BATCH_BYTES}, so what stays queued can still be dropped by `discardQueued`.
   */
  #takeBatch(): Uint8Array {
    const queue = this.#queue;
    let count = 0;
    let bytes = 0;
    while (count < queue.length && (count === 0 || bytes + queue[count].length <= MAX_BATCH_BYTES)) {
      bytes += queue[count++].length;
    }
    const batch = count === 1 ? queue[0] : concat(queue, count, bytes);
    this.#queue = count === queue.length ? [] : queue.slice(count);
    this.#queued -= bytes;
    return batch;
  }

  /** Everything is flushed: send FIN; the read loop drains the peer briefly so unread input cannot become an RST. */
  #finishEnd(): void {
    if (this.#peerEnded) {
      this.#teardown(undefined);
      return;
    }
    this.#conn.closeWrite().catch(() => this.#teardown(undefined));
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = setTimeout(() => this.#teardown(undefined), LINGER_MS);
  }

  #teardown(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#lingerTimer);
    this.#queue = [];
    this.#queued = 0;
    this.#inFlight = 0;
    try {
      this.#conn.close();
    } catch { /* already closed by the runtime */ }
    this.#resume?.();
    this.#resume = null;
    this.#safely(() => this.#handler.close(error));
    this.#onClose?.(this);
  }

  /** A throwing handler must never kill the read loop of this or any other connection. */
  #safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      try {
        this.#onError?.(new Error("connection handler threw", { cause: error }));
      } catch { /* a logger must not break the read loop */ }
      this.#teardown(toError(error));
    }
  }
}

function concat(chunks: Uint8Array[], count: number, total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    out.set(chunks[i], offset);
    offset += chunks[i].length;
  }
  return out;
}

/**
 * Starts a TCP or TLS listener and calls `options.onConn` for each accepted connection at once, before any TLS
 * handshake, so connection caps count it from accept; a handshake that fails or does not finish within
 * `tlsHandshakeTimeoutMs` closes it (reported to `onError`, then `onConnClose`).
 */
export function listen(options: ListenOptions): Listener {
  const secure = options.tls !== undefined;
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const tlsContext = options.tls ? createTlsContext(options.tls) : undefined;
  const handshakeMs = options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
  const reportError = (error: unknown) => {
    try {
      options.onError?.(toError(error));
    } catch { /* a logger must not break the accept path */ }
  };
  const handshakeEvents = { failed: reportError };
  let open = true;

  /** Wraps an accepted connection, hands it to `onConn` and starts its read loop. */
  const serve = (raw: DenoConn) => {
    const socket = new DenoSocket(raw, secure, options.onConnClose, options.onError);
    try {
      options.onConn(socket);
    } catch (error) {
      socket.close();
      reportError(error);
      return;
    }
    // `onConn` may refuse the connection (connection caps) by closing it: then there is nothing to read.
    if (socket.closed) return;
    // Not awaited: an idle connection should hold one suspended read, not a chain of async frames.
    socket.run().catch((error) => {
      socket.close();
      reportError(error);
    });
  };

  (async () => {
    while (open) {
      let raw: Deno.TcpConn;
      try {
        raw = await listener.accept() as Deno.TcpConn;
      } catch (error) {
        if (!open) return;
        // EMFILE and friends: report and keep accepting after a short pause rather than spinning.
        reportError(error);
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      try {
        // Writes are corked by the adapter (and by TLS records): Nagle would only add delay.
        raw.setNoDelay(true);
      } catch { /* not fatal */ }
      serve(tlsContext ? new TlsOverTcp(raw, tlsContext, handshakeMs, handshakeEvents) : raw);
    }
  })();

  return {
    hostname: addr.hostname,
    port: addr.port,
    secure,
    close() {
      if (!open) return;
      open = false;
      try {
        listener.close();
      } catch { /* already closed */ }
    },
  };
}
