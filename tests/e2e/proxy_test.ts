/**
 * Behind a proxy (issue 14, item 4), black-box: `--trust-proxy` makes `X-Forwarded-For` count for the
 * per-address cap and `X-Forwarded-Proto`/`-Host` for the own origin, from the listed proxy only; forwarded
 * headers from anyone else change nothing; `--allowed-hosts` refuses other `Host` values.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { RawWebSocket } from "../support/raw_ws.ts";

/** Opens `count` raw upgrades with `headers`; returns their statuses (the sockets stay open). */
async function upgrades(relay: RelayProcess, headers: Record<string, string>[], held: RawWebSocket[]) {
  const statuses: number[] = [];
  for (const h of headers) {
    const ws = await RawWebSocket.connect(relay.port, "/ws/p", h);
    statuses.push(ws.status);
    held.push(ws);
  }
  return statuses;
}

describe("--trust-proxy", () => {
  let trusting: RelayProcess;
  let plain: RelayProcess;
  const held: RawWebSocket[] = [];

  before(async () => {
    [trusting, plain] = await Promise.all([
      startRelay(["--trust-proxy", "127.0.0.1", "--max-connections-per-ip", "2"]),
      startRelay(["--max-connections-per-ip", "2"]),
    ]);
  });
  after(async () => {
    for (const ws of held) ws.destroy();
    await Promise.all([trusting?.stop(), plain?.stop()]);
  });

  it("counts each forwarded client apart under the per-address cap, and one client at its cap gets 503", async () => {
    const xff = (ip: string) => ({ "x-forwarded-for": ip });
    const statuses = await upgrades(trusting, [
      xff("198.51.100.1"),
      xff("198.51.100.2"),
      xff("198.51.100.3"),
      xff("198.51.100.1"),
      xff("198.51.100.1"),
    ], held);
    assert.deepEqual(statuses, [101, 101, 101, 101, 503]);
  });

  it("ignores X-Forwarded-For from a peer it does not trust: every connection is that peer's", async () => {
    const statuses = await upgrades(plain, [
      { "x-forwarded-for": "198.51.100.1" },
      { "x-forwarded-for": "198.51.100.2" },
      { "x-forwarded-for": "198.51.100.3" },
    ], held);
    assert.deepEqual(statuses, [101, 101, 503]);
  });

  it("takes the own origin from X-Forwarded-Proto and -Host of a trusted proxy only", async () => {
    const headers = {
      origin: "https://relay.example.com",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "relay.example.com",
      "x-forwarded-for": "198.51.100.9",
    };
    const [trusted] = await upgrades(trusting, [headers], held);
    assert.equal(trusted, 101);
    // The same headers from a peer not trusted: the own origin stays http://127.0.0.1:PORT.
    const open = await startRelay([]);
    try {
      const untrusted = await RawWebSocket.connect(open.port, "/ws/p", headers);
      untrusted.destroy();
      assert.equal(untrusted.status, 403);
    } finally {
      await open.stop();
    }
  });
});

describe("--allowed-hosts", () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay(["--allowed-hosts", "relay.example.com,127.0.0.1"]);
  });
  after(async () => {
    await relay?.stop();
  });

  it("refuses an upgrade and a request whose Host is not listed (DNS rebinding), answers a listed one", async () => {
    const rebound = await RawWebSocket.connect(relay.port, "/ws/h", { host: "attacker.example:80" });
    assert.equal(rebound.status, 403);
    rebound.destroy();
    const listed = await RawWebSocket.connect(relay.port, "/ws/h", { host: "relay.example.com" });
    assert.equal(listed.status, 101);
    listed.destroy();
    assert.equal((await fetch(`${relay.url}/healthz`)).status, 200); // Host 127.0.0.1:PORT
  });
});
