/**
 * Starts the real relay as a subprocess (black-box tests): `src/main.ts` on port 0, waits for the
 * `edge-relay listening on` line, and stops it (SIGTERM, then SIGKILL) when the test is done.
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";

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
  readonly child: ChildProcess;
  /** Everything the relay printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, wait up to 5 s, then SIGKILL. Resolves with the exit code (null if killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the relay with extra flags; rejects if it does not print its listening line within `timeoutMs`. */
export function startRelay(
  flags: string[] = [],
  options: { env?: Record<string, string>; timeoutMs?: number; command?: string[] } = {},
): Promise<RelayProcess> {
  const [cmd, ...args] = options.command ?? runtimeCommand();
  const child = spawn(cmd, [...args, "--port", "0", "--host", "127.0.0.1", ...flags], {
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`relay did not start in time:\n${out}`));
    }, options.timeoutMs ?? 30_000);
    const onText = (chunk: Buffer) => {
      out += chunk.toString();
      const m = LISTEN_RE.exec(out);
      if (m && timer) {
        clearTimeout(timer);
        const scheme = m[1];
        const port = Number(m[3]);
        const host = "127.0.0.1";
        resolve({
          port,
          host,
          url: `${scheme}://${host}:${port}`,
          wsUrl: `${scheme === "https" ? "wss" : "ws"}://${host}:${port}`,
          pid: child.pid!,
          child,
          output: () => out,
          async stop(signal: NodeJS.Signals = "SIGTERM") {
            if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
            child.kill(signal);
            const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
            const code = await exited;
            clearTimeout(kill);
            return code;
          },
        });
      }
    };
    child.stdout!.on("data", onText);
    child.stderr!.on("data", onText);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code} before listening:\n${out}`));
    });
  });
}
