/**
 * One fuzz exchange on a fresh loopback TCP connection (`node:net`, so it runs on Deno and Bun): write the
 * pieces with pauses, half-close, read until the server closes or a deadline.
 * @module
 */
import { connect, type Socket } from "node:net";

/** What came back. */
export interface TcpExchange {
  /** Every byte the server sent. */
  received: Uint8Array;
  /** The server closed (FIN or reset) before the deadline. */
  closed: boolean;
  /** Our side's port: the llhttp reference reports connections by it. */
  localPort: number;
}

/** Options of {@link tcpExchange}. */
export interface TcpExchangeOptions {
  /** Pause before each piece after the first, in ms (0 = the next macrotask). */
  pausesMs?: readonly number[];
  /** Give up waiting for the server to close after this long. @default 2000 */
  timeoutMs?: number;
  /** Half-close after the last piece (the server then knows nothing more is coming). @default true */
  halfClose?: boolean;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Connects to `127.0.0.1:port`, or rejects. */
export function openSocket(port: number, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true });
    socket.setNoDelay(true);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Sends `pieces` on a new connection and collects the answer until close or timeout. */
export async function tcpExchange(
  port: number,
  pieces: readonly Uint8Array[],
  options: TcpExchangeOptions = {},
): Promise<TcpExchange> {
  const { pausesMs = [], timeoutMs = 2000, halfClose = true } = options;
  const socket = await openSocket(port);
  const localPort = socket.localPort ?? 0;
  const chunks: Uint8Array[] = [];
  let closed = false;
  const ended = new Promise<void>((resolve) => {
    socket.on("data", (chunk: Uint8Array) => chunks.push(new Uint8Array(chunk)));
    socket.on("end", () => {
      closed = true;
      resolve();
    });
    socket.on("close", () => {
      closed = true;
      resolve();
    });
    // A reset after the server refused is an ending like any other; the bytes before it were kept.
    socket.on("error", () => {});
  });
  for (let i = 0; i < pieces.length && !closed; i++) {
    if (i > 0) await delay(pausesMs[i - 1] ?? 0);
    if (!closed) socket.write(pieces[i]);
  }
  if (halfClose && !closed) socket.end();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([ended, new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs))]);
  clearTimeout(timer);
  socket.destroy();
  let size = 0;
  for (const c of chunks) size += c.length;
  const received = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    received.set(c, at);
    at += c.length;
  }
  return { received, closed, localPort };
}
