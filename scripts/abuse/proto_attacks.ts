/**
 * Object-prototype names (`__proto__`, `constructor`, …) where a naive relay would use plain objects as
 * maps: as channel names in raw mode and over HTTP, and as channel names, types, ids and keys of envelope
 * commands. Each must behave like any other name.
 * @module
 */
import { closePayload, OPCODE } from "../conformance/frame.ts";
import type { WsClient } from "../conformance/ws_client.ts";
import { type Attack, type AttackContext, Checks } from "./types.ts";
import { type OpenSocket, openWebSocket } from "./wire.ts";

const PROTO_NAMES = ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString"] as const;
const REPLY_MS = 2000;

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** The next data message as text, or a description of what came instead. */
async function nextText(ws: WsClient, deadline: number): Promise<string | { not: string }> {
  const event = await ws.next(deadline);
  if (event.type === "message") return decode(event.payload);
  if (event.type === "close") return { not: `close ${event.code}` };
  return { not: event.type };
}

async function closeAll(sockets: readonly OpenSocket[]): Promise<void> {
  for (const { ws } of sockets) {
    await ws.send({ opcode: OPCODE.Close, payload: closePayload(1000) });
    ws.socket.close();
  }
}

const protoChannels: Attack = {
  id: "proto-channels",
  attack: `raw-mode sockets and HTTP publishes on channels named ${PROTO_NAMES.join(", ")}`,
  expected: "ordinary channels: 101 each, each socket gets its own message only, listed by GET /channels",
  timeoutMs: () => 10_000,
  async run(ctx) {
    const checks = new Checks();
    const sockets: OpenSocket[] = [];
    try {
      for (const name of PROTO_NAMES) sockets.push(await openWebSocket(ctx, `/ws/${name}`));
      for (const [i, name] of PROTO_NAMES.entries()) {
        await sockets[i].ws.send({ opcode: OPCODE.Text, payload: encode(`raw ${name}`) });
      }
      const deadline = Date.now() + REPLY_MS;
      for (const [i, name] of PROTO_NAMES.entries()) {
        const got = await nextText(sockets[i].ws, deadline);
        checks.oneOf(`/ws/${name} received`, typeof got === "string" ? got : got.not, [`raw ${name}`]);
      }
      const post = await fetch(`${ctx.origin}/channels/__proto__/messages`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "http __proto__",
        signal: AbortSignal.timeout(REPLY_MS),
      });
      await post.body?.cancel();
      checks.oneOf("POST /channels/__proto__/messages", post.status, [200]);
      const viaHttp = await nextText(sockets[0].ws, Date.now() + REPLY_MS);
      checks.oneOf("/ws/__proto__ received", typeof viaHttp === "string" ? viaHttp : viaHttp.not, [
        "http __proto__",
      ]);
      const list = await fetch(`${ctx.origin}/channels`, { signal: AbortSignal.timeout(REPLY_MS) });
      const body = await list.json() as { channels?: { channel: string; subscribers: number }[] };
      checks.oneOf("GET /channels", list.status, [200]);
      for (const name of PROTO_NAMES) {
        const entry = body.channels?.find((c) => c.channel === name);
        checks.ok(
          entry !== undefined && entry.subscribers >= 1,
          `GET /channels does not list ${name} as subscribed`,
        );
      }
    } catch (error) {
      checks.problems.push((error as Error).message);
    } finally {
      await closeAll(sockets);
    }
    return {
      observed: checks.problems.length === 0
        ? `${PROTO_NAMES.length} channels served like any other`
        : checks.problems.join("; "),
      problems: checks.problems,
      metrics: { channels: PROTO_NAMES.length, opened: sockets.length },
    };
  },
};

/** One envelope command and the reply types it must get (in any order). */
interface Step {
  send: Record<string, unknown> | string;
  replies: readonly { type: string; code?: string; id?: string; channel?: string }[];
}

/** JSON texts that put prototype names in every position of an envelope command. */
function envelopeSteps(ctx: AttackContext): Step[] {
  const fresh = ctx.channel("abuse");
  return [
    {
      send: { type: "subscribe", channel: "__proto__" },
      replies: [{ type: "subscribed", channel: "__proto__" }],
    },
    {
      send: { type: "subscribe", channel: "constructor" },
      replies: [{ type: "subscribed", channel: "constructor" }],
    },
    {
      send: { type: "publish", channel: "__proto__", text: "p", id: "__proto__" },
      replies: [{ type: "message", channel: "__proto__" }, { type: "ack", id: "__proto__" }],
    },
    {
      // JSON.parse makes "__proto__" an own key; a relay that merged it into an object would see a type.
      send: `{"__proto__":{"type":"subscribe","channel":"${fresh}"}}`,
      replies: [{ type: "error", code: "bad_command" }],
    },
    { send: { type: "__proto__", channel: fresh }, replies: [{ type: "error", code: "unknown_type" }] },
    { send: { type: "constructor", channel: fresh }, replies: [{ type: "error", code: "unknown_type" }] },
    { send: { type: "toString", channel: fresh }, replies: [{ type: "error", code: "unknown_type" }] },
    {
      send:
        `{"type":"publish","channel":"constructor","text":"c","constructor":{"prototype":{"polluted":1}}}`,
      replies: [{ type: "message", channel: "constructor" }, { type: "ack" }],
    },
    {
      send: `{"type":"subscribe","channel":"hasOwnProperty","__proto__":{"since":0,"epoch":"x"}}`,
      replies: [{ type: "subscribed", channel: "hasOwnProperty" }],
    },
  ];
}

const protoEnvelope: Attack = {
  id: "proto-envelope",
  attack: "envelope commands with __proto__/constructor/toString as channel, type, id and JSON keys",
  expected: "subscribed/ack/message or an error reply for each, as for any name; never a close",
  timeoutMs: () => 15_000,
  async run(ctx) {
    const checks = new Checks();
    let socket: OpenSocket | undefined;
    let replies = 0;
    try {
      socket = await openWebSocket(ctx, "/ws", { "Sec-WebSocket-Protocol": "relay.v1" });
      for (const step of envelopeSteps(ctx)) {
        const text = typeof step.send === "string" ? step.send : JSON.stringify(step.send);
        await socket.ws.send({ opcode: OPCODE.Text, payload: encode(text) });
        const deadline = Date.now() + REPLY_MS;
        const got: Record<string, unknown>[] = [];
        for (let i = 0; i < step.replies.length; i++) {
          const reply = await nextText(socket.ws, deadline);
          if (typeof reply !== "string") {
            checks.problems.push(`${text}: expected a reply, got ${reply.not}`);
            break;
          }
          got.push(JSON.parse(reply));
          replies++;
        }
        for (const want of step.replies) {
          const match = got.find((g) => Object.entries(want).every(([k, v]) => g[k] === v));
          checks.ok(
            match !== undefined,
            `${text}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`,
          );
        }
        if (checks.problems.length > 0) break;
      }
    } catch (error) {
      checks.problems.push((error as Error).message);
    } finally {
      if (socket) await closeAll([socket]);
    }
    return {
      observed: checks.problems.length === 0
        ? `every command answered as for any other name (${replies} replies), connection kept open`
        : checks.problems.join("; "),
      problems: checks.problems,
      metrics: { replies },
    };
  },
};

/** The prototype-name attacks on channels and envelopes. */
export const PROTO_ATTACKS: readonly Attack[] = [protoChannels, protoEnvelope];
