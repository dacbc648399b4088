/**
 * Text output of a run: one progress line per case that is not a plain pass, a per-group table and a total
 * line.
 * @module
 */
import type { CaseResult } from "./context.ts";
import { type ConformanceReport, DEFLATE_GROUP_NAMES, GROUP_NAMES, totalsOf } from "./runner.ts";

/** One line for a case that did not simply pass (for progress output). */
export function formatResult(r: CaseResult): string {
  return `${r.verdict.toUpperCase().padEnd(10)} [${r.group}] ${r.name}: ${r.reason}`;
}

/** The per-group table and the total line. */
export function formatSummary(report: ConformanceReport): string {
  const rows: string[][] = [["group", "pass", "non-strict", "fail", "cases"]];
  for (const group of [...GROUP_NAMES, ...DEFLATE_GROUP_NAMES]) {
    const results = report.results.filter((r) => r.group === group);
    if (results.length === 0) continue;
    const t = totalsOf(results);
    rows.push([group, String(t.pass), String(t.nonStrict), String(t.fail), String(results.length)]);
  }
  const { pass, nonStrict, fail } = report.totals;
  rows.push(["total", String(pass), String(nonStrict), String(fail), String(report.results.length)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");
  const table = rows.map(line);
  table.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  table.splice(table.length - 1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const seconds = (report.durationMs / 1000).toFixed(1);
  return `${
    table.join("\n")
  }\n\n${report.url}: ${pass} pass, ${nonStrict} non-strict, ${fail} fail in ${seconds} s`;
}
