/**
 * The relay over TLS (`--tls-cert`, `--tls-key`) with a certificate made at test time, checked with
 * independent clients: curl, OpenSSL's s_client, Deno's own WebSocket client (in a subprocess trusting the
 * certificate) and a hand-written handshake over `Deno.connectTls`.
 *
 * Admission from accept: TCP connections that never send a ClientHello count against
 * `--max-connections-per-ip` at once (the rest are closed without a word) and are dropped after the TLS
 * handshake timeout (see docs/security.md).
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { makeTestCert, type TestCert } from "../support/cert.ts";
import { curl, RawClient } from "./http_support.ts";
import { within } from "../support/ws_client.ts";
import { concatBytes, encodeFrame, OPCODE, takeFrame } from "../../scripts/conformance/frame.ts";
import { ByteQueue } from "../../scripts/conformance/byte_queue.ts";
import { acceptFor, encodeRequest, randomKey, upgradeHeaders } from "../../scripts/conformance/http.ts";

const isDeno = typeof Deno !== "undefined";
const text = (s: string) => new TextEncoder().encode(s);

/** Runs a command with a time bound; resolves with its exit code and output (never rejects on exit codes). */
function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, {
      encoding: "latin1",
      timeout: options.timeoutMs ?? 15_000,
      env: { ...process.env, ...options.env },
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("the relay over TLS", () => {
  let cert: TestCert;
  let relay: RelayProcess;
  let channel = 0;
  const nextChannel = () => `tls-${Date.now().toString(36)}-${channel++}`;

  before(async () => {
    cert = await makeTestCert();
    relay = await startRelay(["--tls-cert", cert.certFile, "--tls-key", cert.keyFile]);
  });

  after(async () => {
    await relay?.stop();
    await cert?.remove();
  });

  /** `GET /healthz` over TLS with curl, verifying the certificate for the name `localhost`. */
  const healthz = () => curl(["--cacert", cert.certFile, `https://localhost:${relay.port}/healthz`]);

  it("prints an https:// listening line with the real port", () => {
    assert.match(
      relay.output(),
      new RegExp(`edge-relay listening on https://127\\.0\\.0\\.1:${relay.port}\\b`),
    );
    assert.ok(relay.url.startsWith("https://"));
  });

  it("answers GET /healthz over TLS with 200 and Strict-Transport-Security (curl verifies the certificate)", async () => {
    const response = await healthz();
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { status: "ok" });
    assert.match(response.get("strict-transport-security") ?? "", /^max-age=\d+/);
  });

  it("echoes over wss:// to Deno's WebSocket client trusting the certificate (subprocess with --cert)", {
    skip: isDeno ? false : "needs the deno binary",
  }, async () => {
    const url = `wss://localhost:${relay.port}/ws/${nextChannel()}`;
    const code = `
      const ws = new WebSocket(${JSON.stringify(url)});
      const timer = setTimeout(() => { console.log("timeout"); Deno.exit(1); }, 5000);
      ws.onopen = () => ws.send("hello over wss");
      ws.onmessage = (e) => { console.log("message " + e.data); ws.close(1000); };
      ws.onerror = (e) => console.log("error " + e.message);
      ws.onclose = (e) => { console.log("close " + e.code); clearTimeout(timer); };
    `;
    const result = await run(process.execPath, ["eval", "--cert", cert.certFile, code]);
    assert.equal(result.stdout.trim(), "message hello over wss\nclose 1000", result.stderr);
  });

  it("echoes over wss:// to a hand-written handshake on Deno.connectTls with the certificate as caCerts", {
    skip: isDeno ? false : "needs Deno.connectTls",
  }, async () => {
    const conn = await Deno.connectTls({ hostname: "localhost", port: relay.port, caCerts: [cert.cert] });
    const queue = new ByteQueue();
    const deadline = Date.now() + 5000;
    const readMore = async () => {
      const buf = new Uint8Array(16 * 1024);
      const n = await Promise.race([
        conn.read(buf),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()))),
      ]);
      if (n === null) throw new Error("the relay closed the connection or did not answer in time");
      queue.push(buf.slice(0, n));
    };
    try {
      const key = randomKey();
      await conn.write(
        encodeRequest({
          path: `/ws/${nextChannel()}`,
          headers: upgradeHeaders(`localhost:${relay.port}`, key),
        }),
      );
      const headEnd = text("\r\n\r\n");
      while (queue.indexOf(headEnd, 16 * 1024) < 0) await readMore();
      const head = new TextDecoder().decode(queue.take(queue.indexOf(headEnd, 16 * 1024) + 4));
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.match(
        head,
        new RegExp(`\\r\\nsec-websocket-accept: ${acceptFor(key).replace(/[+/]/g, "\\$&")}\\r\\n`, "i"),
      );
      await conn.write(encodeFrame({ opcode: OPCODE.Text, payload: text("hello over connectTls") }));
      let frame = takeFrame(queue);
      while (frame === null) {
        await readMore();
        frame = takeFrame(queue);
      }
      assert.equal(frame.opcode, OPCODE.Text);
      assert.equal(new TextDecoder().decode(frame.payload), "hello over connectTls");
    } finally {
      conn.close();
    }
  });

  it("completes the wss:// opening handshake with curl (101 with the right Sec-WebSocket-Accept)", async () => {
    const key = randomBytes(16).toString("base64");
    // curl has no WebSocket support here: it prints the 101 and then waits, so --max-time ends it (exit 28).
    const result = await run("curl", [
      "-sS",
      "-i",
      "--http1.1",
      "--max-time",
      "2",
      "--cacert",
      cert.certFile,
      "-H",
      "Upgrade: websocket",
      "-H",
      "Connection: Upgrade",
      "-H",
      `Sec-WebSocket-Key: ${key}`,
      "-H",
      "Sec-WebSocket-Version: 13",
      `https://localhost:${relay.port}/ws/${nextChannel()}`,
    ]);
    assert.match(result.stdout, /^HTTP\/1\.1 101 /, result.stderr);
    const accept = /\r\nsec-websocket-accept: (\S+)\r\n/i.exec(result.stdout)?.[1];
    assert.equal(accept, acceptFor(key));
  });

  it("echoes over wss:// to OpenSSL's s_client (an independent TLS stack verifying the certificate)", async () => {
    const child = spawn("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${relay.port}`,
      "-servername",
      "localhost",
      "-CAfile",
      cert.certFile,
      "-verify_return_error",
      "-quiet",
    ], { stdio: ["pipe", "pipe", "pipe"] });
    let out: Uint8Array = new Uint8Array(0);
    let err = "";
    child.stdout.on("data", (chunk: Uint8Array) => out = concatBytes([out, chunk]));
    child.stderr.on("data", (chunk: Uint8Array) => err += new TextDecoder().decode(chunk));
    const waitFor = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!done()) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(
            `s_client: no ${what}; stdout ${JSON.stringify(new TextDecoder().decode(out))}, ${err}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      const key = randomKey();
      child.stdin.write(
        encodeRequest({
          path: `/ws/${nextChannel()}`,
          headers: upgradeHeaders(`localhost:${relay.port}`, key),
        }),
      );
      const headEnd = () => new TextDecoder("latin1").decode(out).indexOf("\r\n\r\n");
      await waitFor("101 response", () => headEnd() >= 0);
      const head = new TextDecoder().decode(out.subarray(0, headEnd()));
      assert.match(head, /^HTTP\/1\.1 101 /);
      child.stdin.write(encodeFrame({ opcode: OPCODE.Text, payload: text("hello over s_client") }));
      const echo = () => {
        const frames = new ByteQueue();
        frames.push(out.slice(headEnd() + 4));
        return takeFrame(frames);
      };
      await waitFor("echo", () => echo() !== null);
      assert.equal(new TextDecoder().decode(echo()!.payload), "hello over s_client");
    } finally {
      child.kill();
    }
  });

  /** Sends `bytes` over plain TCP to the TLS port; resolves with what came back once the relay closed. */
  async function plainBytes(bytes: Uint8Array | string): Promise<string> {
    const client = await RawClient.connect(relay.port);
    try {
      client.write(bytes);
      return await client.readToEnd(5000);
    } finally {
      client.close();
    }
  }

  it("drops plain HTTP sent to the TLS port without an HTTP answer, and keeps serving TLS clients", async () => {
    const received = await plainBytes(`GET /healthz HTTP/1.1\r\nHost: localhost:${relay.port}\r\n\r\n`);
    assert.ok(!received.includes("HTTP/"), `answered in plain text: ${JSON.stringify(received)}`);
    assert.equal((await healthz()).status, 200);
  });

  it("drops 4 KiB of random bytes sent to the TLS port, and keeps serving TLS clients", async () => {
    const received = await plainBytes(new Uint8Array(randomBytes(4096)));
    assert.ok(!received.includes("HTTP/"));
    assert.equal((await healthz()).status, 200);
  });
});

describe("the relay without TLS", () => {
  let relay: RelayProcess;
  before(async () => relay = await startRelay());
  after(async () => await relay?.stop());

  it("sends no Strict-Transport-Security over plain HTTP (HSTS only over TLS)", async () => {
    const response = await fetch(`${relay.url}/healthz`);
    await response.body?.cancel();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("strict-transport-security"), null);
  });
});

/** The relay's TLS handshake limit (runtime adapters' default), and how late a drop may come on a busy machine. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
const DROP_SLACK_MS = 3_000;

describe("silent TCP connections to the TLS port with --max-connections-per-ip 10", () => {
  let cert: TestCert;
  let relay: RelayProcess;
  before(async () => {
    cert = await makeTestCert();
    relay = await startRelay([
      "--tls-cert",
      cert.certFile,
      "--tls-key",
      cert.keyFile,
      "--max-connections-per-ip",
      "10",
    ]);
  });
  after(async () => {
    await relay?.stop();
    await cert?.remove();
  });

  it("holds at most 10 of 30 (the rest closed at once), drops those after the handshake timeout, then serves TLS", async () => {
    const started = Date.now();
    const silent: { socket: Socket; closedAt: number | null; closed: Promise<void> }[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const socket = connect({ host: "127.0.0.1", port: relay.port });
        socket.on("error", () => {});
        await new Promise<void>((resolve, reject) => {
          socket.once("connect", resolve);
          socket.once("error", reject);
        });
        const entry = { socket, closedAt: null as number | null, closed: Promise.resolve() };
        entry.closed = new Promise((resolve) =>
          socket.once("close", () => {
            entry.closedAt = Date.now();
            resolve();
          })
        );
        silent.push(entry);
      }
      await new Promise((r) => setTimeout(r, 1000));
      const held = silent.filter((s) => s.closedAt === null);
      assert.ok(held.length <= 10, `${held.length} of 30 silent connections held past the cap of 10`);
      assert.ok(held.length >= 1, "the cap admits connections");
      await within(
        TLS_HANDSHAKE_TIMEOUT_MS + DROP_SLACK_MS,
        "the silent connections to be dropped",
        Promise.all(held.map((s) => s.closed)),
      );
      for (const s of held) {
        const age = s.closedAt! - started;
        assert.ok(
          age >= TLS_HANDSHAKE_TIMEOUT_MS - 1000,
          `dropped after ${age} ms, before the handshake timeout`,
        );
      }
      const response = await curl(["--cacert", cert.certFile, `https://localhost:${relay.port}/healthz`]);
      assert.equal(response.status, 200);
    } finally {
      for (const s of silent) s.socket.destroy();
    }
  });
});
