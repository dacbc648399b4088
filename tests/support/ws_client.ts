/**
 * A small promise wrapper over the runtime's built-in `WebSocket` client (an independent implementation, not
 * ours): queue incoming messages, await the next ones with a timeout, await the close.
 * @module
 */

export type Received = { type: "text"; data: string } | { type: "binary"; data: Uint8Array };

export class TestSocket {
  readonly ws: WebSocket;
  readonly messages: Received[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];
  #read = 0;

  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => resolve(), { once: true });
      this.ws.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
    });
    this.closed = new Promise((resolve) =>
      this.ws.addEventListener("close", (e) => {
        resolve({ code: e.code, reason: e.reason });
        this.#wake();
      }, { once: true })
    );
    this.ws.addEventListener("message", (e) => {
      this.messages.push(
        typeof e.data === "string"
          ? { type: "text", data: e.data }
          : { type: "binary", data: new Uint8Array(e.data as ArrayBuffer) },
      );
      this.#wake();
    });
  }

  /** Opens a socket and waits until it is open. */
  static async open(url: string, protocols?: string | string[]): Promise<TestSocket> {
    const socket = new TestSocket(url, protocols);
    await socket.opened;
    return socket;
  }

  /** The next message not yet returned by `next`. */
  async next(timeoutMs = 5000): Promise<Received> {
    await this.waitFor(this.#read + 1, timeoutMs);
    return this.messages[this.#read++];
  }

  /** The next message, parsed as JSON (envelope mode). */
  async nextJson(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const message = await this.next(timeoutMs);
    if (message.type !== "text") throw new Error("expected a text message, got binary");
    return JSON.parse(message.data);
  }

  /** Resolves once `count` messages arrived in total; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`socket closed after ${this.messages.length} of ${count} messages`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.messages.length} of ${count} messages`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  sendJson(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Rejects if `promise` does not settle within `ms`. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)
    ),
  ]);
}
