/**
 * Small helpers shared by the case files: naming sizes, and declaring a group's cases tersely.
 * @module
 */
import type { CaseContext, ConformanceCase } from "./context.ts";
import { OPCODE } from "./frame.ts";
import { binaryPayload, textPayload } from "./payloads.ts";

/** Time bound for cases moving 16 MiB or more. */
export const LARGE_CASE_TIMEOUT_MS = 60_000;

/** Returns a function that declares cases of `group`. */
export function caseList(group: string) {
  const cases: ConformanceCase[] = [];
  const add = (name: string, run: (t: CaseContext) => Promise<void>, timeoutMs?: number) => {
    cases.push(timeoutMs ? { group, name, run, timeoutMs } : { group, name, run });
  };
  return { cases, add };
}

/** `125 bytes`, `1 MiB`. */
export function sizeLabel(bytes: number): string {
  return bytes >= 1 << 20 && bytes % (1 << 20) === 0 ? `${bytes >> 20} MiB` : `${bytes} bytes`;
}

/** The two data message kinds with their payload generators. */
export const DATA_KINDS = [
  { name: "text", opcode: OPCODE.Text, payload: textPayload },
  { name: "binary", opcode: OPCODE.Binary, payload: binaryPayload },
] as const;
