/**
 * Reference server: `Bun.serve` with topic pub/sub; every message is published with `server.publish`, which
 * reaches every subscriber of the channel, the sender included. Also answers `GET /healthz`.
 *
 * With `--deflate`, `perMessageDeflate` is on and every message is published with `compress = true`: clients
 * that agreed to permessage-deflate get it compressed (by uWebSockets, per subscriber; see docs/benchmarks.md).
 *
 *     bun run scripts/bench/ref_bun_native.ts --port 0 [--deflate]
 * @module
 */
import process from "node:process";
import { announce, channelOf, HEALTHZ_BODY, parseListenArgs } from "./ref_args.ts";

/** The slice of Bun's API this server uses (the project type-checks with Deno, which has no Bun types). */
interface BunWebSocket {
  data: { channel: string };
  subscribe(topic: string): void;
}
interface BunServer {
  port: number;
  hostname: string;
  upgrade(req: Request, options: { data: { channel: string } }): boolean;
  publish(topic: string, message: string | Uint8Array, compress?: boolean): number;
}
interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    fetch(req: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate?: boolean;
      open(ws: BunWebSocket): void;
      message(ws: BunWebSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
}

const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
const { hostname, port } = parseListenArgs(process.argv.slice(2).filter((a) => a !== "--deflate"));
const deflate = process.argv.includes("--deflate");

const server = Bun.serve({
  hostname,
  port,
  fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") {
      return new Response(HEALTHZ_BODY, { headers: { "content-type": "application/json" } });
    }
    const channel = channelOf(url.pathname);
    if (channel && srv.upgrade(req, { data: { channel } })) return undefined;
    return new Response("not found", { status: 404 });
  },
  websocket: {
    perMessageDeflate: deflate,
    open(ws) {
      ws.subscribe(ws.data.channel);
    },
    message(ws, message) {
      server.publish(ws.data.channel, message, deflate);
    },
  },
});
announce(hostname, server.port);
