/**
 * HTTP/1.1 differential fuzzer: seeded cases of pipelined requests (see `http_cases.ts`) sent to a running
 * relay in random TCP chunkings and to two reference parsers (Node's llhttp in strict mode, Python's h11);
 * compares how each split the bytes into requests (method, target id, body) and checks every relay answer.
 *
 * ```sh
 * deno run -A scripts/fuzz/http_differential.ts --seed 1 --cases 3000 http://127.0.0.1:8080
 * ```
 *
 * Fails (exit 1) on a smuggling signal (the relay and a reference both accepted the bytes but split them
 * differently), on a malformed relay answer or a refusal not followed by exactly one error response and the
 * close, when `/healthz` on a new connection is not served, and, with `--strict-chunk-ext`, when the relay
 * accepts a chunk line that llhttp refuses. Other strictness differences are counted and listed, not failed.
 * @module
 */
import { HttpCaseGenerator, latin1Bytes, showBytes } from "./http_cases.ts";
import { readRelayAnswer } from "./http_relay_answer.ts";
import { findH11Python, type Reference, startH11Reference, startLlhttpReference } from "./http_references.ts";
import { classify, describeSplit, type Split, type SplitClass } from "./http_split.ts";
import { Rng } from "./rng.ts";
import { tcpExchange } from "./tcp.ts";

