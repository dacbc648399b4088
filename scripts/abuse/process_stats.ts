/**
 * The relay's resident memory and open file descriptors, read from Linux `/proc`, so attacks can show that
 * they cost the relay nothing lasting.
 * @module
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

/** Reads `/proc/<pid>` of one process. */
export class ProcessStats {
  readonly pid: number;

  private constructor(pid: number) {
    this.pid = pid;
  }

  /** Stats of `pid`, or null when `/proc/<pid>/status` cannot be read (not Linux, no such process). */
  static open(pid: number | null): ProcessStats | null {
    if (pid === null) return null;
    const stats = new ProcessStats(pid);
    try {
      stats.rssKiB();
      return stats;
    } catch {
      return null;
    }
  }

  /** Resident set size now (`VmRSS`), KiB. */
  rssKiB(): number {
    return this.#statusField("VmRSS");
  }

  /** Peak resident set size since start or the last {@link resetPeak} (`VmHWM`), KiB. */
  peakKiB(): number {
    return this.#statusField("VmHWM");
  }

  /**
   * Resets the peak to the current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux 4.0+). False when not
   * permitted: the peak then counts from the process start.
   */
  resetPeak(): boolean {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, "5");
      return true;
    } catch {
      return false;
    }
  }

  /** The soft limit on open files (`ulimit -n`) of this process, or null when unknown. */
  openFileLimit(): number | null {
    return openFileLimit(this.pid);
  }

  /** Open file descriptors (sockets, files, pipes). */
  fdCount(): number {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  #statusField(name: string): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const line = status.split("\n").find((l) => l.startsWith(`${name}:`));
    if (line === undefined) throw new Error(`/proc/${this.pid}/status has no ${name}`);
    return Number.parseInt(line.slice(name.length + 1).trim(), 10);
  }
}

/** Polls `fdCount` until it is at most `limit` or `timeoutMs` passes; returns the last count and the wait. */
export async function settleFds(
  stats: ProcessStats,
  limit: number,
  timeoutMs: number,
): Promise<{ fds: number; waitedMs: number }> {
  const start = Date.now();
  for (;;) {
    const fds = stats.fdCount();
    const waitedMs = Date.now() - start;
    if (fds <= limit || waitedMs >= timeoutMs) return { fds, waitedMs };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The soft `Max open files` limit of process `pid` (or of this process), or null when unknown. */
export function openFileLimit(pid: number | "self"): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, "utf8").split("\n").find((l) =>
      l.startsWith("Max open files")
    );
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    return soft === undefined || soft === "unlimited" ? null : Number(soft);
  } catch {
    return null;
  }
}
