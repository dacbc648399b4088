/**
 * Interop: independent WebSocket clients (Deno's built-in `WebSocket`, Bun's built-in `WebSocket`, Python
 * `websockets`) talk to the real relay's raw mode. Messages from 0 B to 16 MiB, text and binary, must come
 * back byte-exact, and closes with 1000 and with 4000 plus a reason must round-trip cleanly.
 *
 * The Deno and Bun clients run the same function, {@link echoClient}: in-process for Deno, and for Bun its
 * source (`Function.prototype.toString`) is written to a temporary module run by `bun`.
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";

/** The relay runs with a 20 MB limit so the 16 MiB messages fit. */
const MAX_MESSAGE_BYTES = 20_000_000;
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
/** Per message or close, including 16 MiB round trips on a busy machine. */
const STEP_TIMEOUT_MS = 20_000;
const BUN = ["-y", "bun@1.4.4"];
const PYTHON = "/usr/bin/python3";
const PYTHON_CLIENT = new URL("./interop_python.py", import.meta.url).pathname;

/** One check a client made. */
interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * The interop client. Self-contained (globals only) because Bun runs it from its source text: echoes every
 * size as text and binary on one connection, then closes two more connections with 1000 and 4000 + reason.
 */
async function echoClient(base: string, sizes: number[], stepTimeoutMs: number): Promise<Check[]> {
  const checks: Check[] = [];
  const channel = () => `interop-${Math.random().toString(36).slice(2)}`;
  const encoder = new TextEncoder();

  /** A string of exactly `n` UTF-8 bytes mixing 1- to 4-byte characters. */
  const text = (n: number) => {
    const cycle = (bytes: number) => {
      const units = ["a", "é", "€", "😀"];
      let out = "";
      for (let left = bytes, i = 0; left > 0; i++) {
        const unit = units[i % 4];
        const size = encoder.encode(unit).length;
        out += size <= left ? unit : "a";
        left -= size <= left ? size : 1;
      }
      return out;
    };
    const block = cycle(1024);
    return block.repeat(Math.floor(n / 1024)) + cycle(n % 1024);
  };
  const binary = (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
    return out;
  };
  const sameBytes = (a: Uint8Array, b: Uint8Array) => {
    if (a.length !== b.length) return `length ${a.length}, expected ${b.length}`;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i} differs`;
    return "";
  };

  /** Opens a socket whose events are queued, so each step awaits the next one with a timeout. */
  const open = async () => {
    const ws = new WebSocket(`${base}/ws/${channel()}`);
    ws.binaryType = "arraybuffer";
    const events: Event[] = [];
    let wake: (() => void) | null = null;
    const push = (e: Event) => {
      events.push(e);
      wake?.();
    };
    ws.onmessage = push;
    ws.onclose = push;
    ws.onerror = push;
    const next = async (): Promise<Event | null> => {
      const deadline = Date.now() + stepTimeoutMs;
      while (events.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) return null;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
        wake = null;
      }
      return events.shift()!;
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`could not open ${ws.url}`));
      timer = setTimeout(() => reject(new Error("no open event in time")), stepTimeoutMs);
    }).finally(() => clearTimeout(timer));
    ws.onerror = push;
    return { ws, next };
  };

  const { ws, next } = await open();
  for (const size of sizes) {
    for (const kind of ["text", "binary"]) {
      const name = `${kind} message of ${size} bytes is echoed byte-exact`;
      if (ws.readyState !== WebSocket.OPEN) {
        checks.push({ name, ok: false, detail: "the connection closed earlier" });
        continue;
      }
      const sent = kind === "text" ? text(size) : binary(size);
      ws.send(sent);
      const event = await next();
      if (event instanceof CloseEvent) {
        checks.push({ name, ok: false, detail: `got close ${event.code} ${JSON.stringify(event.reason)}` });
        continue;
      }
      if (!(event instanceof MessageEvent)) {
        checks.push({ name, ok: false, detail: `got ${event ? event.type : "nothing in time"}` });
        continue;
      }
      if (typeof sent === "string") {
        const same = typeof event.data === "string" && event.data === sent;
        const got = typeof event.data === "string"
          ? `${encoder.encode(event.data).length} bytes of text`
          : "binary";
        checks.push({ name, ok: same, detail: same ? "" : `got ${got}` });
      } else {
        const detail = event.data instanceof ArrayBuffer
          ? sameBytes(new Uint8Array(event.data), sent)
          : "got text instead of binary";
        checks.push({ name, ok: detail === "", detail });
      }
    }
  }
  if (ws.readyState === WebSocket.OPEN) {
    ws.close(1000);
    await next();
  }

  for (const [code, reason] of [[1000, ""], [4000, "bye: κόσμε"]] as const) {
    const name = `close ${code}${reason ? " with a reason" : ""} round-trips cleanly`;
    const { ws, next } = await open();
    ws.close(code, reason);
    const event = await next();
    if (!(event instanceof CloseEvent)) {
      checks.push({ name, ok: false, detail: `got ${event ? event.type : "nothing in time"}` });
      continue;
    }
    const ok = event.code === code && event.reason === reason && event.wasClean;
    const detail = `code ${event.code}, reason ${JSON.stringify(event.reason)}, wasClean ${event.wasClean}`;
    checks.push({ name, ok, detail: ok ? "" : detail });
  }
  return checks;
}

/** Runs a command; resolves with its exit code and output, or `null` code if it could not start. */
function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    child.stderr.on("data", (c: Uint8Array) => err += new TextDecoder().decode(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, out, err: err + String(e) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** Parses a client's JSON checks from its last output line. */
function parseChecks(output: { code: number | null; out: string; err: string }): Check[] {
  const last = output.out.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as Check[];
  } catch {
    throw new Error(`client printed no result (exit ${output.code}):\n${output.out}\n${output.err}`);
  }
}

function assertChecks(checks: Check[]): void {
  const expected = SIZES.length * 2 + 2;
  assert.equal(checks.length, expected, `expected ${expected} checks, got ${checks.length}`);
  const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  assert.deepEqual(failed, []);
}

describe("WebSocket interop with independent clients (raw mode)", () => {
  let relay: RelayProcess;
  let dir: string;

  before(async () => {
    relay = await startRelay(["--max-message-bytes", String(MAX_MESSAGE_BYTES)]);
    dir = await mkdtemp(join(tmpdir(), "edge-relay-interop-"));
  });

  after(async () => {
    await relay?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("Deno's WebSocket client gets every message back byte-exact and closes cleanly", async () => {
    assertChecks(await echoClient(relay.wsUrl, SIZES, STEP_TIMEOUT_MS));
  });

  it("Bun's WebSocket client gets every message back byte-exact and closes cleanly", async (t) => {
    const probe = await run("npx", [...BUN, "--version"], 60_000);
    if (probe.code !== 0) {
      t.skip(`Bun could not be fetched with npx (${probe.err.trim().split("\n").at(-1)})`);
      return;
    }
    const script = join(dir, "bun_client.mjs");
    await writeFile(
      script,
      `const echoClient = ${echoClient.toString()};\n` +
        `console.log(JSON.stringify(await echoClient(process.argv[2], ${
          JSON.stringify(SIZES)
        }, ${STEP_TIMEOUT_MS})));\n`,
    );
    assertChecks(parseChecks(await run("npx", [...BUN, "run", script, relay.wsUrl], 60_000)));
  });

  it("Python websockets gets every message back byte-exact and closes cleanly", async () => {
    const output = await run(
      PYTHON,
      [PYTHON_CLIENT, relay.wsUrl, SIZES.join(","), String(STEP_TIMEOUT_MS)],
      60_000,
    );
    assert.notEqual(output.code, null, `could not start ${PYTHON}: ${output.err}`);
    assertChecks(parseChecks(output));
  });
});
