/**
 * Bun adapter: `Bun.listen` (TCP, or TLS with `tls: { cert, key }`) turned into push-style {@link Conn}s.
 *
 * Bun pushes events to one handler object per listener, so the per-connection state lives in `socket.data`
 * (a {@link BunConn}) and no closure is created per socket. Writes are corked per event-loop turn: every
 * connection written to in a turn is flushed from one shared `setImmediate`, with queued chunks coalesced into
 * one `socket.write` call. `socket.write` accepts what the kernel takes now; the rest stays queued until Bun
 * reports `drain`.
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
import { toError } from "../util/mod.ts";

/** Queued chunks smaller than this are copied together into one `socket.write` call of at most this size. */
const COALESCE_BYTES = 64 * 1024;
/** Bytes held for a paused connection when the runtime cannot stop reading; past it the connection is closed. */
const MAX_HELD_BYTES = 1024 * 1024;
/** Compact the consumed head of the write queue once it is this long (avoids O(n) `shift()` per chunk). */
const QUEUE_COMPACT_AT = 1024;

/** The slice of Bun's socket we use (typed here so `deno check` needs no Bun type package). */
interface BunSocket {
  data: BunConn | undefined;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  /** Returns the bytes taken now (possibly fewer than asked), or -1 when the socket is closed. */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  /** Closes the socket (FIN, or RST when unread input remains, like `close(2)`). */
  end(): void;
  /** Sends FIN and keeps reading (half-close). */
  shutdown(halfClose?: boolean): void;
  /** Resets the connection. */
  terminate(): void;
  pause?(): void;
  resume?(): void;
  setNoDelay?(noDelay?: boolean): boolean;
}

interface BunSocketHandler {
  open(socket: BunSocket): void;
  handshake(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  end(socket: BunSocket): void;
  drain(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
}

interface BunTcpListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunApi {
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    tls?: { cert: string; key: string };
    socket: BunSocketHandler;
  }): BunTcpListener;
}

/** Per-connection state bits, one number instead of a field per flag (idle connections stay small). */
const FLAG = {
  Secure: 1,
  Handshaking: 2,
  Closed: 4,
  /** `end()` ran: no more writes; FIN once the queue is flushed. */
  Ending: 8,
  /** FIN sent; waiting for the peer's FIN (or the linger limits) before the final close. */
  Lingering: 16,
  PeerEnded: 32,
  /** The peer's FIN arrived while data was held; `end` is reported after that data. */
  PeerEndHeld: 64,
  Paused: 128,
  /** Listed for the next corked flush. */
  Dirty: 256,
  /** `socket.write` took less than asked: Bun reports `drain` when it can take more. */
  AwaitingDrain: 512,
  /** `write()` returned false: report `drain` once the queue is empty. */
  NeedDrain: 1024,
} as const;

const SCRATCH = new Uint8Array(COALESCE_BYTES);
let dirty: BunConn[] = [];

/** Flushes every connection written to during the turn that just ended (one immediate for all of them). */
function flushDirty(): void {
  const list = dirty;
  dirty = [];
  for (const conn of list) conn.flush();
}

class BunConn implements Conn {
  readonly remoteAddress: string;
  readonly remotePort: number;
  #socket: BunSocket;
  #handler: ConnHandler = NOOP_HANDLER;
  #flags: number;
  /** Chunks `#queue[#head..]` are queued; the first of them has `#headOffset` bytes already written. */
  #queue: Uint8Array[] = [];
  #head = 0;
  #headOffset = 0;
  #queued = 0;
  /** Data read while paused (only when Bun cannot pause reading, or read before the pause took effect). */
  #held: Uint8Array[] | null = null;
  #heldBytes = 0;
  /** Lingered bytes after `end()`. */
  #lingered = 0;
  /** While `end()` flushes: the bytes still queued at the last check (progress restarts the timeout). */
  #flushMark = 0;
  /** The TLS handshake or linger timer. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The listener's options from accept on (shared by all its connections, for `onConnClose`). */
  #owner: ListenOptions | undefined;

  constructor(socket: BunSocket, secure: boolean) {
    this.#socket = socket;
    this.#flags = secure ? FLAG.Secure | FLAG.Handshaking : 0;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort ?? 0;
  }