/** Options of {@link runHttpDifferential}. */
export interface HttpFuzzOptions {
  /** The relay, `http://127.0.0.1:PORT`. */
  url: string;
  seed: number;
  /** Random cases, run after the targeted ones. */
  cases: number;
  /** Check `GET /healthz` on a new connection every this many cases. @default 100 */
  healthEvery?: number;
  /**
   * Fail when the relay accepts a chunk line llhttp refuses (chunk-extension grammar or whitespace after the
   * size, RFC 9112 §7.1.1). Off: such cases are only counted as `chunk_ext_lenient`. @default false
   */
  strictChunkExt?: boolean;
  /** Share of cases with random byte mutations. @default 0.3 */
  mutationRate?: number;
  /** The Node.js binary for the llhttp reference. @default "node" */
  node?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** A case worth reading: its bytes and what each parser made of them. */
export interface HttpFinding {
  case: number;
  kind: SplitClass | "problem" | "chunk_ext_lenient" | "reference_error";
  detail: string;
  /** The case's bytes, JSON-escaped (0x7F–0xFF as \xNN). */
  bytes: string;
  relay: string;
  references: Record<string, string>;
}

/** What a run measured. */
export interface HttpFuzzReport {
  seed: number;
  /** Cases run: the targeted ones (see `HttpCaseGenerator.targeted`), then the seeded random ones. */
  cases: number;
  /** References that ran (h11 is skipped, with `skipped` saying why, when python3-h11 is missing). */
  references: string[];
  skipped: string[];
  /** Per reference, how many cases fell in each class. */
  classes: Record<string, Record<SplitClass, number>>;
  /** Cases where the relay accepted a chunk line llhttp refused. */
  chunkExtLenient: number;
  /** Cases whose relay answer broke the contract. */
  problems: number;
  healthChecks: number;
  healthFailures: number;
  /** What fails the run: smuggling signals, problems, health failures, reference errors, strict chunk-ext. */
  failures: HttpFinding[];
  /** Strictness differences, for reading (capped). */
  notes: HttpFinding[];
  ms: number;
}

/** Findings kept for reading beyond the failures. */
const MAX_NOTES = 50;
/** Pieces a case is cut into for the relay, and the pauses between them (ms). */
const MAX_PIECES = 7;
const PAUSES_MS = [0, 0, 0, 1, 3];
/** A relay answer or close slower than this counts as a problem. */
const RELAY_TIMEOUT_MS = 2000;
/** llhttp's chunk-line errors ("Invalid character in chunk size", "… chunk extensions …"). */
const LLHTTP_CHUNK_ERROR = /chunk/i;

/** The seed of case `index`, so any case can be replayed alone from (seed, index). */
function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/** Reads the bodies of the relay's accepted POSTs back from the channels' history. */
async function fillStoredBodies(url: string, answer: ReturnType<typeof readRelayAnswer>): Promise<void> {
  for (const item of answer.stored) {
    const response = await fetch(`${url}/channels/${item.channel}/messages?since=${item.seq - 1}&limit=1`);
    const history = await response.json() as { messages?: { seq: number; text?: string; binary?: string }[] };
    const message = history.messages?.find((m) => m.seq === item.seq);
    if (message === undefined) {
      answer.problems.push(`message ${item.seq} of ${item.channel} not in history`);
    } else {
      item.request.body = message.binary ?? new TextEncoder().encode(message.text ?? "").toBase64();
    }
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const x = await tcpExchange(port, [
      latin1Bytes("GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
    ]);
    return new TextDecoder().decode(x.received).startsWith("HTTP/1.1 200 ");
  } catch {
    return false;
  }
}

async function startReferences(options: HttpFuzzOptions): Promise<{ refs: Reference[]; skipped: string[] }> {
  const refs: Reference[] = [await startLlhttpReference(options.node)];
  const skipped: string[] = [];
  const h11 = findH11Python();
  if ("python" in h11) refs.push(await startH11Reference(h11.python));
  else skipped.push(`h11: ${h11.missing}`);
  return { refs, skipped };
}

/** Runs the fuzzer against the relay at `options.url`; the references start and stop inside. */
export async function runHttpDifferential(options: HttpFuzzOptions): Promise<HttpFuzzReport> {
  const { url, seed, cases, healthEvery = 100, strictChunkExt = false, log = () => {} } = options;
  const port = Number(new URL(url).port);
  const started = performance.now();
  const generator = new HttpCaseGenerator({
    channelPrefix: `fz${seed}x${Date.now() % 1e6}-`,
    mutationRate: options.mutationRate,
  });
  const { refs, skipped } = await startReferences(options);
  const report: HttpFuzzReport = {
    seed,
    cases: 0,
    references: refs.map((r) => r.name),
    skipped,
    classes: Object.fromEntries(
      refs.map((
        r,
      ) => [r.name, { agree: 0, relay_stricter: 0, relay_lenient: 0, method_differs: 0, different: 0 }]),
    ),
    chunkExtLenient: 0,
    problems: 0,
    healthChecks: 0,
    healthFailures: 0,
    failures: [],
    notes: [],
    ms: 0,
  };
  try {
    const targeted = generator.targeted();
    const total = targeted.length + cases;
    for (let index = 0; index < total; index++) {
      const rng = new Rng(caseSeed(seed, index));
      const text = targeted[index] ?? generator.next(rng);
      const bytes = latin1Bytes(text);
      const pieces = rng.cut(bytes, MAX_PIECES);
      const pausesMs = pieces.map(() => rng.pick(PAUSES_MS));
      const [relayBytes, ...refSplits] = await Promise.all([
        tcpExchange(port, pieces, { pausesMs, timeoutMs: RELAY_TIMEOUT_MS }),
        ...refs.map((r) => r.split(bytes).catch((e: Error) => e)),
      ]);
      const answer = readRelayAnswer(relayBytes.received, relayBytes.closed);
      await fillStoredBodies(url, answer);
      report.cases++;
      const finding = (kind: HttpFinding["kind"], detail: string): HttpFinding => ({
        case: index,
        kind,
        detail,
        bytes: showBytes(text),
        relay: describeSplit(answer.split),
        references: Object.fromEntries(
          refs.map((r, i) => {
            const s = refSplits[i];
            return [r.name, s instanceof Error ? s.message : describeSplit(s)];
          }),
        ),
      });
      if (answer.problems.length > 0) {
        report.problems++;
        report.failures.push(finding("problem", answer.problems.join("; ")));
      }
      refs.forEach((ref, i) => {
        const split = refSplits[i];
        if (split instanceof Error) {
          report.failures.push(finding("reference_error", `${ref.name}: ${split.message}`));
          return;
        }
        const verdict = classify(answer.split, split as Split);
        report.classes[ref.name][verdict]++;
        if (verdict === "different") {
          report.failures.push(
            finding(verdict, `relay and ${ref.name} accepted the bytes but split them differently`),
          );
        } else if (verdict === "method_differs") {
          report.failures.push(
            finding(verdict, `the relay answered under another method than ${ref.name} parsed`),
          );
        } else if (
          verdict === "relay_lenient" && ref.name === "llhttp" && LLHTTP_CHUNK_ERROR.test(split.reason ?? "")
        ) {
          report.chunkExtLenient++;
          const f = finding(
            "chunk_ext_lenient",
            `relay accepted a chunk line llhttp refused (${split.reason})`,
          );
          if (strictChunkExt) report.failures.push(f);
          else if (report.notes.length < MAX_NOTES) report.notes.push(f);
        } else if (verdict !== "agree" && report.notes.length < MAX_NOTES) {
          report.notes.push(finding(verdict, `${verdict} than ${ref.name}`));
        }
      });
      if ((index + 1) % healthEvery === 0 || index === total - 1) {
        report.healthChecks++;
        if (!await healthy(port)) {
          report.healthFailures++;
          report.failures.push(
            finding("problem", `GET /healthz on a new connection not served after case ${index}`),
          );
          break;
        }
        log(
          `case ${index + 1}/${total} ${Math.round(performance.now() - started)} ms, ` +
            `${report.failures.length} failures`,
        );
      }
    }
  } finally {
    await Promise.all(refs.map((r) => r.stop()));
  }
  report.ms = Math.round(performance.now() - started);
  return report;
}

/** Long cases (5,000-byte chunk extensions) are shortened on screen; `--json` keeps every byte. */
function clip(text: string, max = 600): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max / 2)} …(${text.length - max} chars)… ${text.slice(-max / 2)}`;
}

/** One finding as report lines. */
function formatFinding(f: HttpFinding): string {
  return `  [${f.kind}] case ${f.case}: ${f.detail}\n    bytes  ${clip(f.bytes)}\n    relay  ${f.relay}\n` +
    Object.entries(f.references).map(([k, v]) => `    ${k.padEnd(6)} ${v}`).join("\n");
}

/** The report's summary lines. */
export function formatHttpReport(report: HttpFuzzReport): string {
  const lines = [`HTTP differential fuzz: seed ${report.seed}, ${report.cases} cases in ${report.ms} ms`];
  for (const [name, counts] of Object.entries(report.classes)) {
    lines.push(`  vs ${name}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  }
  for (const s of report.skipped) lines.push(`  skipped ${s}`);
  lines.push(
    `  relay answers out of contract: ${report.problems}; chunk lines accepted that llhttp refuses: ` +
      `${report.chunkExtLenient}; /healthz served ${report.healthChecks - report.healthFailures} of ` +
      `${report.healthChecks}`,
  );
  if (report.failures.length > 0) {
    lines.push(`FAILURES (${report.failures.length}):`, ...report.failures.map(formatFinding));
  } else lines.push("no failures");
  return lines.join("\n");
}

