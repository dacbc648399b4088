/**
 * What a conformance case is, what it reports, and the context it runs in: the target, the case deadline,
 * fresh raw connections (each on a channel of its own) and the two ways a case ends early.
 * @module
 */
import { concatBytes } from "./frame.ts";
import {
  checkSwitchingProtocols,
  encodeRequest,
  randomKey,
  readResponseHead,
  upgradeHeaders,
} from "./http.ts";
import { RawSocket, type Target } from "./raw_socket.ts";
import { WsClient } from "./ws_client.ts";

/** `pass`; `non-strict`: acceptable but not ideal (e.g. TCP closed without a Close frame); `fail`. */
export type Verdict = "pass" | "non-strict" | "fail";

/** The outcome of one case. */
export interface CaseResult {
  group: string;
  name: string;
  verdict: Verdict;
  /** Why the case is not a plain pass (empty for a pass). */
  reason: string;
  durationMs: number;
}

/** One conformance case. `run` returns normally for a pass (or non-strict, see {@link CaseContext.nonStrict}). */
export interface ConformanceCase {
  group: string;
  name: string;
  /** Overrides the suite's per-case time bound (large payloads). */
  timeoutMs?: number;
  run(t: CaseContext): Promise<void>;
}

/** Thrown by {@link CaseContext.fail}; the runner turns it into a `fail` result. */
export class CaseFailure extends Error {
  override name = "CaseFailure";
}

/** Settings a case may read. */
export interface CaseSettings {
  target: Target;
  /** The server's `--max-message-bytes`. */
  maxMessageBytes: number;
  /** Prefix of the channel names the cases use, unique per run. */
  channelPrefix: string;
}

let channelCounter = 0;

/** The per-case handle: deadline, connections, verdict notes. */
export class CaseContext {
  readonly settings: CaseSettings;
  /** Epoch ms at which the case is out of time. */
  readonly deadline: number;
  readonly notes: string[] = [];
  #sockets: RawSocket[] = [];

  constructor(settings: CaseSettings, timeoutMs: number) {
    this.settings = settings;
    this.deadline = Date.now() + timeoutMs;
  }

  /** Ends the case as a failure. */
  fail(reason: string): never {
    throw new CaseFailure(reason);
  }

  /** Records an acceptable deviation; the case ends `non-strict` unless it fails later. */
  nonStrict(reason: string): void {
    this.notes.push(reason);
  }

  /** `ms` from now, but never past the case deadline. */
  within(ms: number): number {
    return Math.min(this.deadline, Date.now() + ms);
  }

  /** A fresh channel name (1–128 characters of the contract's alphabet). */
  freshChannel(): string {
    return `${this.settings.channelPrefix}-${++channelCounter}`;
  }

  /** A raw TCP connection with no handshake done (for handshake cases). Closed when the case ends. */
  async connect(): Promise<RawSocket> {
    const socket = await RawSocket.connect(this.settings.target);
    this.#sockets.push(socket);
    return socket;
  }

  /** The `Host` header value for the target. */
  get host(): string {
    const { hostname, port } = this.settings.target;
    return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }

  /**
   * Opens `ws://host/ws/<fresh channel>` with a raw socket and checks the 101 (RFC 6455 §4.1).
   * `firstBytes` are written in the same TCP write as the request (pipelined frames).
   */
  async open(firstBytes?: Uint8Array): Promise<WsClient> {
    const socket = await this.connect();
    const key = randomKey();
    const request = encodeRequest({
      path: `/ws/${this.freshChannel()}`,
      headers: upgradeHeaders(this.host, key),
    });
    const bytes = firstBytes ? concatBytes([request, firstBytes]) : request;
    await socket.write(bytes);
    const head = await readResponseHead(socket, this.deadline);
    if (typeof head === "string") this.fail(`opening handshake: ${head}`);
    const problem = checkSwitchingProtocols(head, key);
    if (problem) this.fail(`opening handshake: ${problem}`);
    return new WsClient(socket, (reason) => this.fail(reason));
  }

  /** Closes every connection the case opened. */
  dispose(): void {
    for (const s of this.#sockets) s.close();
    this.#sockets = [];
  }
}
