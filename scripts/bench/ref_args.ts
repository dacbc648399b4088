/**
 * Command line of the reference servers: `--port N` (0 = any free port) and `--host H`, and the listening line
 * the bench script waits for (the same line the relay prints).
 * @module
 */
import process from "node:process";

/** Where a reference server listens. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/**
 * Reads `--port` and `--host` from the command line.
 * @default { hostname: "127.0.0.1", port: 0 }
 */
export function parseListenArgs(args: readonly string[] = process.argv.slice(2)): ListenAddress {
  const address: ListenAddress = { hostname: "127.0.0.1", port: 0 };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") address.port = Number(args[++i]);
    else if (args[i] === "--host") address.hostname = String(args[++i]);
  }
  if (!Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
    throw new RangeError(`--port must be 0..65535, got ${address.port}`);
  }
  return address;
}

/** Prints `edge-relay listening on http://HOST:PORT`, the line the bench script waits for. */
export function announce(hostname: string, port: number): void {
  console.log(`edge-relay listening on http://${hostname}:${port}`);
}

/** The raw-mode route: `/ws/:channel` with the relay's channel-name rule; returns the channel or null. */
export function channelOf(pathname: string): string | null {
  const match = /^\/ws\/([A-Za-z0-9._:-]{1,128})$/.exec(pathname);
  return match ? match[1] : null;
}

/** The body the relay's `GET /healthz` answers with. */
export const HEALTHZ_BODY = '{"status":"ok"}';
