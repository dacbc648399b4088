/**
 * Authentication, channel permissions and message rate limits end to end: the real relay as a subprocess with
 * `--jwt-secret` and `--jwt-public-key`, real tokens signed here with WebCrypto (HS256 and ES256), independent
 * clients (fetch, raw sockets, the runtime's WebSocket).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { TestSocket, within } from "../support/ws_client.ts";
import { RawWebSocket } from "../support/raw_ws.ts";
import {
  epochSeconds,
  generateSigningKey,
  hs256,
  mintToken,
  type SigningKey,
  signWith,
  unsigned,
} from "../support/jwt_mint.ts";

const SECRET = "e2e-secret-with-more-than-32-bytes-of-entropy";
/** Subscribe to any `room-*`, publish only to `room-1`. */
const ROOMS = { subscribe: ["room-*"], publish: ["room-1"] };
const claims = (extra: Record<string, unknown> = {}) => ({
  sub: "alice",
  exp: epochSeconds(600),
  relay: ROOMS,
  ...extra,
});

let relay: RelayProcess;
let es256: SigningKey;
let keyDir: string;
let unique = 0;
const room = () => `room-${Date.now().toString(36)}-${unique++}`;
/** Every token used, to check none of them ever reaches the relay's output. */
const tokensUsed: string[] = [];

async function token(extra: Record<string, unknown> = {}): Promise<string> {
  const t = await hs256(claims(extra), SECRET);
  tokensUsed.push(t);
  return t;
}

function bearer(t: string | null): Record<string, string> {
  return t === null ? {} : { authorization: `Bearer ${t}` };
}

async function publish(channel: string, t: string | null, body = "hello") {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "text/plain", ...bearer(t) },
    body,
  });
  return {
    status: response.status,
    body: await response.json(),
    challenge: response.headers.get("www-authenticate"),
  };
}

async function upgradeStatus(path: string, t: string | null): Promise<number> {
  const socket = await RawWebSocket.connect(relay.port, path, bearer(t));
  const status = socket.status;
  socket.destroy();
  return status;
}

