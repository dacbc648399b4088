/**
 * Reference server for the conformance suite: the relay's raw-mode contract (`GET /ws/:channel`, every
 * message broadcast to every socket of the channel, sender included) on `Deno.serve` and
 * `Deno.upgradeWebSocket`, so the suite can be compared against Deno's native WebSocket stack.
 *
 * ```sh
 * deno run -A scripts/reference/deno_native_echo.ts --port 8081
 * deno run -A scripts/conformance.ts ws://127.0.0.1:8081
 * ```
 * Flags: `--port` (default 8080, 0 = any free port), `--host` (default 127.0.0.1). Other flags are accepted and
 * ignored, so tests can start it with the relay's flags (Deno's server has no message size limit option).
 * @module
 */
import { parseArgs } from "node:util";

const CHANNEL_RE = /^\/ws\/([A-Za-z0-9._:-]{1,128})$/;

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string", default: "8080" }, host: { type: "string", default: "127.0.0.1" } },
  strict: false,
});

const channels = new Map<string, Set<WebSocket>>();

function join(channel: string, socket: WebSocket): void {
  let members = channels.get(channel);
  if (!members) channels.set(channel, members = new Set());
  members.add(socket);
  socket.onmessage = (event) => {
    for (const peer of members) if (peer.readyState === WebSocket.OPEN) peer.send(event.data);
  };
  socket.onclose = () => {
    members.delete(socket);
    if (members.size === 0) channels.delete(channel);
  };
}

Deno.serve({
  hostname: String(values.host),
  port: Number(values.port),
  onListen: ({ hostname, port }) => console.log(`edge-relay listening on http://${hostname}:${port}`),
}, (request) => {
  const match = CHANNEL_RE.exec(new URL(request.url).pathname);
  if (!match) return Response.json({ error: "not found" }, { status: 404 });
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return Response.json({ error: "expected a WebSocket upgrade" }, { status: 400 });
  }
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  join(match[1], socket);
  return response;
});
