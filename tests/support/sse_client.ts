/**
 * A server-sent events client on `node:net` (independent of the relay's code): sends a GET, reads the head,
 * decodes a chunked or close-delimited body, parses events the way the HTML standard says (fields, comments,
 * blank-line dispatch, the last event id), and can stop reading to play a stalled reader. Runs on Deno and Bun.
 * @module
 */
import { connect, type Socket } from "node:net";

/** One dispatched event. `id` is the stream's last event id at dispatch. */
export interface SseEvent {
  event: string;
  data: string;
  id: string;
}

export class SseClient {
  readonly socket: Socket;
  status = 0;
  readonly headers = new Map<string, string>();
  readonly events: SseEvent[] = [];
  /** Comment lines seen (keep-alives). */
  comments = 0;
  /** `retry:` values seen, in order. */
  readonly retries: number[] = [];
  /** The last event id, as an EventSource keeps it (id-only blocks included). */
  lastEventId = "";
  /** True once the chunked body ended with its last chunk (a clean end, not a cut connection). */
  cleanEnd = false;
  /** The body of a non-200 answer. */
  body = "";
  readonly ended: Promise<void>;
  #raw = new Uint8Array(0);
  #headDone = false;
  #chunked = false;
  #text = "";
  #decoder = new TextDecoder();
  #field = { event: "", data: [] as string[], id: "" };
  #waiters: (() => void)[] = [];
  #closed = false;
  #read = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("error", () => {});
    this.ended = new Promise((resolve) =>
      socket.on("close", () => {
        this.#closed = true;
        resolve();
        this.#wake();
      })
    );
  }

  /** Connects and sends `GET path` with extra headers; resolves once the response head arrived. */
  static async open(port: number, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    const client = new SseClient(socket);
    let head =
      `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: text/event-stream\r\nconnection: close\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    socket.write(head + "\r\n");
    await client.#until(() => client.#headDone, 10_000, "the response head");
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next event not yet returned by `next`. */
  async next(timeoutMs = 5000): Promise<SseEvent> {
    await this.waitFor(this.#read + 1, timeoutMs);
    return this.events[this.#read++];
  }

  /** The next event's data as JSON, checking its event name. */
  async nextJson(event: string, timeoutMs = 5000): Promise<Record<string, unknown> & { id: string }> {
    const e = await this.next(timeoutMs);
    if (e.event !== event) throw new Error(`expected event ${event}, got ${e.event}: ${e.data}`);
    return { ...JSON.parse(e.data), id: e.id };
  }

  /** Resolves once `count` events arrived in total. */
  waitFor(count: number, timeoutMs = 5000): Promise<void> {
    return this.#until(() => this.events.length >= count, timeoutMs, `${count} events`);
  }

  async #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.#closed) throw new Error(`stream closed before ${what} (${this.events.length} events)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.events.length} events)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #onData(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#raw.length + chunk.length);
    joined.set(this.#raw);
    joined.set(chunk, this.#raw.length);
    this.#raw = joined;
    if (!this.#headDone) {
      const end = indexOf(this.#raw, "\r\n\r\n");
      if (end < 0) return;
      const lines = new TextDecoder().decode(this.#raw.subarray(0, end)).split("\r\n");
      this.status = Number(lines[0].split(" ")[1]);
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        this.headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      this.#chunked = this.headers.get("transfer-encoding") === "chunked";
      this.#raw = this.#raw.subarray(end + 4);
      this.#headDone = true;
    }
    this.#body();
    this.#wake();
  }

  #body(): void {
    if (this.status !== 200) {
      this.body += this.#decoder.decode(this.#raw, { stream: true });
      this.#raw = new Uint8Array(0);
      return;
    }
    if (!this.#chunked) {
      this.#feed(this.#decoder.decode(this.#raw, { stream: true }));
      this.#raw = new Uint8Array(0);
      return;
    }
    for (;;) {
      const line = indexOf(this.#raw, "\r\n");
      if (line < 0) return;
      const size = parseInt(new TextDecoder().decode(this.#raw.subarray(0, line)), 16);
      if (size === 0) {
        this.cleanEnd = true;
        this.#raw = this.#raw.subarray(line + 2);
        return;
      }
      if (this.#raw.length < line + 2 + size + 2) return;
      this.#feed(this.#decoder.decode(this.#raw.subarray(line + 2, line + 2 + size), { stream: true }));
      this.#raw = this.#raw.subarray(line + 2 + size + 2);
    }
  }

  /** The event-stream interpretation (HTML §9.2.6), LF line ends (what the relay sends). */
  #feed(text: string): void {
    this.#text += text;
    let nl;
    while ((nl = this.#text.indexOf("\n")) >= 0) {
      const line = this.#text.slice(0, nl);
      this.#text = this.#text.slice(nl + 1);
      if (line === "") {
        this.lastEventId = this.#field.id;
        if (this.#field.data.length > 0) {
          this.events.push({
            event: this.#field.event || "message",
            data: this.#field.data.join("\n"),
            id: this.lastEventId,
          });
        }
        this.#field = { event: "", data: [], id: this.lastEventId };
        continue;
      }
      if (line.startsWith(":")) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "event") this.#field.event = value;
      else if (name === "data") this.#field.data.push(value);
      else if (name === "id") this.#field.id = value;
      else if (name === "retry") this.retries.push(Number(value));
    }
  }
}

function indexOf(bytes: Uint8Array, text: string): number {
  const codes = [...text].map((c) => c.charCodeAt(0));
  outer: for (let i = 0; i + codes.length <= bytes.length; i++) {
    for (let j = 0; j < codes.length; j++) if (bytes[i + j] !== codes[j]) continue outer;
    return i;
  }
  return -1;
}
