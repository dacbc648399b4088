/**
 * Independent HTTP/1.1 clients for the black-box tests of the relay's HTTP server: a raw TCP client on
 * `node:net` (runs on Deno and Bun) that can send any byte and reads responses with a deadline, an incremental
 * response reader, and `curl` as a subprocess.
 * @module
 */
import { connect, type Socket } from "node:net";
import { execFile } from "node:child_process";

/** One response as read back from the wire. */
export interface WireResponse {
  /** `HTTP/1.1` or `HTTP/1.0`, as sent. */
  version: string;
  status: number;
  reason: string;
  /** Lowercased names, in order, repeated names kept. */
  headers: [string, string][];
  /** The body as latin1 text (de-chunked); empty for HEAD, 1xx, 204 and 304. */
  body: string;
  /** The first value of a header (name in lower case). */
  get(name: string): string | undefined;
}

/** What {@link parseResponses} could read: the complete responses and the bytes after them. */
export interface ParsedResponses {
  responses: WireResponse[];
  /** Bytes after the last complete response (a partial one, or what follows a 101). */
  rest: string;
}

/**
 * Reads every complete response at the start of `text`. Bodies are framed by Content-Length or chunked
 * coding; 1xx, 204, 304 and responses to HEAD (`headRequests[i]` for the i-th final response) have none.
 * A response without framing runs to the end of the stream, so it is complete only when `eof` is true.
 * Reading stops after a 101: what follows is another protocol.
 */
export function parseResponses(
  text: string,
  options: { headRequests?: readonly boolean[]; eof?: boolean } = {},
): ParsedResponses {
  const responses: WireResponse[] = [];
  let at = 0;
  let finals = 0;
  for (;;) {
    const headEnd = text.indexOf("\r\n\r\n", at);
    if (headEnd === -1) break;
    const lines = text.slice(at, headEnd).split("\r\n");
    const statusLine = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]);
    if (statusLine === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
    const get = (name: string) => headers.find(([n]) => n === name)?.[1];
    const status = Number(statusLine[2]);
    const informational = status < 200;
    let next = headEnd + 4;
    let body = "";
    const bodiless = informational || status === 204 || status === 304 ||
      options.headRequests?.[finals] === true;
    if (!bodiless) {
      const framed = readBody(text, next, get);
      if (framed === null) break;
      [body, next] = framed;
    }
    responses.push({ version: statusLine[1], status, reason: statusLine[3], headers, body, get });
    at = next;
    if (status === 101) break;
    if (!informational) finals++;
  }
  return { responses, rest: text.slice(at) };

  function readBody(
    text: string,
    start: number,
    get: (name: string) => string | undefined,
  ): [string, number] | null {
    if (get("transfer-encoding")?.toLowerCase() === "chunked") return readChunked(text, start);
    const length = get("content-length");
    if (length !== undefined) {
      const end = start + Number(length);
      return end <= text.length ? [text.slice(start, end), end] : null;
    }
    return options.eof ? [text.slice(start), text.length] : null;
  }
}

function readChunked(text: string, start: number): [string, number] | null {
  let at = start;
  let body = "";
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return null;
    const size = parseInt(text.slice(at, lineEnd), 16);
    at = lineEnd + 2;
    if (size === 0) {
      // No trailers expected from the relay: the last chunk is followed by one empty line.
      return at + 2 <= text.length ? [body, at + 2] : null;
    }
    if (at + size + 2 > text.length) return null;
    body += text.slice(at, at + size);
    at += size + 2;
  }
}

/** Bytes of a latin1 string (one byte per char), so a test can write any byte. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A raw TCP client: writes exactly the bytes it is given and keeps everything the server sent. Every wait
 * has a deadline and fails with what was received so far, so a server that hangs fails the test instead of
 * stalling it.
 */
