/**
 * Fakes of the browser APIs the client uses (`WebSocket`, `EventSource`, `fetch`): each records what the client
 * did and lets a test play the relay's side.
 * @module
 */

/** A scripted `WebSocket`: `open()`, `receive()` and `serverClose()` play the relay. */
export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  readyState = 0;
  /** Commands the client sent, parsed. */
  sent: Record<string, unknown>[] = [];
  closedWith: number | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;

  constructor(readonly url: string, readonly protocol: string) {
    FakeWebSocket.instances.push(this);
  }

  send(text: string): void {
    if (this.readyState !== 1) throw new Error("send before open");
    this.sent.push(JSON.parse(text));
  }

  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 3;
    const onclose = this.onclose;
    queueMicrotask(() => onclose?.({ code: 1005, reason: "" }));
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }

  /** Opens and answers the client's first `ping`: the link counts as working. */
  accept(): void {
    this.open();
    this.receive({ type: "pong" });
  }

  receive(reply: object): void {
    this.onmessage?.({ data: JSON.stringify(reply) });
  }

  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  static last(): FakeWebSocket {
    return FakeWebSocket.instances.at(-1)!;
  }
}

/** A scripted `EventSource`. */
export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  readonly #listeners = new Map<string, ((event: { data: string }) => void)[]>();

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  addEventListener(type: string, listener: (event: { data: string }) => void): void {
    this.#listeners.set(type, [...this.#listeners.get(type) ?? [], listener]);
  }

  close(): void {
    this.closed = true;
  }

  open(): void {
    this.onopen?.();
  }

  emit(type: string, data: object): void {
    for (const listener of this.#listeners.get(type) ?? []) listener({ data: JSON.stringify(data) });
  }

  fail(): void {
    this.onerror?.();
  }

  static last(): FakeEventSource {
    return FakeEventSource.instances.at(-1)!;
  }
}

/** A `fetch` that records requests and answers each with `answer`. */
export function fakeFetch(answer: (url: string, init: RequestInit) => Response) {
  const requests: { url: string; init: RequestInit }[] = [];
  const fetch = (url: string, init: RequestInit) => {
    requests.push({ url, init });
    return Promise.resolve(answer(url, init));
  };
  return { requests, fetch: fetch as unknown as typeof globalThis.fetch };
}

/** The constructors as the client's options take them. */
export function fakes() {
  FakeWebSocket.instances = [];
  FakeEventSource.instances = [];
  return {
    WebSocket: FakeWebSocket as unknown as typeof WebSocket,
    EventSource: FakeEventSource as unknown as typeof EventSource,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds (at most `ms`). */
export async function until(what: string, condition: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}
