/**
 * Reference server: the corked raw-TCP broadcast on `Bun.listen` (see `ref_raw_core.ts`), Bun's practical
 * upper bound for a raw-mode relay. Writes queued within one turn go out in one `socket.write`.
 *
 * The flush runs in `setImmediate`, not a microtask: Bun drains microtasks after every socket callback, so a
 * microtask flush corks only one `data` event; `setImmediate` waits until every socket that became readable in
 * this loop iteration was served (measured: about 2.5x fewer CPU us per delivery in the 16-client chat).
 *
 *     bun run scripts/bench/ref_bun_raw.ts --port 0
 * @module
 */
import { setImmediate } from "node:timers";
import { announce, parseListenArgs } from "./ref_args.ts";
import { concat, RawPeer, type RawSink } from "./ref_raw_core.ts";

/** The slice of Bun's socket API used here (the project type-checks with Deno, which has no Bun types). */
interface BunSocket {
  data: BunSink;
  write(bytes: Uint8Array): number;
  end(): void;
  setNoDelay?(enabled: boolean): void;
}
interface BunGlobal {
  listen(options: {
    hostname: string;
    port: number;
    socket: {
      open(socket: BunSocket): void;
      data(socket: BunSocket, chunk: Uint8Array): void;
      drain(socket: BunSocket): void;
      close(socket: BunSocket): void;
    };
  }): { port: number };
}

const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;

class BunSink implements RawSink {
  readonly peer: RawPeer;
  #socket: BunSocket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  /** Bytes the kernel did not take yet; flushed on `drain`. */
  #backlog: Uint8Array | null = null;
  #scheduled = false;
  #ending = false;

  constructor(socket: BunSocket) {
    this.#socket = socket;
    this.peer = new RawPeer(this);
  }

  write(bytes: Uint8Array): void {
    if (this.#ending) return;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  end(): void {
    this.#ending = true;
    if (!this.#scheduled && !this.#backlog) this.#socket.end();
  }

  flush = (): void => {
    this.#scheduled = false;
    if (this.#queue.length > 0) {
      const chunk = concat(
        this.#backlog ? [this.#backlog, ...this.#queue] : this.#queue,
        this.#queued + (this.#backlog?.length ?? 0),
      );
      this.#queue = [];
      this.#queued = 0;
      this.#backlog = null;
      const n = this.#socket.write(chunk);
      if (n < 0) return;
      if (n < chunk.length) this.#backlog = chunk.subarray(n);
    } else if (this.#backlog) {
      const chunk = this.#backlog;
      this.#backlog = null;
      const n = this.#socket.write(chunk);
      if (n >= 0 && n < chunk.length) this.#backlog = chunk.subarray(n);
    }
    if (this.#ending && !this.#backlog) this.#socket.end();
  };
}

const { hostname, port } = parseListenArgs();
const listener = Bun.listen({
  hostname,
  port,
  socket: {
    open(socket) {
      socket.setNoDelay?.(true);
      socket.data = new BunSink(socket);
    },
    data(socket, chunk) {
      socket.data.peer.data(chunk);
    },
    drain(socket) {
      socket.data.flush();
    },
    close(socket) {
      socket.data.peer.closed();
    },
  },
});
announce(hostname, listener.port);
