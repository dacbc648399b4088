/**
 * permessage-deflate (RFC 7692) against the real relay started with `--deflate`: independent clients (the npm
 * `ws` client, Python `websockets`, Bun's built-in client) negotiate it and get every message back byte-exact
 * from 0 B to 16 MiB; a ~200 KB bomb that inflates to 192 MiB closes 1009 at once with flat memory while
 * other connections carry on; corrupt data closes 1007 and RSV1 where it is not allowed 1002; a compressing
 * subscriber is held to `--max-queued-bytes` like any other.
 * @module
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync } from "node:zlib";
import WebSocket from "ws";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { RawWebSocket } from "../support/raw_ws.ts";
import { clientFrame, concat } from "../websocket/frames.ts";
import { DEFLATE_GROUP_NAMES, formatResult, runConformance } from "../../scripts/conformance.ts";

const AGREED = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
/** The round-trip relay runs with a 20 MB limit so the 16 MiB messages fit. */
const MAX_MESSAGE_BYTES = 20_000_000;
const SIZES = [0, 1, 1023, 1024, 65536, 1 << 20, 16 << 20];
const STEP_MS = 20_000;
const RSV1 = 4;
const OPCODE = { Text: 1, Binary: 2, Continuation: 0 } as const;

/** Compressible text of exactly `n` bytes (JSON-like, mixed 1- to 4-byte UTF-8 characters). */
function text(n: number): string {
  const block = JSON.stringify({ user: "zoë", text: "chat € message 😀", seq: 12345 }).padEnd(64, "x");
  const bytes = new TextEncoder().encode(block);
  let out = block.repeat(Math.floor(n / bytes.length));
  out += "a".repeat(n - new TextEncoder().encode(out).length);
  return out;
}

/** `payload` deflated as a client sends it: sync-flushed, the trailing 00 00 ff ff removed. */
function clientDeflate(payload: Uint8Array): Uint8Array {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** A bomb: 12 sync-flushed 16 MiB runs of zeros, one valid stream of 192 MiB in about 200 KB. */
function bomb(): Uint8Array {
  const run = deflateRawSync(new Uint8Array(16 << 20), { finishFlush: constants.Z_SYNC_FLUSH });
  const parts = Array.from({ length: 12 }, () => run);
  const whole = concat(...parts);
  return whole.subarray(0, whole.length - 4);
}

/** Resident memory of a process in KiB (Linux). */
function rssKib(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1]);
}

/** A raw connection that offers permessage-deflate (or not), on a channel. */
async function rawClient(relay: RelayProcess, channel: string, offer = true): Promise<RawWebSocket> {
  const client = await RawWebSocket.connect(
    relay.port,
    `/ws/${channel}`,
    offer ? { "sec-websocket-extensions": "permessage-deflate; client_max_window_bits" } : {},
  );
  assert.equal(client.status, 101);
  return client;
}

/** Opens an npm `ws` client that compresses everything it sends (threshold 0); `agreed` is the 101's answer. */
async function wsClient(url: string): Promise<WebSocket & { agreed: string | undefined }> {
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 }, maxPayload: 0 });
  let agreed: string | undefined;
  ws.once("upgrade", (response: { headers: Record<string, string> }) => {
    agreed = response.headers["sec-websocket-extensions"];
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return Object.assign(ws, { agreed });
}

/** The next message `ws` receives, within `ms`. */
function nextMessage(ws: WebSocket, ms = STEP_MS): Promise<{ data: Uint8Array; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no message in time")), ms);
    ws.once("message", (data: Uint8Array, isBinary: boolean) => {
      clearTimeout(timer);
      resolve({ data, isBinary });
    });
  });
}

/** Runs a command; resolves with its exit code and output. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    child.stderr.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, out: out + String(e) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Python `websockets` (compression on by default): prints the agreement, then echo checks, as JSON. */
const PYTHON_CLIENT = `
import asyncio, json, sys, websockets
async def main():
    url, sizes = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    out = {"extensions": [], "failed": []}
    async with websockets.connect(url, max_size=None) as ws:
        out["extensions"] = [type(e).__name__ + repr(sorted(vars(e).items())) for e in ws.extensions]
        for n in sizes:
            for sent in (("ab€" * n)[:n], bytes((i * 31) & 0xFF for i in range(n))):
                await ws.send(sent)
                got = await asyncio.wait_for(ws.recv(), 20)
                if got != sent:
                    out["failed"].append(f"{type(sent).__name__} {n}")
    print(json.dumps(out))
asyncio.run(main())
`;