export class RawClient {
  #socket: Socket;
  #received = "";
  #ended = false;
  #endedAt = 0;
  #error: Error | null = null;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.#received += chunk;
      this.#notify();
    });
    socket.on("end", () => this.#markEnded());
    socket.on("error", (error) => {
      this.#error = error;
      this.#notify();
    });
    socket.on("close", () => this.#markEnded());
  }

  /** Connects to `host:port` (loopback), failing after `timeoutMs`. */
  static connect(port: number, host = "127.0.0.1", timeoutMs = 3000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, allowHalfOpen: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new RawClient(socket));
      });
    });
  }

  /** Everything received so far, as latin1 text. */
  get received(): string {
    return this.#received;
  }

  /** True once the server closed its side (FIN) or the socket was torn down. */
  get ended(): boolean {
    return this.#ended;
  }

  /** `Date.now()` when the server's close was seen, 0 before. */
  get endedAt(): number {
    return this.#endedAt;
  }

  /** The socket error seen, if any (e.g. `ECONNRESET`). */
  get error(): Error | null {
    return this.#error;
  }

  /** Writes a latin1 string (one byte per char) or bytes. */
  write(data: string | Uint8Array): void {
    if (this.#socket.destroyed) return;
    this.#socket.write(typeof data === "string" ? latin1Bytes(data) : data);
  }

  /** Sends FIN (half-close); the client can still read. */
  endWrite(): void {
    this.#socket.end();
  }

  /** Waits until `check` returns a value other than undefined; fails after `timeoutMs` with the bytes seen. */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 3000): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        let value: T | undefined;
        try {
          value = check();
        } catch (error) {
          finish();
          reject(error);
          return;
        }
        if (value !== undefined) {
          finish();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `${what}: not within ${timeoutMs} ms (ended: ${this.#ended}); received ${
              JSON.stringify(this.#received.slice(0, 2000))
            }`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(attempt);
      };
      this.#waiters.add(attempt);
      attempt();
    });
  }

  /**
   * Waits until `count` complete final responses (status ≥ 200, or a 101) arrived and returns every response parsed
   * so far, 1xx included. `headRequests` marks which final responses answer HEAD.
   */
  readResponses(
    count: number,
    timeoutMs = 3000,
    headRequests: readonly boolean[] = [],
  ): Promise<WireResponse[]> {
    return this.waitFor(`${count} response(s)`, () => {
      const { responses } = parseResponses(this.#received, { headRequests, eof: this.#ended });
      return responses.filter((r) => r.status >= 200 || r.status === 101).length >= count
        ? responses
        : undefined;
    }, timeoutMs);
  }

  /** Waits until the server closes the connection; returns everything received. */
  readToEnd(timeoutMs = 3000): Promise<string> {
    return this.waitFor(
      "the server closing the connection",
      () => this.#ended ? this.#received : undefined,
      timeoutMs,
    );
  }

  /** Destroys the socket. */
  close(): void {
    this.#socket.destroy();
  }

  #markEnded(): void {
    if (!this.#ended) {
      this.#ended = true;
      this.#endedAt = Date.now();
    }
    this.#notify();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/**
 * Opens a connection, writes `request` in one write, and reads until the server closes it (bounded).
 * Returns the raw text, the parsed responses and whether the server closed the connection.
 */
export async function exchange(
  port: number,
  request: string | Uint8Array,
  timeoutMs = 3000,
): Promise<{ text: string; responses: WireResponse[]; closed: boolean; error: Error | null }> {
  const client = await RawClient.connect(port);
  try {
    client.write(request);
    let closed = true;
    try {
      await client.readToEnd(timeoutMs);
    } catch {
      closed = false;
    }
    const text = client.received;
    return { text, responses: parseResponses(text, { eof: closed }).responses, closed, error: client.error };
  } finally {
    client.close();
  }
}

/** What `curl -i` printed, split into status, headers and body. */
export interface CurlResult {
  status: number;
  headers: [string, string][];
  body: string;
  get(name: string): string | undefined;
}

/**
 * Runs `curl -s -i` with `args` (bounded by `--max-time`) and parses the final response it printed.
 */
export function curl(args: string[], timeoutSeconds = 5): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "curl",
      ["-s", "-i", "--max-time", String(timeoutSeconds), ...args],
      { encoding: "latin1", timeout: (timeoutSeconds + 2) * 1000 },
      (error, stdout) => {
        if (error) {
          reject(
            new Error(`curl ${args.join(" ")} failed: ${error.message}; printed ${JSON.stringify(stdout)}`),
          );
          return;
        }
        // curl prints the body already de-chunked, so only the heads are parsed here; 1xx heads are skipped.
        let text = stdout;
        let head = parseResponses(text, { headRequests: [true], eof: true }).responses[0];
        while (head !== undefined && head.status < 200) {
          text = text.slice(text.indexOf("\r\n\r\n") + 4);
          head = parseResponses(text, { headRequests: [true], eof: true }).responses[0];
        }
        if (head === undefined) {
          reject(new Error(`curl printed no response: ${JSON.stringify(stdout)}`));
          return;
        }
        const last = { ...head, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
        resolve({ status: last.status, headers: last.headers, body: last.body, get: last.get });
      },
    );
  });
}
