/**
 * Logs (issue 14, item 2), black-box on the relay's runtime: with `--log-format json` every line the relay
 * writes (but the two `listening on` lines) is one JSON object with time, level and message; refused upgrades
 * are logged with why; no token, secret or message payload ever appears, whatever the traffic.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { RawWebSocket } from "../support/raw_ws.ts";
import { TestSocket } from "../support/ws_client.ts";
import { epochSeconds, hs256 } from "../support/jwt_mint.ts";

const SECRET = "logs-test-secret-0123456789abcdef-0123456789";
const PAYLOAD = "payload-that-must-never-be-logged-7f3a";
const LISTENING = /^edge-relay (internal )?listening on /;

describe("logs", () => {
  let relay: RelayProcess;
  const tokens: string[] = [];

  before(async () => {
    relay = await startRelay(["--log-format", "json", "--log-level", "debug", "--internal-port", "0"], {
      env: { RELAY_JWT_SECRET: SECRET, RELAY_ALLOWED_ORIGIN: "typo" },
    });
    const good = await hs256({
      sub: "u1",
      exp: epochSeconds(600),
      relay: { subscribe: ["*"], publish: ["*"] },
    }, SECRET);
    const bad = await hs256(
      { sub: "u2", exp: epochSeconds(600) },
      "another-secret-0123456789abcdef-0123456789",
    );
    tokens.push(good, bad);
    // A subscriber and a publisher with a good token in the query, a bad token in the header, a refused origin.
    const socket = await TestSocket.open(`${relay.wsUrl}/ws/logs?token=${good}`);
    const published = await fetch(`${relay.url}/channels/logs/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${good}`, "content-type": "text/plain" },
      body: PAYLOAD,
    });
    assert.equal(published.status, 200);
    await published.body?.cancel();
    assert.equal((await socket.next()).data, PAYLOAD);
    const unauthorized = await RawWebSocket.connect(relay.port, "/ws/logs", {
      authorization: `Bearer ${bad}`,
    });
    assert.equal(unauthorized.status, 401);
    unauthorized.destroy();
    const origin = await RawWebSocket.connect(relay.port, `/ws/logs?token=${good}`, {
      origin: "https://evil.example",
    });
    assert.equal(origin.status, 403);
    origin.destroy();
    socket.close();
    await socket.closed;
    assert.equal(await relay.stop(), 0);
  });
  after(async () => {
    await relay?.stop();
  });

  const lines = () => relay.output().split("\n").filter((line) => line !== "" && !LISTENING.test(line));

  it("writes every other line as one JSON object with time, level and message", () => {
    assert.ok(lines().length >= 4, relay.output());
    for (const line of lines()) {
      const entry = JSON.parse(line);
      assert.equal(typeof entry.time, "string", line);
      assert.ok(["debug", "info", "warn", "error"].includes(entry.level), line);
      assert.equal(typeof entry.message, "string", line);
    }
  });

  it("says why an upgrade was refused, with the reason and the origin", () => {
    const entries = lines().map((line) => JSON.parse(line));
    const refused = entries.filter((e) => e.message === "upgrade refused");
    assert.ok(refused.some((e) => e.reason === "auth" && e.status === 401), JSON.stringify(refused));
    assert.ok(
      refused.some((e) =>
        e.reason === "origin" && e.origin === "https://evil.example" && /allowed/.test(e.detail)
      ),
      JSON.stringify(refused),
    );
  });

  it("warns about an unknown RELAY_ variable and summarises the effective policy at start", () => {
    const entries = lines().map((line) => JSON.parse(line));
    assert.ok(entries.some((e) => e.level === "warn" && /RELAY_ALLOWED_ORIGIN\b/.test(e.message)));
    assert.ok(entries.some((e) => e.message === "policy" && e.auth === "on"), JSON.stringify(entries));
  });

  it("never prints a token, the secret or a payload", () => {
    const output = relay.output();
    for (const token of tokens) {
      for (const part of token.split(".")) {
        assert.ok(!output.includes(part), "a token part appeared in the log");
      }
    }
    assert.ok(!output.includes(SECRET), "the secret appeared in the log");
    assert.ok(!output.includes(PAYLOAD), "a message payload appeared in the log");
    assert.ok(!/token=/.test(output), "a URL with ?token= appeared in the log");
  });
});

describe("a flood of refused upgrades", () => {
  it("writes at most 20 refusal lines a second and says how many it left out; metrics count every one", async () => {
    const relay = await startRelay(["--internal-port", "0"]);
    try {
      const refuse = async () => {
        const ws = await RawWebSocket.connect(relay.port, "/ws/flood", { origin: "https://evil.example" });
        ws.destroy();
        assert.equal(ws.status, 403);
      };
      const start = Date.now();
      for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, refuse));
      const seconds = Math.ceil((Date.now() - start) / 1000) + 1;
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await refuse(); // the first refusal of a later second reports what was left out
      const lines = relay.output().split("\n");
      const refusals = lines.filter((l) => l.includes("upgrade refused")).length;
      assert.ok(refusals <= 20 * (seconds + 1), `${refusals} refusal lines in about ${seconds} s`);
      const summary = lines.find((l) => l.includes("refusals not logged"));
      assert.ok(summary, relay.output().slice(-2000));
      const internal = /edge-relay internal listening on (\S+)/.exec(relay.output())![1];
      const metrics = await (await fetch(`${internal}/metrics`)).text();
      assert.match(metrics, /edge_relay_handshake_rejections_total\{reason="origin"\} 201\n/);
    } finally {
      await relay.stop();
    }
  });
});
