/**
 * A raw WebSocket client on `node:net` for what a polite client never does: send custom handshakes, stop
 * reading, inspect every frame the server sends. Runs on Deno and Bun.
 * @module
 */
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";

export interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
}

export class RawWebSocket {
  readonly socket: Socket;
  /** The handshake's status code (101 on success). */
  status = 0;
  headers = new Map<string, string>();
  /** Text and binary frames received (counted, not kept). */
  dataFrames = 0;
  /** Called with every frame received after the handshake (the payload is only valid during the call). */
  onFrame: ((frame: ServerFrame) => void) | undefined;
  #buffer = new Uint8Array(0);
  #headDone = false;
  #closeFrame: { code: number; reason: string } | null = null;
  #waiters: (() => void)[] = [];
  #ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  /** Connects and performs the handshake with optional extra or replacement headers. */
  static async connect(
    port: number,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<RawWebSocket> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new RawWebSocket(socket);
    const all: Record<string, string> = {
      host: `127.0.0.1:${port}`,
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": randomBytes(16).toString("base64"),
      "sec-websocket-version": "13",
      ...headers,
    };
    socket.write(
      `GET ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`,
    );
    await client.#until(() => client.#headDone || client.#ended, 5000, "handshake response");
    return client;
  }

  /** Stops reading: the kernel buffers fill and the server's send queue grows. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Sends one masked frame. */
  send(opcode: number, payload: Uint8Array, fin = true): void {
    const mask = randomBytes(4);
    const length = payload.length;
    const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const frame = new Uint8Array(header + 4 + length);
    frame[0] = (fin ? 0x80 : 0) | opcode;
    if (length < 126) frame[1] = 0x80 | length;
    else if (length < 65536) {
      frame[1] = 0x80 | 126;
      new DataView(frame.buffer).setUint16(2, length);
    } else {
      frame[1] = 0x80 | 127;
      new DataView(frame.buffer).setBigUint64(2, BigInt(length));
    }
    frame.set(mask, header);
    for (let i = 0; i < length; i++) frame[header + 4 + i] = payload[i] ^ mask[i & 3];
    this.socket.write(frame);
  }

  /** Resolves with the server's Close frame (code and reason). */
  async closeFrame(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await this.#until(() => this.#closeFrame !== null || this.#ended, timeoutMs, "close frame");
    if (this.#closeFrame === null) throw new Error("the connection ended without a Close frame");
    return this.#closeFrame;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    this.#buffer = joined;
    if (!this.#headDone) {
      const text = new TextDecoder("latin1").decode(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return;
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      this.status = Number(statusLine.split(" ")[1]);
      for (const line of lines) {
        const colon = line.indexOf(":");
        this.headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      this.#headDone = true;
      this.#buffer = this.#buffer.slice(end + 4);
      if (this.status !== 101) this.#buffer = new Uint8Array(0);
    }
    this.#parseFrames();
    this.#wake();
  }

  #parseFrames(): void {
    let offset = 0;
    const b = this.#buffer;
    while (b.length - offset >= 2) {
      const opcode = b[offset] & 0x0f;
      let length = b[offset + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (b.length - offset < 4) break;
        length = (b[offset + 2] << 8) | b[offset + 3];
        header = 4;
      } else if (length === 127) {
        if (b.length - offset < 10) break;
        length = Number(new DataView(b.buffer, b.byteOffset + offset + 2, 8).getBigUint64(0));
        header = 10;
      }
      if (b.length - offset < header + length) break;
      const payload = b.subarray(offset + header, offset + header + length);
      if (opcode === 1 || opcode === 2) this.dataFrames++;
      this.onFrame?.({ opcode, payload });
      if (opcode === 8 && this.#closeFrame === null) {
        this.#closeFrame = {
          code: payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005,
          reason: new TextDecoder().decode(payload.subarray(2)),
        };
      }
      offset += header + length;
    }
    this.#buffer = offset === 0 ? b : b.slice(offset);
  }

  async #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for the ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
