/**
 * Starts the real relay as a subprocess (black-box tests): `src/main.ts` on port 0, waits for the
 * `edge-relay listening on` line, and stops it (SIGTERM, then SIGKILL) when the test is done.
 * @module
 */
import { spawn } from "node:child_process";

const LISTEN_RE = /edge-relay listening on (https?):\/\/(\S+):(\d+)/;

/** Which runtime runs the relay: `RELAY_RUNTIME=bun` for Bun; Deno by default. */
export function runtimeCommand(): string[] {
  if (process.env.RELAY_RUNTIME === "bun") {
    return [process.env.BUN_BIN ?? "bun", "run", "src/main.ts"];
  }
  return [process.execPath, "run", "--allow-net", "--allow-read", "--allow-env", "src/main.ts"];
}

export interface RelayProcess {
  readonly port: number;
  readonly host: string;
  /** `http://127.0.0.1:PORT` (or https). */
  readonly url: string;
  /** `ws://127.0.0.1:PORT` (or wss). */
  readonly wsUrl: string;
  readonly pid: number;
  /** Everything the relay printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, wait up to 5 s, then SIGKILL. Resolves with the exit code (null if killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code (null if killed) once the process ends, without signalling it. */
  readonly exited: Promise<number | null>;
}

/** A started child process, whichever runtime drives the tests. */
interface Child {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  /** The exit code, or null when a signal ended the process. */
  readonly exited: Promise<number | null>;
}

/**
 * Spawns `cmd`. Under Deno, `Deno.Command` is used: Deno's `node:child_process` reports a child that handled
 * SIGTERM and exited 0 as killed by the signal, which would hide the exit code the tests check.
 */
function spawnChild(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  onText: (text: string) => void,
): Child {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno !== undefined) {
    const child = new deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn();
    const decoder = new TextDecoder();
    for (const stream of [child.stdout, child.stderr]) {
      stream.pipeTo(new WritableStream({ write: (chunk) => onText(decoder.decode(chunk, { stream: true })) }))
        .catch(() => {});
    }
    return {
      pid: child.pid,
      kill: (signal) => {
        try {
          child.kill(signal as Deno.Signal);
        } catch { /* already gone */ }
      },
      exited: child.status.then((status) => status.signal === null ? status.code : null),
    };
  }
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (chunk: Buffer) => onText(chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => onText(chunk.toString()));
  return {
    pid: child.pid!,
    kill: (signal) => child.kill(signal),
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
}

/** Starts the relay with extra flags; rejects if it does not print its listening line within `timeoutMs`. */
export function startRelay(
  flags: string[] = [],
  options: { env?: Record<string, string>; timeoutMs?: number; command?: string[] } = {},
): Promise<RelayProcess> {
  const [cmd, ...args] = options.command ?? runtimeCommand();
  let out = "";
  let listening = false;
  let exitCode: number | null | undefined;
  return new Promise((resolve, reject) => {
    const child = spawnChild(
      cmd,
      [...args, "--port", "0", "--host", "127.0.0.1", ...flags],
      { ...process.env as Record<string, string>, NO_COLOR: "1", ...options.env },
      (text) => {
        out += text;
        const m = LISTEN_RE.exec(out);
        if (!m || listening) return;
        listening = true;
        clearTimeout(timer);
        const scheme = m[1];
        const port = Number(m[3]);
        const host = "127.0.0.1";
        resolve({
          port,
          host,
          url: `${scheme}://${host}:${port}`,
          wsUrl: `${scheme === "https" ? "wss" : "ws"}://${host}:${port}`,
          pid: child.pid,
          output: () => out,
          exited: child.exited,
          async stop(signal: NodeJS.Signals = "SIGTERM") {
            if (exitCode !== undefined) return exitCode;
            child.kill(signal);
            const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
            const code = await child.exited;
            clearTimeout(kill);
            return code;
          },
        });
      },
    );
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`relay did not start in time:\n${out}`));
    }, options.timeoutMs ?? 30_000);
    child.exited.then((code) => {
      exitCode = code;
      clearTimeout(timer);
      if (!listening) reject(new Error(`relay exited with ${code} before listening:\n${out}`));
    });
  });
}

/** Publishes `text` over HTTP (`text/plain`) and returns its seq, the ack; fails the test on any other answer. */
export async function publishText(relay: RelayProcess, channel: string, text: string): Promise<number> {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: text,
  });
  const body = await response.json();
  if (response.status !== 200) {
    throw new Error(`publish to ${channel}: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.seq;
}

/**
 * Starts a relay with `flags` and waits until `/readyz` answers 200 (its broker is connected). With a fixed
 * `port` (a node replaced on the port of one that stopped) the start is tried up to `portAttempts` times:
 * while the port was free, another process's outgoing connection may have taken it for a moment.
 */
export async function startReadyRelay(
  flags: string[],
  port = 0,
  portAttempts = 5,
): Promise<RelayProcess> {
  for (let attempt = 1;; attempt++) {
    try {
      const node = await startRelay([...flags, "--port", String(port)]);
      for (let i = 0; (await fetch(`${node.url}/readyz`)).status !== 200; i++) {
        if (i > 400) {
          await node.stop();
          throw new Error("the relay's broker did not become ready");
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return node;
    } catch (error) {
      if (port === 0 || attempt >= portAttempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
