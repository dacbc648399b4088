/**
 * How one parser split one connection's bytes into requests, in a form shared by the relay and the
 * references, and the comparison that classifies a difference.
 * @module
 */

/** One request a parser accepted. Null fields are unknown (the relay's answer did not reveal them). */
export interface SplitRequest {
  method: string | null;
  /** The `q<N>` id found in the target, or null. */
  id: string | null;
  /** The body, base64; null when unknown or when it did not end. */
  body: string | null;
}

/** How a parser stopped: the bytes ran out, it stopped by rule (`Connection: close`, upgrade), or refused. */
export type SplitEnd = "eof" | "closed" | "refused";

/** A parser's view of one connection. */
export interface Split {
  requests: SplitRequest[];
  end: SplitEnd;
  /** The refusal's reason (an error code), for reports. */
  reason: string | null;
}

/** What a reference reports per request (its own JSON line). */
export interface ReferenceRequest {
  method: string;
  target: string;
  body: string | null;
  upgrade: boolean;
}

/** The `q<N>` id in a target or answer; the generator puts exactly one in each target. */
export function requestId(text: string): string | null {
  return /q\d+/.exec(text)?.[0] ?? null;
}

/** A reference's report as a {@link Split}. */
export function referenceSplit(
  report: { requests: ReferenceRequest[]; end: SplitEnd; reason: string | null },
): Split {
  return {
    requests: report.requests.map((r) => ({ method: r.method, id: requestId(r.target), body: r.body })),
    end: report.end,
    reason: report.reason,
  };
}

/**
 * The classes of difference between the relay and a reference, from harmless to alarming:
 * - `agree`: the same requests (method, id, body where both know it).
 * - `relay_stricter`: the relay's requests are a prefix of the reference's and the relay refused or stopped.
 * - `relay_lenient`: the reference's requests are a prefix of the relay's and the reference refused or
 *   stopped (the relay accepted bytes the reference refused).
 * - `method_differs`: the same requests, but the relay answered one under another method than the bytes
 *   carry (Bun's `Request` turns unknown methods into GET): not a framing difference, still a failure.
 * - `different`: both accepted the bytes but split them into different requests: a front end using one
 *   parser and a back end using the other would disagree on where a request ends (request smuggling).
 */
export type SplitClass = "agree" | "relay_stricter" | "relay_lenient" | "method_differs" | "different";

function sameRequest(a: SplitRequest, b: SplitRequest, methods = true): boolean {
  if (a.id !== null && b.id !== null && a.id !== b.id) return false;
  if (methods && a.method !== null && b.method !== null && a.method !== b.method) return false;
  return a.body === null || b.body === null || a.body === b.body;
}

function isPrefix(short: SplitRequest[], long: SplitRequest[], methods = true): boolean {
  return short.length <= long.length && short.every((r, i) => sameRequest(r, long[i], methods));
}

/** Classifies the relay's split against a reference's. */
export function classify(relay: Split, reference: Split): SplitClass {
  const r = relay.requests;
  const ref = reference.requests;
  if (r.length === ref.length && isPrefix(r, ref)) return "agree";
  if (r.length < ref.length && isPrefix(r, ref) && relay.end !== "eof") return "relay_stricter";
  if (ref.length < r.length && isPrefix(ref, r) && reference.end !== "eof") return "relay_lenient";
  const framed = (a: SplitRequest[], b: SplitRequest[]) => isPrefix(a, b, false);
  if (r.length === ref.length ? framed(r, ref) : r.length < ref.length ? framed(r, ref) : framed(ref, r)) {
    return "method_differs";
  }
  return "different";
}

/** A split for reports: `POST q1 (5 B), GET q2, refused: invalid_chunk_size`. */
export function describeSplit(split: Split): string {
  const requests = split.requests.map((r) => {
    const body = r.body === null ? "" : ` (${atob(r.body).length} B)`;
    return `${r.method ?? "?"} ${r.id ?? "?"}${body}`;
  });
  const end = split.end === "eof" ? "" : `${split.end}${split.reason ? `: ${split.reason}` : ""}`;
  return [...requests, end].filter((s) => s !== "").join(", ") || "nothing";
}
