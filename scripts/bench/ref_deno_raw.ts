/**
 * Reference server: the corked raw-TCP broadcast on `Deno.listen` (see `ref_raw_core.ts`), Deno's practical
 * upper bound for a raw-mode relay. Writes queued within one turn of the event loop go out in one write call.
 *
 *     deno run --allow-net scripts/bench/ref_deno_raw.ts --port 0
 * @module
 */
import { announce, parseListenArgs } from "./ref_args.ts";
import { concat, RawPeer, type RawSink } from "./ref_raw_core.ts";

/** Read buffer: small while idle (memory per connection), grown x4 while reads fill it. */
const READ_BUFFER_MIN = 1024;
const READ_BUFFER_MAX = 64 * 1024;

class DenoSink implements RawSink {
  #conn: Deno.Conn;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #scheduled = false;
  #ending = false;
  closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  write(bytes: Uint8Array): void {
    if (this.closed || this.#ending) return;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  end(): void {
    this.#ending = true;
    if (!this.#writing && !this.#scheduled) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  #flush = async (): Promise<void> => {
    this.#scheduled = false;
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.closed) {
        const chunk = concat(this.#queue, this.#queued);
        this.#queue = [];
        this.#queued = 0;
        let offset = 0;
        while (offset < chunk.length) offset += await this.#conn.write(chunk.subarray(offset));
      }
    } catch {
      this.close();
    }
    this.#writing = false;
    if (this.#ending) this.close();
  };
}

async function serve(conn: Deno.Conn): Promise<void> {
  const sink = new DenoSink(conn);
  const peer = new RawPeer(sink);
  let buffer = new Uint8Array(READ_BUFFER_MIN);
  try {
    while (!sink.closed) {
      const n = await conn.read(buffer);
      if (n === null) break;
      peer.data(buffer.subarray(0, n));
      if (n === buffer.length && buffer.length < READ_BUFFER_MAX) buffer = new Uint8Array(buffer.length * 4);
    }
  } catch { /* reset by peer */ }
  peer.closed();
  sink.close();
}

const { hostname, port } = parseListenArgs();
const listener = Deno.listen({ hostname, port });
announce(hostname, (listener.addr as Deno.NetAddr).port);
for await (const conn of listener) {
  conn.setNoDelay(true);
  serve(conn);
}