function parseArgs(args: string[]) {
  const options: HttpFuzzOptions & { json: boolean; notes: boolean } = {
    url: "",
    seed: 1,
    cases: 300,
    json: false,
    notes: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--seed") options.seed = Number(args[++i]);
    else if (a === "--cases") options.cases = Number(args[++i]);
    else if (a === "--health-every") options.healthEvery = Number(args[++i]);
    else if (a === "--mutation-rate") options.mutationRate = Number(args[++i]);
    else if (a === "--node") options.node = args[++i];
    else if (a === "--strict-chunk-ext") options.strictChunkExt = true;
    else if (a === "--json") options.json = true;
    else if (a === "--notes") options.notes = true;
    else if (/^https?:\/\//.test(a)) options.url = a.replace(/\/$/, "");
    else throw new Error(`unknown argument ${a}`);
  }
  if (!options.url) {
    throw new Error(
      "usage: http_differential.ts [--seed N] [--cases M] [--strict-chunk-ext] [--notes] [--json] http://127.0.0.1:PORT",
    );
  }
  return options;
}

if (import.meta.main) {
  const options = parseArgs(Deno.args);
  const report = await runHttpDifferential({ ...options, log: (l) => console.error(l) });
  if (options.json) console.log(JSON.stringify(report, null, 1));
  else {
    console.log(formatHttpReport(report));
    if (options.notes) {
      console.log(`NOTES (first ${report.notes.length}):`, ...report.notes.map(formatFinding));
    }
  }
  Deno.exit(report.failures.length > 0 ? 1 : 0);
}