/** Bun's built-in client: prints the agreement and whether a 100 KB text and a 64 KiB binary came back. */
const BUN_CLIENT = `
const url = process.argv[2];
const ws = new WebSocket(url);
ws.binaryType = "arraybuffer";
const text = "bun says hello ".repeat(7000);
const binary = new Uint8Array(65536).map((_, i) => i % 7);
const got = [];
ws.onopen = () => { ws.send(text); ws.send(binary); };
ws.onmessage = (e) => {
  got.push(e.data);
  if (got.length < 2) return;
  const same = got[0] === text && new Uint8Array(got[1]).every((b, i) => b === binary[i]) &&
    got[1].byteLength === binary.length;
  console.log(JSON.stringify({ extensions: ws.extensions, same }));
  process.exit(0);
};
ws.onerror = (e) => { console.log(JSON.stringify({ error: String(e.message ?? e) })); process.exit(1); };
setTimeout(() => { console.log(JSON.stringify({ error: "timeout" })); process.exit(1); }, 20000);
`;

describe("permessage-deflate interop (relay with --deflate)", () => {
  let relay: RelayProcess;
  let dir: string;
  let channel = 0;

  before(async () => {
    relay = await startRelay(["--deflate", "--max-message-bytes", String(MAX_MESSAGE_BYTES)]);
    dir = await mkdtemp(join(tmpdir(), "edge-relay-deflate-"));
  });

  after(async () => {
    await relay?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the npm ws client negotiates it and gets 0 B to 16 MiB back byte-exact, compressed both ways", async () => {
    const ws = await wsClient(`${relay.wsUrl}/ws/ws-${channel++}`);
    try {
      assert.equal(ws.agreed, AGREED);
      assert.equal(ws.extensions, "permessage-deflate");
      for (const size of SIZES) {
        const sentText = text(size);
        const before = (ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead;
        ws.send(sentText);
        const gotText = await nextMessage(ws);
        assert.equal(gotText.isBinary, false);
        assert.ok(new TextDecoder().decode(gotText.data) === sentText, `text of ${size} bytes differs`);
        const read = (ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead - before;
        // At the threshold and above the relay compresses: this text shrinks at least fourfold.
        if (size >= 1024) assert.ok(read < size / 4, `${read} bytes read for a ${size}-byte text`);
        const sentBinary = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
        ws.send(sentBinary);
        const gotBinary = await nextMessage(ws);
        assert.equal(gotBinary.isBinary, true);
        assert.ok(Buffer.compare(gotBinary.data, sentBinary) === 0, `binary of ${size} bytes differs`);
      }
    } finally {
      ws.close();
    }
  });

  it("Python websockets (compression on by default) negotiates it and echoes byte-exact", async (t) => {
    const check = await run("/usr/bin/python3", ["-c", "import websockets"], 10_000);
    if (check.code !== 0) {
      t.skip("python3-websockets is not installed (scripts/setup.sh installs it)");
      return;
    }
    const result = await run(
      "/usr/bin/python3",
      ["-c", PYTHON_CLIENT, `${relay.wsUrl}/ws/py-${channel++}`, "0,1,1024,65536,1048576"],
      60_000,
    );
    const report = JSON.parse(result.out.trim().split("\n").at(-1) ?? "{}");
    assert.equal(report.extensions?.length, 1, result.out);
    assert.match(report.extensions[0], /PerMessageDeflate/);
    assert.match(report.extensions[0], /'remote_no_context_takeover', True/);
    assert.match(report.extensions[0], /'local_no_context_takeover', True/);
    assert.deepEqual(report.failed, []);
  });

  it("Bun's built-in client negotiates it and echoes byte-exact (it offers client_max_window_bits, bun#38632)", async () => {
    const file = join(dir, "bun_client.mjs");
    await writeFile(file, BUN_CLIENT);
    const result = await run("npx", ["-y", "bun@1.4.4", file, `${relay.wsUrl}/ws/bun-${channel++}`], 60_000);
    const report = JSON.parse(result.out.trim().split("\n").at(-1) ?? "{}");
    assert.deepEqual(report, { extensions: AGREED, same: true }, result.out);
  });

  it("a client that offers nothing, or only bad offers, is served uncompressed", async () => {
    for (
      const offer of [undefined, "permessage-deflate; server_max_window_bits=99, x-webkit-deflate-frame"]
    ) {
      const client = await RawWebSocket.connect(
        relay.port,
        `/ws/none-${channel++}`,
        offer ? { "sec-websocket-extensions": offer } : {},
      );
      try {
        assert.equal(client.status, 101);
        assert.equal(client.headers.get("sec-websocket-extensions"), undefined);
      } finally {
        client.destroy();
      }
    }
  });
});

describe("permessage-deflate bounds (relay with --deflate and defaults: 1 MiB messages)", () => {
  let relay: RelayProcess;
  let channel = 0;

  before(async () => {
    relay = await startRelay([
      "--deflate",
      "--max-queued-bytes",
      "65536",
      "--max-messages-per-second",
      "0",
    ]);
  });

  after(async () => {
    await relay?.stop();
  });

  it("a 200 KB bomb inflating to 192 MiB closes 1009 at once, memory stays flat, others carry on", async () => {
    const payload = bomb();
    assert.ok(payload.length < 250_000, `${payload.length} bytes`);
    const frame = clientFrame(OPCODE.Binary, payload, { rsv: RSV1 });
    // A bystander on another channel, compressing too.
    const bystander = await wsClient(`${relay.wsUrl}/ws/bystander-${channel++}`);
    const rssBefore = rssKib(relay.pid);
    const timings: number[] = [];
    for (let i = 0; i < 10; i++) {
      const attacker = await rawClient(relay, `bomb-${channel++}`);
      const started = performance.now();
      attacker.socket.write(frame);
      const close = await attacker.closeFrame(5000);
      timings.push(performance.now() - started);
      assert.equal(close.code, 1009);
      attacker.destroy();
    }
    const growthKib = rssKib(relay.pid) - rssBefore;
    const echo = nextMessage(bystander);
    bystander.send(text(4096));
    assert.equal(new TextDecoder().decode((await echo).data), text(4096));
    bystander.close();
    const slowest = Math.max(...timings);
    console.log(
      `bomb of ${payload.length} B → 1009 in ${timings.map((ms) => ms.toFixed(1)).join(", ")} ms; ` +
        `relay RSS ${rssBefore} KiB, +${growthKib} KiB after 10 bombs`,
    );
    assert.ok(slowest < 500, `slowest 1009 after ${slowest} ms`);
    assert.ok(growthKib < 32 * 1024, `RSS grew ${growthKib} KiB`);
  });

  it("corrupt compressed data closes 1007", async () => {
    const client = await rawClient(relay, `corrupt-${channel++}`);
    client.socket.write(clientFrame(OPCODE.Text, new Uint8Array([0xff, 0xfe, 0xfd, 0xfc]), { rsv: RSV1 }));
    assert.equal((await client.closeFrame()).code, 1007);
    client.destroy();
  });

  it("RSV1 on a continuation frame, or without the agreement, closes 1002", async () => {
    const deflated = clientDeflate(new TextEncoder().encode("hello hello hello"));
    const a = await rawClient(relay, `rsv-${channel++}`);
    a.socket.write(concat(
      clientFrame(OPCODE.Text, deflated.subarray(0, 3), { rsv: RSV1, fin: false }),
      clientFrame(OPCODE.Continuation, deflated.subarray(3), { rsv: RSV1 }),
    ));
    assert.equal((await a.closeFrame()).code, 1002);
    a.destroy();
    const b = await rawClient(relay, `rsv-${channel++}`, false);
    b.socket.write(clientFrame(OPCODE.Text, deflated, { rsv: RSV1 }));
    assert.equal((await b.closeFrame()).code, 1002);
    b.destroy();
  });

  it("a compressing subscriber that stops reading is closed 1013 at --max-queued-bytes", async () => {
    const name = `slow-${channel++}`;
    const slow = await rawClient(relay, name);
    assert.equal(slow.headers.get("sec-websocket-extensions"), AGREED);
    slow.pauseReading();
    const publisher = await wsClient(`${relay.wsUrl}/ws/${name}`);
    // Text that deflate only shrinks by about a quarter, so the queue fills with compressed frames.
    const random = () => Buffer.from(crypto.getRandomValues(new Uint8Array(3072))).toString("base64");
    for (let i = 0; i < 4000 && publisher.readyState === WebSocket.OPEN; i++) {
      publisher.send(random());
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
    }
    slow.resumeReading();
    assert.equal((await slow.closeFrame(15_000)).code, 1013);
    publisher.close();
    slow.destroy();
  });
});

describe("RFC 7692 conformance groups (relay with --deflate)", {
  // The suite's client is a raw `Deno.connect` socket.
  skip: typeof Deno === "undefined"
    ? "the conformance client needs Deno.connect; run it under deno test"
    : false,
}, () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelay(["--deflate", "--max-message-bytes", String(MAX_MESSAGE_BYTES)]);
  });

  after(async () => {
    await relay?.stop();
  });

  for (const group of DEFLATE_GROUP_NAMES) {
    it(`the relay passes every ${group} case strictly`, async () => {
      const report = await runConformance(relay.wsUrl, {
        groups: [group],
        maxMessageBytes: MAX_MESSAGE_BYTES,
      });
      assert.ok(report.results.length > 0, `group ${group} ran no case`);
      const notPassed = report.results.filter((r) => r.verdict !== "pass");
      assert.equal(notPassed.length, 0, notPassed.map(formatResult).join("\n"));
    });
  }
});
