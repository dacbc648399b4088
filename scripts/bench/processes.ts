/**
 * Child processes of a bench run: spawned with their output drained (a full pipe would stall a server), tracked
 * so that every one of them is stopped at the end, on errors and on Ctrl-C; CPU time read through `/proc`.
 * @module
 */

/** How long a stopped child gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 3000;
/** How much of a child's output is kept for error messages. */
const OUTPUT_TAIL_CHARS = 8192;

/** A spawned child whose output is collected in the background. */
export interface Tracked {
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  /** The last few KiB of stdout and stderr, interleaved as they came. */
  output(): string;
  /** Resolves as soon as `pattern` matches the output, or rejects when the child exits or time runs out. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the child is gone. */
  stop(): Promise<void>;
}

const live = new Set<Tracked>();

/** Starts `cmd` with piped output that is drained continuously. */
export function spawnTracked(
  cmd: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Tracked {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let exited = false;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((fn) => fn());
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      // Keep the head (the listening line sits there) and the tail (the error, if any).
      if (text.length > 2 * OUTPUT_TAIL_CHARS) {
        text = text.slice(0, 1024) + "\n…\n" + text.slice(-OUTPUT_TAIL_CHARS);
      }
      notify();
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]).catch(() => {});
  const status = child.status.then(async (s) => {
    await drained;
    exited = true;
    live.delete(tracked);
    notify();
    return s;
  });

  const tracked: Tracked = {
    pid: child.pid,
    status,
    output: () => text,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          const match = pattern.exec(text);
          if (match) finish(undefined, match);
          else if (exited) finish(new Error("exited before it was ready"));
        };
        const finish = (error?: Error, match?: RegExpExecArray) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (match) resolve(match);
          else reject(error);
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (exited) return;
      signal(child, "SIGTERM");
      const timer = setTimeout(() => signal(child, "SIGKILL"), STOP_GRACE_MS);
      await status;
      clearTimeout(timer);
    },
  };
  live.add(tracked);
  return tracked;
}

function signal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch { /* already gone */ }
}

/** Stops every child still running (at the end of a run, on errors, on Ctrl-C). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((t) => t.stop()));
}

/** Runs a command to completion and returns its stdout (throws with its output on failure). */
export async function runQuiet(cmd: readonly string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** Looks a program up on PATH; null when missing. */
export async function which(program: string): Promise<string | null> {
  try {
    return (await runQuiet(["sh", "-c", `command -v ${program}`])).trim() || null;
  } catch {
    return null;
  }
}

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`). */
export async function clockTicksPerSecond(): Promise<number> {
  try {
    return Number((await runQuiet(["getconf", "CLK_TCK"])).trim()) || 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process, all threads, in clock ticks (fields 14 and 15 of `/proc/<pid>/stat`). */
export function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}
