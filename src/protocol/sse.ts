/**
 * Server-sent events (HTML Living Standard, "Server-sent events", §9.2): the text of the relay's events and
 * the event ids that carry where a stream stands, so a reconnecting `EventSource` resumes by itself with the
 * `Last-Event-ID` it sends. Pure functions, no I/O.
 *
 * An id lists the state of every channel of a stream, in the order of the request's channels:
 * `<epoch>:<seq>` per channel, joined by `,`; an empty entry is a channel not yet subscribed (no resume).
 * A one-channel stream's id is `<epoch>:<seq>`.
 * @module
 */

/** Where one channel of a stream stands: what a resume sends as `since` and `epoch`. */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

/**
 * Longest epoch an id may carry: the relay's are 32 hex characters (128 random bits); the spare room is for
 * brokers that format theirs differently.
 */
export const MAX_EPOCH_CHARS = 64;
/** Characters one channel takes in an id at most: epoch, `:`, a seq of up to 16 digits, `,`. */
export const MAX_ID_CHARS_PER_CHANNEL = MAX_EPOCH_CHARS + 18;

/**
 * Epochs as ids carry them: letters, digits, `.`, `_`, `-` and `:` (an entry splits at its last `:`), never
 * `,` or a line break.
 */
const EPOCH_RE = /^[0-9A-Za-z_.:-]{1,64}$/;
const SEQ_RE = /^\d{1,16}$/;

/** True for an epoch an id or a `?epoch=` may carry. */
export function isStreamEpoch(epoch: string): boolean {
  return EPOCH_RE.test(epoch);
}

/**
 * One event: `event:`, then `id:` when given, then the data, then the blank line that dispatches it. `data`
 * is one line (the relay's data is JSON, whose strings escape CR and LF); a line break in it would start a
 * new field, so one is split into `data:` lines, which the client joins back with LF.
 */
export function sseEvent(event: string, data: string, id?: string): string {
  const head = id === undefined ? `event: ${event}\n` : `event: ${event}\nid: ${id}\n`;
  if (!LINE_BREAK.test(data)) return `${head}data: ${data}\n\n`;
  return `${head}data: ${data.split(/\r\n|\r|\n/).join("\ndata: ")}\n\n`;
}

const LINE_BREAK = /[\r\n]/;

/**
 * A block with an id and nothing else: the client's last event id becomes `id` and no event fires (the
 * dispatch sets the last event id before it drops a block without data, §9.2.6).
 */
export function sseIdBlock(id: string): string {
  return `id: ${id}\n\n`;
}

/**
 * A `retry:` line without the blank line that would end a block: written first on a stream, it joins the
 * stream's first event (`subscribed`), so even a client that treats every block as an event sees that event
 * first (HTML's EventSource dispatches no event for a block without data anyway).
 */
export function sseRetryLine(ms: number): string {
  return `retry: ${Math.max(0, Math.floor(ms))}\n`;
}

/** A `retry:` block: how long the client waits before it reconnects, in ms. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.floor(ms))}\n\n`;
}

/** A comment (ignored by clients; keeps proxies and idle timers from closing a quiet stream). */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]/g, " ")}\n\n`;
}

/** The id of one channel's position: `<epoch>:<seq>`. */
export function positionId(epoch: string, seq: number): string {
  return `${epoch}:${seq}`;
}

/** The id of a stream: every channel's position in order (`null`: not subscribed yet, an empty entry). */
export function streamId(positions: readonly (StreamPosition | null)[]): string {
  let id = "";
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i];
    if (i > 0) id += ",";
    if (p !== null) id += `${p.epoch}:${p.seq}`;
  }
  return id;
}

/**
 * Reads the id of a stream of `channels` channels (a `Last-Event-ID`): each channel's position, null for an
 * empty entry. Returns null when the id is not one the relay could have sent for such a stream (wrong count,
 * bad epoch or seq, too long).
 */
export function parseStreamId(id: string, channels: number): (StreamPosition | null)[] | null {
  if (id.length > channels * MAX_ID_CHARS_PER_CHANNEL) return null;
  const entries = id.split(",");
  if (entries.length !== channels) return null;
  const positions: (StreamPosition | null)[] = [];
  for (const entry of entries) {
    if (entry === "") {
      positions.push(null);
      continue;
    }
    const colon = entry.lastIndexOf(":");
    if (colon <= 0) return null;
    const epoch = entry.slice(0, colon);
    const seq = entry.slice(colon + 1);
    if (!EPOCH_RE.test(epoch) || !SEQ_RE.test(seq)) return null;
    const n = Number(seq);
    if (!Number.isSafeInteger(n)) return null;
    positions.push({ epoch, seq: n });
  }
  return positions;
}
