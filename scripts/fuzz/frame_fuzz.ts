/**
 * WebSocket frame fuzzer: seeded frame sequences (`ws_frames.ts`) sent in random chunkings to the relay's raw
 * mode, where every message comes back to its sender, and compared with an RFC 6455 model (`ws_model.ts`):
 * echoed messages, pongs, the close code, and the TCP close after it. A bystander connection must be served
 * every `--bystander-every` cases.
 *
 * ```sh
 * deno run -A scripts/fuzz/frame_fuzz.ts --seed 1 --cases 3000 http://127.0.0.1:8080
 * ```
 * Exits 1 on any disagreement.
 * @module
 */
import type { Socket } from "node:net";
import { Rng } from "./rng.ts";
import { openSocket } from "./tcp.ts";
import { encodeFrame, type FrameSpec, generateFrames, OPCODE } from "./ws_frames.ts";
import { expectAnswer, type Expectation } from "./ws_model.ts";

/** Options of {@link runFrameFuzz}. */
export interface FrameFuzzOptions {
  /** The relay, `http://127.0.0.1:PORT`. */
  url: string;
  seed: number;
  cases: number;
  /** The relay's `--max-message-bytes`. @default 1048576 */
  maxMessageBytes?: number;
  /** Check a bystander connection every this many cases. @default 100 */
  bystanderEvery?: number;
  log?: (line: string) => void;
}

/** One disagreement with the model. */
export interface FrameFinding {
  case: number;
  problem: string;
  /** The case's frames, hex (first 64 bytes each). */
  frames: string[];
}

/** What a run measured. */
export interface FrameFuzzReport {
  seed: number;
  cases: number;
  /** Cases by the relay's close code. */
  closeCodes: Record<string, number>;
  messagesEchoed: number;
  pongs: number;
  bystanderChecks: number;
  failures: FrameFinding[];
  ms: number;
}

/** How long the relay may take to answer a case and close. */
const CASE_TIMEOUT_MS = 3000;
const MAX_PIECES = 9;
const PAUSES_MS = [0, 0, 0, 1];