describe("auth", () => {
  before(async () => {
    es256 = await generateSigningKey("ES256");
    keyDir = mkdtempSync(join(tmpdir(), "relay-auth-"));
    writeFileSync(join(keyDir, "jwt.pem"), es256.publicPem);
    relay = await startRelay(["--jwt-secret", SECRET, "--jwt-public-key", join(keyDir, "jwt.pem")]);
  });
  after(async () => {
    await relay.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it("refuses missing, malformed, forged, expired, wrong-algorithm and alg:none tokens with 401 before any 101", async () => {
    const channel = "room-1";
    const hs384Key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(SECRET),
      { name: "HMAC", hash: "SHA-384" },
      false,
      ["sign"],
    );
    const bad: [string, string | null][] = [
      ["missing", null],
      ["malformed", "not.a.token"],
      ["forged", await hs256(claims(), SECRET.replace("e2e", "xyz"))],
      ["expired", await hs256(claims({ exp: epochSeconds(-120) }), SECRET)],
      ["not yet valid", await hs256(claims({ nbf: epochSeconds(120) }), SECRET)],
      [
        "HS384",
        await mintToken(
          { alg: "HS384", typ: "JWT" },
          claims(),
          (d) => crypto.subtle.sign("HMAC", hs384Key, d as BufferSource),
        ),
      ],
      ["HS256 keyed with the public key", await hs256(claims(), es256.publicPem)],
      ["ES256 of another key", await signWith(await generateSigningKey("ES256"), claims())],
      ["alg:none", await unsigned(claims())],
    ];
    for (const [what, t] of bad) {
      if (t !== null) tokensUsed.push(t);
      assert.equal(await upgradeStatus(`/ws/${channel}`, t), 401, `raw upgrade, ${what}`);
      assert.equal(await upgradeStatus("/ws", t), 401, `envelope upgrade, ${what}`);
      const posted = await publish(channel, t);
      assert.equal(posted.status, 401, `HTTP publish, ${what}`);
      assert.equal(posted.body.error, "unauthorized");
      assert.match(posted.challenge ?? "", /^Bearer realm="edge-relay"/);
      const history = await fetch(`${relay.url}/channels/${channel}/messages`, { headers: bearer(t) });
      assert.equal(history.status, 401, `history, ${what}`);
      await history.body?.cancel();
    }
  });

  it("accepts HS256 and ES256 tokens from the Authorization header and the token query parameter", async () => {
    const channel = "room-1";
    assert.equal(await upgradeStatus(`/ws/${channel}`, await token()), 101);
    const signed = await signWith(es256, claims());
    tokensUsed.push(signed);
    assert.equal(await upgradeStatus(`/ws/${channel}`, signed), 101);
    assert.equal((await publish(channel, signed)).status, 200);

    const t = await token();
    const socket = await TestSocket.open(`${relay.wsUrl}/ws/${channel}?token=${encodeURIComponent(t)}`);
    socket.ws.send("via query token");
    assert.deepEqual(await socket.next(), { type: "text", data: "via query token" });
    socket.close();
  });

  it("refuses a channel the token does not grant with 403 on raw upgrades, HTTP publish and history", async () => {
    const t = await token();
    assert.equal(await upgradeStatus("/ws/hall", t), 403);
    const posted = await publish("room-2", t);
    assert.equal(posted.status, 403);
    assert.equal(posted.body.error, "forbidden");
    assert.equal((await publish("room-1", t)).status, 200);
    const history = await fetch(`${relay.url}/channels/hall/messages`, { headers: bearer(t) });
    assert.equal(history.status, 403);
    await history.body?.cancel();
    const allowed = await fetch(`${relay.url}/channels/room-1/messages`, { headers: bearer(t) });
    assert.equal(allowed.status, 200);
    assert.ok((await allowed.json()).messages.length >= 1);
  });

  it("answers envelope subscribe and publish on channels not granted with error forbidden, and serves the rest", async () => {
    const t = await token();
    const socket = await TestSocket.open(`${relay.wsUrl}/ws?token=${encodeURIComponent(t)}`, "relay.v1");
    socket.sendJson({ type: "subscribe", channel: "hall" });
    const refused = await socket.nextJson();
    assert.equal(refused.type, "error");
    assert.equal(refused.code, "forbidden");
    socket.sendJson({ type: "publish", channel: "room-2", text: "no", id: "p-1" });
    assert.deepEqual(
      { ...(await socket.nextJson()), message: undefined },
      { type: "error", id: "p-1", code: "forbidden", message: undefined },
    );
    socket.sendJson({ type: "subscribe", channel: "room-1" });
    assert.equal((await socket.nextJson()).type, "subscribed");
    socket.sendJson({ type: "publish", channel: "room-1", text: "yes", id: "p-2" });
    const replies = [await socket.nextJson(), await socket.nextJson()];
    assert.deepEqual(replies.map((r) => r.type).sort(), ["ack", "message"]);
    assert.equal(socket.ws.readyState, WebSocket.OPEN);
    socket.close();
  });

  it("closes a raw socket that publishes without publish permission with 1008", async () => {
    const channel = room(); // subscribe granted by room-*, publish only to room-1
    const socket = await TestSocket.open(
      `${relay.wsUrl}/ws/${channel}?token=${encodeURIComponent(await token())}`,
    );
    socket.ws.send("not mine to send");
    const closed = await within(5000, "close", socket.closed);
    assert.equal(closed.code, 1008);
    assert.equal(socket.messages.length, 0, "the message was not published");
  });

  it("closes raw and envelope sockets with 1008 when their token expires while connected", async () => {
    // exp is exact: this token has about two seconds left.
    const t = await token({ exp: epochSeconds(2) });
    const started = Date.now();
    const raw = await TestSocket.open(`${relay.wsUrl}/ws/room-1?token=${encodeURIComponent(t)}`);
    const envelope = await TestSocket.open(`${relay.wsUrl}/ws?token=${encodeURIComponent(t)}`, "relay.v1");
    raw.ws.send("still valid");
    assert.deepEqual(await raw.next(), { type: "text", data: "still valid" });
    const [rawClose, envelopeClose] = await within(
      4000,
      "expiry",
      Promise.all([raw.closed, envelope.closed]),
    );
    const elapsed = Date.now() - started;
    assert.deepEqual(rawClose, { code: 1008, reason: "token expired" });
    assert.deepEqual(envelopeClose, { code: 1008, reason: "token expired" });
    assert.ok(elapsed >= 500 && elapsed <= 3500, `closed after ${elapsed} ms`);
  });

  it("lists only the channels the token may subscribe to", async () => {
    const mine = room();
    const socket = await TestSocket.open(
      `${relay.wsUrl}/ws/${mine}?token=${encodeURIComponent(await token())}`,
    );
    const other = await TestSocket.open(
      `${relay.wsUrl}/ws/secret-1?token=${encodeURIComponent(await token({ relay: { subscribe: ["*"] } }))}`,
    );
    const listed = await (await fetch(`${relay.url}/channels`, { headers: bearer(await token()) })).json();
    const names = listed.channels.map((c: { channel: string }) => c.channel);
    assert.ok(names.includes(mine));
    assert.ok(!names.includes("secret-1"));
    assert.equal((await fetch(`${relay.url}/channels`)).status, 401);
    socket.close();
    other.close();
  });

  it("never prints a token", () => {
    const output = relay.output();
    for (const t of tokensUsed) {
      const secretPart = t.split(".")[2] || t;
      // A made-up short "token" (the word itself) is also a word of the relay's refusal lines: skip it.
      if (secretPart.length < 16) continue;
      assert.ok(!output.includes(secretPart), "a token signature appeared in the relay's output");
    }
    assert.ok(!/token=/.test(output), "a URL with ?token= appeared in the relay's output");
  });
});

describe("open relay", () => {
  it("warns on stderr that it runs without auth", async () => {
    const open = await startRelay([]);
    try {
      assert.match(open.output(), /warning: no --jwt-secret/);
    } finally {
      await open.stop();
    }
  });
});

describe("message rate limit", () => {
  before(async () => relay = await startRelay(["--max-messages-per-second", "1000"]));
  after(async () => await relay.stop());

  it("closes a client that sends 5000 messages at once with 1008 while a polite client stays connected", async () => {
    const polite = await TestSocket.open(`${relay.wsUrl}/ws/polite-${unique++}`);
    const flooder = await RawWebSocket.connect(relay.port, `/ws/flood-${unique++}`);
    assert.equal(flooder.status, 101);
    const payload = new TextEncoder().encode("x");
    for (let i = 0; i < 5000; i++) flooder.send(0x1, payload);
    const politeRun = (async () => {
      // 200 messages per second for 1.5 s: well under the limit.
      for (let i = 0; i < 30; i++) {
        for (let j = 0; j < 10; j++) polite.ws.send(`m${i}-${j}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await polite.waitFor(300, 5000);
    })();
    const close = await within(5000, "close frame", flooder.closeFrame());
    assert.deepEqual(close, { code: 1008, reason: "rate limit" });
    assert.ok(flooder.dataFrames < 5000, `the flooder got ${flooder.dataFrames} echoes`);
    await within(10_000, "polite client", politeRun);
    assert.equal(polite.ws.readyState, WebSocket.OPEN);
    flooder.destroy();
    polite.close();
  });
});
