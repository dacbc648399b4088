/**
 * Plain-text rendering of abuse results: one line per attack, its problems indented below.
 * @module
 */
import type { AbuseReport } from "./runner.ts";
import type { AttackResult } from "./types.ts";

function kib(n: number | null): string {
  return n === null ? "" : `${(n / 1024).toFixed(1)} MiB`;
}

/** `ok   header-flood  431 in 2 ms, closed after 3 ms  [RSS 61.2 MiB, peak 61.5 MiB]` and any problems. */
export function formatResult(r: AttackResult): string {
  const memory = r.rssAfterKiB === null ? "" : `  [RSS ${kib(r.rssAfterKiB)}, peak ${kib(r.rssPeakKiB)}]`;
  const lines = [`${r.problems.length === 0 ? "ok  " : "FAIL"} ${r.id.padEnd(30)} ${r.observed}${memory}`];
  if (r.problems.length > 0) {
    lines.push(`     expected: ${r.expected}`);
    for (const p of r.problems) lines.push(`     - ${p}`);
  }
  return lines.join("\n");
}

/** The closing summary line. */
export function formatSummary(report: AbuseReport): string {
  const total = report.results.length;
  const base = report.baseline
    ? `; relay started at RSS ${kib(report.baseline.rssKiB)}, ${report.baseline.fds} fds`
    : "";
  return `${total - report.failed} of ${total} attacks answered as expected, ${report.failed} not, in ${
    (report.ms / 1000).toFixed(1)
  } s${base}`;
}