  get secure(): boolean {
    return (this.#flags & FLAG.Secure) !== 0;
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  get closed(): boolean {
    return (this.#flags & FLAG.Closed) !== 0;
  }

  setHandler(handler: ConnHandler): void {
    this.#handler = handler;
  }

  write(bytes: Uint8Array): boolean {
    const flags = this.#flags;
    if (flags & (FLAG.Closed | FLAG.Ending)) return false;
    if (bytes.length === 0) return true;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!(flags & (FLAG.Dirty | FLAG.AwaitingDrain))) this.#markDirty();
    if (this.#queued > HIGH_WATER_MARK) {
      this.#flags |= FLAG.NeedDrain;
      return false;
    }
    return true;
  }

  discardQueued(): number {
    // A partly written chunk stays, so the peer still receives whole writes.
    const keep = this.#headOffset > 0 ? this.#queue[this.#head] : undefined;
    const kept = keep ? keep.length - this.#headOffset : 0;
    const dropped = this.#queued - kept;
    this.#queue = keep ? [keep] : [];
    this.#head = 0;
    this.#queued = kept;
    return dropped;
  }

  pause(): void {
    if (this.#flags & (FLAG.Closed | FLAG.Ending | FLAG.Paused)) return;
    this.#flags |= FLAG.Paused;
    this.#socket.pause?.();
  }

  resume(): void {
    if (!(this.#flags & FLAG.Paused)) return;
    this.#flags &= ~FLAG.Paused;
    this.#socket.resume?.();
    // Held data is delivered on a later turn, as a read would be, never re-entering the caller.
    if (this.#held || this.#flags & FLAG.PeerEndHeld) setImmediate(deliverHeld, this);
  }

  end(): void {
    if (this.#flags & (FLAG.Closed | FLAG.Ending)) return;
    this.#flags = (this.#flags | FLAG.Ending) & ~(FLAG.Paused | FLAG.PeerEndHeld);
    this.#held = null;
    this.#heldBytes = 0;
    this.#socket.resume?.();
    if (this.#queued === 0) this.#finishEnd();
    else this.watchFlush();
  }

  /** Closes the connection if no queued byte went out for {@link END_FLUSH_TIMEOUT_MS}. */
  watchFlush(): void {
    this.#flushMark = this.#queued;
    this.startTimer(flushExpired, END_FLUSH_TIMEOUT_MS);
  }

  /** The flush timer fired: bytes went out since the last check → wait again; none → the peer stopped reading. */
  flushExpired(): void {
    if (this.#queued < this.#flushMark) this.watchFlush();
    else this.teardown(undefined);
  }

  close(): void {
    this.teardown(undefined);
  }

  /** Accepted (TLS: before its handshake): from now on its close is reported to `onConnClose`. */
  accepted(owner: ListenOptions): void {
    this.#owner = owner;
    if (!(this.#flags & FLAG.Handshaking)) this.#socket.setNoDelay?.(true);
  }

  /** The TLS handshake finished: the handshake timer stops (unless `end()` already put a linger timer there). */
  handshakeDone(): void {
    this.#flags &= ~FLAG.Handshaking;
    if (!(this.#flags & FLAG.Ending)) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#socket.setNoDelay?.(true);
  }

  get handshaking(): boolean {
    return (this.#flags & FLAG.Handshaking) !== 0;
  }

  startTimer(callback: (conn: BunConn) => void, ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(callback, ms, this);
  }

  onData(chunk: Uint8Array): void {
    const flags = this.#flags;
    if (flags & FLAG.Closed) return;
    if (flags & FLAG.Ending) {
      this.#lingered += chunk.length;
      if (this.#lingered > LINGER_BYTES) this.teardown(undefined);
      return;
    }
    if (flags & FLAG.Paused || this.#held) {
      this.#hold(chunk);
      return;
    }
    try {
      this.#handler.data(chunk);
    } catch (error) {
      this.#handlerThrew(error);
    }
  }

  onPeerEnd(): void {
    const flags = this.#flags;
    if (flags & (FLAG.Closed | FLAG.PeerEnded)) return;
    this.#flags |= FLAG.PeerEnded;
    if (flags & FLAG.Ending) {
      // Our FIN is out (or follows the queue, then `#finishEnd` sees PeerEnded): nothing left to wait for.
      if (flags & FLAG.Lingering) this.teardown(undefined);
      return;
    }
    if (flags & FLAG.Paused || this.#held) {
      this.#flags |= FLAG.PeerEndHeld;
      return;
    }
    this.#reportPeerEnd();
  }

  onDrain(): void {
    if (this.#flags & FLAG.Closed) return;
    this.#flags &= ~FLAG.AwaitingDrain;
    this.flush();
  }

  /** Writes as much of the queue as the socket takes now. */
  flush(): void {
    this.#flags &= ~FLAG.Dirty;
    if (this.#flags & (FLAG.Closed | FLAG.AwaitingDrain)) return;
    const socket = this.#socket;
    while (this.#queued > 0) {
      const queue = this.#queue;
      const first = queue[this.#head];
      const firstLeft = first.length - this.#headOffset;
      let asked: number;
      let written: number;
      if (firstLeft >= COALESCE_BYTES || queue.length - this.#head === 1) {
        asked = firstLeft;
        written = socket.write(first, this.#headOffset, firstLeft);
      } else {
        asked = this.#fillScratch();
        written = socket.write(SCRATCH, 0, asked);
      }
      if (written < 0) {
        this.teardown(new Error("socket closed while writing"));
        return;
      }
      this.#consume(written);
      if (written < asked) {
        this.#flags |= FLAG.AwaitingDrain;
        return;
      }
    }
    // Reuse a short queue array; let a long one go so its capacity is freed.
    if (this.#queue.length <= 64) this.#queue.length = 0;
    else this.#queue = [];
    this.#head = 0;
    this.#headOffset = 0;
    if (this.#flags & FLAG.Ending) {
      this.#finishEnd();
    } else if (this.#flags & FLAG.NeedDrain) {
      this.#flags &= ~FLAG.NeedDrain;
      try {
        this.#handler.drain();
      } catch (error) {
        this.#handlerThrew(error);
      }
    }
  }

  /** Delivers data held while paused, stopping again if the handler pauses. */
  deliverHeld(): void {
    while (this.#held && !(this.#flags & (FLAG.Paused | FLAG.Closed | FLAG.Ending))) {
      const chunk = this.#held.shift()!;
      this.#heldBytes -= chunk.length;
      if (this.#held.length === 0) this.#held = null;
      try {
        this.#handler.data(chunk);
      } catch (error) {
        this.#handlerThrew(error);
      }
    }
    if (!this.#held && (this.#flags & (FLAG.PeerEndHeld | FLAG.Paused | FLAG.Closed)) === FLAG.PeerEndHeld) {
      this.#flags &= ~FLAG.PeerEndHeld;
      this.#reportPeerEnd();
    }
  }

  teardown(error: Error | undefined): void {
    if (this.#flags & FLAG.Closed) return;
    this.#flags = (this.#flags | FLAG.Closed) & ~FLAG.Dirty;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#head = 0;
    this.#headOffset = 0;
    this.#queued = 0;
    this.#held = null;
    this.#heldBytes = 0;
    try {
      this.#socket.end();
    } catch { /* already closed by the runtime */ }
    try {
      this.#handler.close(error);
    } catch (thrown) {
      this.#report("connection handler threw", thrown);
    }
    try {
      this.#owner?.onConnClose?.(this);
    } catch (thrown) {
      this.#report("onConnClose threw", thrown);
    }
  }

  #markDirty(): void {
    this.#flags |= FLAG.Dirty;
    if (dirty.length === 0) setImmediate(flushDirty);
    dirty.push(this);
  }

  /** Copies queued chunks into the scratch buffer, up to its size; returns how many bytes it holds. */
  #fillScratch(): number {
    const queue = this.#queue;
    let filled = 0;
    let offset = this.#headOffset;
    for (let i = this.#head; i < queue.length && filled < COALESCE_BYTES; i++) {
      const chunk = queue[i];
      const take = Math.min(chunk.length - offset, COALESCE_BYTES - filled);
      SCRATCH.set(
        offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take),
        filled,
      );
      filled += take;
      offset = 0;
    }
    return filled;
  }

  /** Forgets `n` written bytes from the front of the queue. */
  #consume(n: number): void {
    this.#queued -= n;
    const queue = this.#queue;
    while (n > 0) {
      const left = queue[this.#head].length - this.#headOffset;
      if (n < left) {
        this.#headOffset += n;
        return;
      }
      n -= left;
      this.#head++;
      this.#headOffset = 0;
    }
    if (this.#head >= QUEUE_COMPACT_AT && this.#head * 2 >= queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #hold(chunk: Uint8Array): void {
    // The chunk is borrowed from Bun: keep a copy. Without a pause of reading this is the only bound we have.
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > MAX_HELD_BYTES) {
      this.teardown(new RangeError(`more than ${MAX_HELD_BYTES} bytes arrived while paused`));
      return;
    }
    (this.#held ??= []).push(chunk.slice());
  }

  #reportPeerEnd(): void {
    try {
      this.#handler.end();
    } catch (error) {
      this.#handlerThrew(error);
    }
  }

  /** Everything is flushed: send FIN, then drain the peer briefly so unread input cannot turn into an RST. */
  #finishEnd(): void {
    if (this.#flags & FLAG.Lingering) return; // a corked flush that found nothing left runs after us
    if (this.#flags & FLAG.PeerEnded) {
      this.teardown(undefined);
      return;
    }
    this.#flags |= FLAG.Lingering;
    try {
      this.#socket.shutdown();
    } catch {
      this.teardown(undefined);
      return;
    }
    this.startTimer(lingerExpired, LINGER_MS);
  }

  /** A throwing handler must never kill the listener or another connection: it costs only this one. */
  #handlerThrew(error: unknown): void {
    this.#report("connection handler threw", error);
    this.teardown(toError(error));
  }

  /** A bug caught at this boundary, to the listener's `onError` (for the log). */
  #report(what: string, error: unknown): void {
    try {
      this.#owner?.onError?.(new Error(what, { cause: error }));
    } catch { /* a logger must not break the connection's teardown */ }
  }
}

function deliverHeld(conn: BunConn): void {
  conn.deliverHeld();
}

function flushExpired(conn: BunConn): void {
  conn.flushExpired();
}

function lingerExpired(conn: BunConn): void {
  conn.teardown(undefined);
}

/** Starts a TCP or TLS listener and calls `options.onConn` for each accepted connection. */
export function listen(options: ListenOptions): Listener {
  const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
  const secure = options.tls !== undefined;
  const handshakeMs = options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
  const reportError = (error: unknown) => {
    try {
      options.onError?.(toError(error));
    } catch { /* a logger must not break the accept path */ }
  };
  const accept = (conn: BunConn) => {
    conn.accepted(options);
    try {
      options.onConn(conn);
    } catch (error) {
      reportError(error);
      conn.close();
    }
  };
  const handshakeExpired = (conn: BunConn) => {
    if (!conn.handshaking) return;
    reportError(new Error(`TLS handshake not finished within ${handshakeMs} ms`));
    conn.teardown(undefined);
  };

  const server = bun.listen({
    hostname: options.hostname,
    port: options.port,
    // A peer FIN is reported as `end` and the connection stays writable (the contract's half-close).
    allowHalfOpen: true,
    ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key } } : {}),
    socket: {
      open(socket) {
        // Bun opens TLS sockets on TCP accept, before the handshake: `onConn` runs now, so connection caps
        // count the connection from accept and can close it before it costs a handshake.
        const conn = new BunConn(socket, secure);
        socket.data = conn;
        if (secure) conn.startTimer(handshakeExpired, handshakeMs);
        accept(conn);
      },
      handshake(socket, success, authorizationError) {
        const conn = socket.data;
        // Bun also reports a failed handshake for a socket we closed before it finished (refused, timed out).
        if (!conn?.handshaking || conn.closed) return;
        // `authorizationError` is about the client's certificate, which we do not request.
        if (success) conn.handshakeDone();
        else {
          reportError(authorizationError ?? new Error("TLS handshake failed"));
          conn.teardown(undefined);
        }
      },
      data(socket, chunk) {
        // Bun hands a Node `Buffer`, whose `slice()` is a view, not a copy: pass a plain Uint8Array so every
        // layer above can rely on `slice()` copying, as the Conn contract's "copy what you keep" needs.
        socket.data?.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      },
      end(socket) {
        socket.data?.onPeerEnd();
      },
      drain(socket) {
        socket.data?.onDrain();
      },
      close(socket, error) {
        socket.data?.teardown(error);
      },
      error(socket, error) {
        const conn = socket.data;
        if (!conn || conn.closed) return;
        if (conn.handshaking) reportError(error);
        conn.teardown(error);
      },
    },
  });

  let open = true;
  return {
    hostname: server.hostname,
    port: server.port,
    secure,
    close() {
      if (!open) return;
      open = false;
      // `false`: accepted connections stay open (the contract); only accepting stops.
      server.stop(false);
    },
  };
}
