/**
 * A private `redis-server` for tests: loopback only, a free port, no persistence (a restart comes back empty,
 * like a Redis run without RDB/AOF), stopped or killed on demand and restarted on the same port.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";

/** A running (or stopped, restartable) Redis. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** Stops it: SIGTERM by default, SIGKILL to simulate a crash. Resolves when the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers, like a stalled server. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Runs a command with `redis-cli` and returns its output (e.g. `["FLUSHALL"]`). */
  cli(args: string[]): Promise<string>;
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function run(command: string, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => out += chunk.toString());
    child.stderr!.on("data", (chunk: Buffer) => out += chunk.toString());
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${out}`));
    });
  });
}

/**
 * Sends a signal by pid: Deno's `ChildProcess.kill` ignores every call after the first one succeeded, which
 * would make SIGCONT after SIGSTOP (or SIGKILL after SIGTERM) a no-op.
 */
function signalProcess(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // already gone
  }
}

/** Spawns `redis-server` and waits for "Ready to accept connections". */
function spawnRedis(
  port: number,
  timeoutMs: number,
): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const child = spawn(
    "redis-server",
    [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "notice",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        child.stdout!.resume(); // keep draining its log so it never blocks on a full pipe
        resolve({ child, exited });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => out += chunk.toString());
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (apt-get install -y redis-server): ${error.message}`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

/**
 * Starts a private Redis on a free loopback port (or `port`). With `running: false` nothing is started yet:
 * call `start()` (to test a relay that comes up before its Redis). Stop it in `after`.
 */
export async function startRedis(
  options: { timeoutMs?: number; port?: number; running?: boolean } = {},
): Promise<RedisServer> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const port = options.port ?? await freePort();
  let current: { child: ChildProcess; exited: Promise<void> } | undefined = options.running === false
    ? undefined
    : await spawnRedis(port, timeoutMs);
  const sendSignal = (name: NodeJS.Signals) => {
    if (current === undefined) throw new Error("redis-server is not running");
    signalProcess(current.child, name);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      const running = current;
      current = undefined;
      if (running === undefined || running.child.exitCode !== null) return;
      signalProcess(running.child, "SIGCONT"); // a paused server would not act on SIGTERM
      signalProcess(running.child, signal);
      const kill = setTimeout(() => signalProcess(running.child, "SIGKILL"), 5000);
      await running.exited;
      clearTimeout(kill);
    },
    async start() {
      if (current !== undefined) throw new Error("redis-server is already running");
      current = await spawnRedis(port, timeoutMs);
    },
    pause: () => sendSignal("SIGSTOP"),
    resume: () => sendSignal("SIGCONT"),
    cli: (args) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]),
  };
}
