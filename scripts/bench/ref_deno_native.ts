/**
 * Reference server: `Deno.serve` + `Deno.upgradeWebSocket`, broadcasting each message to every socket of the
 * channel in a loop (the sender included), as an application on Deno's built-in WebSocket would.
 * Also answers `GET /healthz` (the HTTP comparison point for the relay's own HTTP server).
 *
 *     deno run --allow-net scripts/bench/ref_deno_native.ts --port 0
 * @module
 */
import { announce, channelOf, HEALTHZ_BODY, parseListenArgs } from "./ref_args.ts";

const channels = new Map<string, Set<WebSocket>>();
const { hostname, port } = parseListenArgs();

function join(channel: string, socket: WebSocket): void {
  let members = channels.get(channel);
  if (!members) channels.set(channel, members = new Set());
  members.add(socket);
  socket.onmessage = (event) => {
    for (const peer of members) {
      if (peer.readyState === WebSocket.OPEN) peer.send(event.data);
    }
  };
  socket.onclose = () => {
    members.delete(socket);
    if (members.size === 0 && channels.get(channel) === members) channels.delete(channel);
  };
  socket.onerror = () => {};
}

Deno.serve({
  hostname,
  port,
  onListen: (addr) => announce(addr.hostname, addr.port),
}, (req) => {
  const url = new URL(req.url);
  if (url.pathname === "/healthz") {
    return new Response(HEALTHZ_BODY, { headers: { "content-type": "application/json" } });
  }
  const channel = channelOf(url.pathname);
  if (!channel || req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("not found", { status: 404 });
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  join(channel, socket);
  return response;
});
