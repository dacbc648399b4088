/**
 * The SQLite broker, black box (issue 17): the real relay with `--broker sqlite:PATH`, killed with SIGKILL and
 * started again on the same file. Acknowledged messages survive, a resume gets `recovered: true` with exactly
 * what it missed, numbering goes on, trimming by size and TTL holds across the restart; a corrupt, unopenable or
 * already-held file stops the start with exit 1 and the path; a full disk answers 503 and `/readyz` 503.
 * Runs the relay on Deno (with `--allow-write`, which SQLite needs there) or on Bun (`RELAY_RUNTIME=bun`).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RelayProcess, runtimeCommand, startRelay } from "../support/relay_process.ts";
import { TestSocket } from "../support/ws_client.ts";

const dir = mkdtempSync(join(tmpdir(), "relay-sqlite-e2e-"));
let files = 0;
const freshPath = () => join(dir, `relay-${files++}.db`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The relay command, with write access to the test directory on Deno (node:sqlite checks it there). */
function command(writable = dir): string[] {
  const [cmd, ...args] = runtimeCommand();
  if (process.env.RELAY_RUNTIME === "bun") return [cmd, ...args];
  return [cmd, args[0], `--allow-write=${writable}`, ...args.slice(1)];
}

function startOn(path: string, flags: string[] = [], writable?: string): Promise<RelayProcess> {
  return startRelay(["--broker", `sqlite:${path}`, "--max-messages-per-second", "0", ...flags], {
    command: command(writable),
  });
}

async function post(relay: RelayProcess, channel: string, body: string) {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body,
  });
  return { status: response.status, body: await response.json() };
}

async function history(relay: RelayProcess, channel: string, since = 0) {
  const response = await fetch(`${relay.url}/channels/${channel}/messages?since=${since}`);
  return await response.json() as {
    epoch: string;
    seq: number;
    messages: { seq: number; text?: string }[];
  };
}

/** The start-up failure of a relay expected not to listen: its exit code and output. */
async function failedStart(path: string, flags: string[] = []): Promise<{ code: number; output: string }> {
  try {
    const relay = await startOn(path, flags);
    await relay.stop("SIGKILL");
  } catch (error) {
    const m = /relay exited with (\S+) before listening:\n([\s\S]*)$/.exec((error as Error).message);
    if (m) return { code: Number(m[1]), output: m[2] };
    throw error;
  }
  throw new Error("the relay started");
}