/** A server frame as read. */
interface ServerFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** A connection after its handshake: frames and the end of the stream as they arrive. */
class WsPeer {
  #socket: Socket;
  #buffer = new Uint8Array(0);
  #frames: ServerFrame[] = [];
  #ended = false;
  /** The handshake answer was read: bytes from now on are frames. */
  #open = false;
  #wake: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#push(chunk));
    socket.on("end", () => this.#end());
    socket.on("close", () => this.#end());
    socket.on("error", () => this.#end());
  }

  /** Opens `/ws/<channel>`; throws unless the relay answers 101. */
  static async open(port: number, channel: string): Promise<WsPeer> {
    const socket = await openSocket(port);
    const peer = new WsPeer(socket);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    socket.write(
      `GET /ws/${channel} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const deadline = Date.now() + CASE_TIMEOUT_MS;
    let end = -1;
    while ((end = findHeadEnd(peer.#buffer)) === -1) {
      if (!await peer.#wait(deadline)) {
        socket.destroy();
        throw new Error(`no handshake answer for /ws/${channel}`);
      }
    }
    const head = new TextDecoder().decode(peer.#buffer.subarray(0, end));
    if (!head.startsWith("HTTP/1.1 101 ")) {
      socket.destroy();
      throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
    }
    peer.#buffer = peer.#buffer.slice(end + 4);
    peer.#open = true;
    peer.#parse();
    return peer;
  }

  write(bytes: Uint8Array): void {
    if (!this.#ended) this.#socket.write(bytes);
  }

  /** The next server frame; "eof" when the relay closed, "timeout" at the deadline. */
  async next(deadline: number): Promise<ServerFrame | "eof" | "timeout"> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame) return frame;
      if (this.#ended) return "eof";
      if (!await this.#wait(deadline)) return "timeout";
    }
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #push(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    this.#buffer = joined;
    this.#parse();
    this.#notify();
  }

  #end(): void {
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #wait(deadline: number): Promise<boolean> {
    const ms = deadline - Date.now();
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Parses complete frames; before the handshake ends `#buffer` holds the head, left alone. */
  #parse(): void {
    if (!this.#open) return;
    const b = this.#buffer;
    let at = 0;
    for (;;) {
      if (b.length - at < 2) break;
      const masked = (b[at + 1] & 0x80) !== 0;
      let n = b[at + 1] & 0x7f;
      let header = 2;
      if (n === 126) {
        if (b.length - at < 4) break;
        n = (b[at + 2] << 8) | b[at + 3];
        header = 4;
      } else if (n === 127) {
        if (b.length - at < 10) break;
        n = Number(new DataView(b.buffer, b.byteOffset + at + 2, 8).getBigUint64(0));
        header = 10;
      }
      if (masked) header += 4;
      if (b.length - at < header + n) break;
      this.#frames.push({
        fin: (b[at] & 0x80) !== 0,
        opcode: b[at] & 0x0f,
        masked,
        payload: b.slice(at + header, at + header + n),
      });
      at += header + n;
    }
    this.#buffer = b.slice(at);
  }
}

function findHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Sends one case and compares the relay's answer with the model; returns the problems. */
async function runCase(
  port: number,
  channel: string,
  frames: FrameSpec[],
  expected: Expectation,
  rng: Rng,
): Promise<{ problems: string[]; close: number | null | "none"; messages: number; pongs: number }> {
  const parts = frames.map(encodeFrame);
  if (expected.needsClose) {
    parts.push(encodeFrame({
      fin: true,
      rsv: 0,
      opcode: OPCODE.Close,
      masked: true,
      payload: new Uint8Array([0x03, 0xe8]),
      declaredLength: 2n,
      nonMinimal: false,
      key: rng.bytes(4),
    }));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const peer = await WsPeer.open(port, channel);
  const problems: string[] = [];
  const messages: ServerFrame[] = [];
  const pongs: Uint8Array[] = [];
  let close: number | null | "none" = "none";
  try {
    for (const piece of rng.cut(all, MAX_PIECES)) {
      peer.write(piece);
      const pause = rng.pick(PAUSES_MS);
      if (pause > 0) await delay(pause);
    }
    const deadline = Date.now() + CASE_TIMEOUT_MS;
    for (;;) {
      const frame = await peer.next(deadline);
      if (frame === "timeout") {
        problems.push(close === "none" ? "no Close frame in time" : "TCP not closed after the Close frame");
        break;
      }
      if (frame === "eof") {
        if (close === "none") problems.push("TCP closed without a Close frame");
        break;
      }
      if (frame.masked) problems.push(`masked server frame (opcode ${frame.opcode})`);
      if (close !== "none") {
        problems.push(`frame after the Close frame (opcode ${frame.opcode})`);
        continue;
      }
      if (frame.opcode === OPCODE.Close) {
        const p = frame.payload;
        close = p.length >= 2 ? (p[0] << 8) | p[1] : null;
      } else if (frame.opcode === OPCODE.Pong) pongs.push(frame.payload);
      else if (frame.opcode === OPCODE.Text || frame.opcode === OPCODE.Binary) messages.push(frame);
      else problems.push(`unexpected server frame opcode ${frame.opcode}`);
    }
  } finally {
    peer.destroy();
  }
  if (close !== "none" && !expected.closeCodes.includes(close)) {
    problems.push(
      `close ${close ?? "(no code)"}, expected ${
        expected.closeCodes.map((c) => c ?? "(no code)").join(" or ")
      }`,
    );
  }
  const echoed = messages.length === expected.messages.length &&
    messages.every((m, i) =>
      m.opcode === expected.messages[i].opcode && sameBytes(m.payload, expected.messages[i].payload)
    );
  if (!echoed) {
    problems.push(
      `echoed ${messages.map((m) => `${m.opcode}:${m.payload.length}B`).join(",") || "nothing"}, expected ` +
        `${expected.messages.map((m) => `${m.opcode}:${m.payload.length}B`).join(",") || "nothing"}`,
    );
  }
  if (pongs.length !== expected.pongs.length || !pongs.every((p, i) => sameBytes(p, expected.pongs[i]))) {
    problems.push(`${pongs.length} pongs, expected ${expected.pongs.length} (each echoing its ping)`);
  }
  return { problems, close, messages: messages.length, pongs: pongs.length };
}

/** A bystander on its own channel gets its own message back. */
async function bystanderServed(port: number): Promise<boolean> {
  try {
    const peer = await WsPeer.open(port, "fz-bystander");
    try {
      const text = new TextEncoder().encode("still here?");
      peer.write(encodeFrame({
        fin: true,
        rsv: 0,
        opcode: OPCODE.Text,
        masked: true,
        payload: text,
        declaredLength: BigInt(text.length),
        nonMinimal: false,
        key: new Uint8Array([1, 2, 3, 4]),
      }));
      const frame = await peer.next(Date.now() + CASE_TIMEOUT_MS);
      return typeof frame === "object" && sameBytes(frame.payload, text);
    } finally {
      peer.destroy();
    }
  } catch {
    return false;
  }
}

function hex(bytes: Uint8Array): string {
  const shown = bytes.subarray(0, 64).toHex();
  return bytes.length > 64 ? `${shown}…(${bytes.length} B)` : shown;
}

/** Runs the fuzzer against the relay at `options.url`. */
export async function runFrameFuzz(options: FrameFuzzOptions): Promise<FrameFuzzReport> {
  const { url, seed, cases, maxMessageBytes = 1024 * 1024, bystanderEvery = 100, log = () => {} } = options;
  const port = Number(new URL(url).port);
  const started = performance.now();
  const run = `fz${seed}x${Date.now() % 1e6}`;
  const report: FrameFuzzReport = {
    seed,
    cases: 0,
    closeCodes: {},
    messagesEchoed: 0,
    pongs: 0,
    bystanderChecks: 0,
    failures: [],
    ms: 0,
  };
  for (let index = 0; index < cases; index++) {
    const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
    const frames = generateFrames(rng);
    const expected = expectAnswer(frames, maxMessageBytes);
    const finding = (problem: string) => ({
      case: index,
      problem,
      frames: frames.map((f) => hex(encodeFrame(f))),
    });
    try {
      const result = await runCase(port, `${run}-${index}`, frames, expected, rng);
      report.cases++;
      const key = String(result.close === "none" ? "none" : result.close ?? "empty");
      report.closeCodes[key] = (report.closeCodes[key] ?? 0) + 1;
      report.messagesEchoed += result.messages;
      report.pongs += result.pongs;
      if (result.problems.length > 0) report.failures.push(finding(result.problems.join("; ")));
    } catch (error) {
      report.failures.push(finding(`case failed: ${(error as Error).message}`));
    }
    if ((index + 1) % bystanderEvery === 0 || index === cases - 1) {
      report.bystanderChecks++;
      if (!await bystanderServed(port)) {
        report.failures.push(finding(`a bystander connection was not served after case ${index}`));
        break;
      }
      log(
        `case ${index + 1}/${cases} ${
          Math.round(performance.now() - started)
        } ms, ${report.failures.length} failures`,
      );
    }
  }
  report.ms = Math.round(performance.now() - started);
  return report;
}

/** The report's summary lines. */
export function formatFrameReport(report: FrameFuzzReport): string {
  const codes = Object.entries(report.closeCodes).sort(([, a], [, b]) => b - a).map(([k, v]) => `${k}×${v}`);
  const lines = [
    `WebSocket frame fuzz: seed ${report.seed}, ${report.cases} cases in ${report.ms} ms`,
    `  close codes ${codes.join(" ")}; ${report.messagesEchoed} messages echoed, ${report.pongs} pongs; ` +
    `bystander served ${report.bystanderChecks} times`,
  ];
  if (report.failures.length === 0) lines.push("no disagreements");
  else {
    lines.push(`DISAGREEMENTS (${report.failures.length}):`);
    for (const f of report.failures) {
      lines.push(
        `  case ${f.case}: ${f.problem}`,
        ...f.frames.map((h) => `    ${h}`),
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const options: FrameFuzzOptions & { json: boolean } = { url: "", seed: 1, cases: 300, json: false };
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    if (a === "--seed") options.seed = Number(Deno.args[++i]);
    else if (a === "--cases") options.cases = Number(Deno.args[++i]);
    else if (a === "--max-message-bytes") options.maxMessageBytes = Number(Deno.args[++i]);
    else if (a === "--bystander-every") options.bystanderEvery = Number(Deno.args[++i]);
    else if (a === "--json") options.json = true;
    else if (/^https?:\/\//.test(a)) options.url = a.replace(/\/$/, "");
    else throw new Error(`unknown argument ${a}`);
  }
  if (!options.url) {
    throw new Error("usage: frame_fuzz.ts [--seed N] [--cases M] [--json] http://127.0.0.1:PORT");
  }
  const report = await runFrameFuzz({ ...options, log: (l) => console.error(l) });
  console.log(options.json ? JSON.stringify(report, null, 1) : formatFrameReport(report));
  Deno.exit(report.failures.length > 0 ? 1 : 0);
}