const running = new Set<RelayProcess>();
async function track(relay: Promise<RelayProcess>): Promise<RelayProcess> {
  const started = await relay;
  running.add(started);
  return started;
}
after(async () => {
  for (const relay of running) await relay.stop("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("SQLite broker across kill -9", () => {
  it("loses no acknowledged publish, resumes with recovered:true and exactly the missed messages, numbers on", async () => {
    const path = freshPath();
    const flags = ["--history-size", "1000"];
    const first = await track(startOn(path, flags));
    // Publishes in flight on several connections when the process dies: every one acknowledged must be kept.
    const acked = new Map<number, string>();
    let stop = false;
    const publisher = async (id: number) => {
      for (let i = 0; !stop; i++) {
        const text = `p${id}-${i}`;
        try {
          const { status, body } = await post(first, "news", text);
          if (status === 200) acked.set(body.seq, text);
        } catch {
          return; // the relay died under this request: not acknowledged
        }
      }
    };
    const publishers = [0, 1, 2, 3, 4, 5, 6, 7].map(publisher);
    while (acked.size < 200) await sleep(5);
    const seen = await history(first, "news"); // a client that read up to here, then lost its connection
    await first.stop("SIGKILL");
    running.delete(first);
    stop = true;
    await Promise.all(publishers);
    const since = seen.seq;

    const second = await track(startOn(path, flags));
    const after = await history(second, "news");
    assert.equal(after.epoch, seen.epoch, "the lineage survives the restart");
    assert.ok(acked.size >= 200 && after.seq < 1000, `${acked.size} acknowledged, seq ${after.seq}`);
    for (const [seq, text] of acked) {
      assert.equal(after.messages.find((m) => m.seq === seq)?.text, text, `acknowledged seq ${seq} kept`);
    }

    const socket = await TestSocket.open(`${second.wsUrl}/ws`, "relay.v1");
    socket.sendJson({ type: "subscribe", channel: "news", since, epoch: seen.epoch });
    const subscribed = await socket.nextJson();
    assert.equal(subscribed.type, "subscribed");
    assert.equal(subscribed.recovered, true);
    const missed: number[] = [];
    for (let seq = since + 1; seq <= after.seq; seq++) {
      const message = await socket.nextJson();
      assert.equal(message.type, "message");
      missed.push(message.seq as number);
    }
    assert.deepEqual(missed, after.messages.filter((m) => m.seq > since).map((m) => m.seq));
    const next = await post(second, "news", "after the restart");
    assert.equal(next.body.seq, after.seq + 1);
    assert.deepEqual(await socket.nextJson(), {
      type: "message",
      channel: "news",
      seq: after.seq + 1,
      text: "after the restart",
    });
    socket.close();
    await second.stop();
    running.delete(second);
  });

  it("keeps trimming by size and by TTL across the restart", async () => {
    const path = freshPath();
    // The TTL leaves room for a restart on a loaded machine: the history must still be there when it is read.
    const flags = ["--history-size", "3", "--history-ttl", "5s"];
    const first = await track(startOn(path, flags));
    for (let i = 1; i <= 5; i++) assert.equal((await post(first, "c", `m${i}`)).status, 200);
    await first.stop("SIGKILL");
    running.delete(first);

    const second = await track(startOn(path, flags));
    const kept = await history(second, "c");
    assert.deepEqual(kept.messages.map((m) => m.text), ["m3", "m4", "m5"]);
    assert.equal(kept.seq, 5);
    await sleep(5200);
    const expired = await history(second, "c");
    assert.deepEqual(expired.messages, []);
    assert.equal(expired.seq, 5, "the seq outlives the history");
    await second.stop();
    running.delete(second);
  });
});

describe("SQLite broker start-up errors", () => {
  it("refuses a corrupt file: exit 1, naming the path", async () => {
    const path = freshPath();
    writeFileSync(path, "not a database, just text ".repeat(200));
    const { code, output } = await failedStart(path);
    assert.equal(code, 1);
    assert.match(output, /cannot start: sqlite broker: .*not a usable SQLite database/);
    assert.ok(output.includes(path), output);
  });

  it("refuses a file it cannot create: exit 1, naming the path", async () => {
    const path = join(dir, "no-such-directory", "relay.db");
    const { code, output } = await failedStart(path);
    assert.equal(code, 1);
    assert.ok(output.includes(path), output);
  });

  it("refuses a file another relay holds: exit 1, 'in use', and the first relay goes on", async () => {
    const path = freshPath();
    const holder = await track(startOn(path));
    const { code, output } = await failedStart(path);
    assert.equal(code, 1);
    assert.match(output, /in use by another process/);
    assert.ok(output.includes(path), output);
    assert.equal((await post(holder, "c", "still mine")).status, 200);
    await holder.stop();
    running.delete(holder);
  });

  it("refuses sqlite: without a path as an invalid flag: exit 2", async () => {
    const { code, output } = await failedStart("");
    assert.equal(code, 2);
    assert.match(output, /--broker: expected memory, sqlite:PATH/);
  });
});

/** A small tmpfs to fill, when this process may mount one (root on Linux); else the test is skipped. */
function mountTmpfs(size: string): string | null {
  const target = join(dir, `tmpfs-${files++}`);
  mkdirSync(target);
  const result = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", target]);
  return result.status === 0 ? target : null;
}

describe("SQLite broker on a full disk", () => {
  let mount: string | null = null;
  before(() => void (mount = mountTmpfs("512k")));
  after(() => void (mount !== null && spawnSync("umount", ["-l", mount])));

  it("answers publishes 503 and /readyz 503, never acknowledging what it did not store", async (t) => {
    if (mount === null) return t.skip("cannot mount a tmpfs here (needs root)");
    const path = join(mount, "relay.db");
    const relay = await track(startOn(path, ["--history-size", "100000"], mount));
    assert.equal((await fetch(`${relay.url}/readyz`)).status, 200);
    const acked: number[] = [];
    let refused: { status: number; body: { error?: string } } | undefined;
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      const answer = await post(relay, "c", `${i}:${"x".repeat(8000)}`);
      if (answer.status === 200) acked.push(answer.body.seq);
      else refused = answer;
    }
    assert.equal(refused?.status, 503, JSON.stringify(refused));
    assert.equal((await fetch(`${relay.url}/readyz`)).status, 503);
    assert.ok(acked.length > 0);
    // The history holds exactly what was acknowledged.
    const kept = await history(relay, "c");
    assert.deepEqual(kept.messages.map((m) => m.seq), acked);
    assert.equal(kept.seq, acked.at(-1));
    await relay.stop("SIGKILL");
    running.delete(relay);
  });
});

describe("SQLite broker in the compiled binary", () => {
  const binary = join(dir, "edge-relay");
  before(() => {
    const bun = process.env.BUN_BIN ??
      execFileSync("npx", ["-y", "bun@1.4.4", "-e", "console.log(process.execPath)"])
        .toString().trim();
    execFileSync(bun, ["build", "--compile", "src/main.ts", "--outfile", binary], { stdio: "ignore" });
  });

  it("keeps history across a kill -9 of the single executable", async () => {
    const path = freshPath();
    const start = () =>
      startRelay(["--broker", `sqlite:${path}`], { command: [binary] }).then((r) => (running.add(r), r));
    const first = await start();
    assert.equal((await post(first, "c", "from the binary")).body.seq, 1);
    await first.stop("SIGKILL");
    running.delete(first);
    const second = await start();
    assert.deepEqual((await history(second, "c")).messages.map((m) => m.text), ["from the binary"]);
    assert.equal((await post(second, "c", "again")).body.seq, 2);
    await second.stop();
    running.delete(second);
  });
});
