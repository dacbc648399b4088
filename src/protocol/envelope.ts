/**
 * The envelope protocol (`relay.v1`): JSON text frames, one connection, many channels. This file only parses
 * client commands and serializes relay replies; sessions act on them.
 * @module
 */

/** The subprotocol name clients offer in `Sec-WebSocket-Protocol`. */
export const ENVELOPE_PROTOCOL = "relay.v1";

/** Stable `code`s of `error` replies. */
export const ERROR_CODE = {
  BadJson: "bad_json",
  BadCommand: "bad_command",
  UnknownType: "unknown_type",
  BadChannel: "bad_channel",
  NotSubscribed: "not_subscribed",
  TooManyChannels: "too_many_channels",
  TooLarge: "too_large",
  Unavailable: "unavailable",
  Forbidden: "forbidden",
  /** `presence` on a channel without presence (`--presence` patterns). */
  PresenceOff: "presence_off",
  /** A new user past `--presence-max-members` in a presence channel: the subscribe is refused. */
  PresenceFull: "presence_full",
} as const;
export type ErrorCode = typeof ERROR_CODE[keyof typeof ERROR_CODE];

/** A client command, validated. */
export type Command =
  | { type: "subscribe"; channel: string; since?: number; epoch?: string }
  | { type: "unsubscribe"; channel: string }
  | { type: "publish"; channel: string; data: string | Uint8Array; id?: string }
  /** A client's heartbeat: browsers cannot see WebSocket pings, so a client asks and waits for `pong`. */
  | { type: "ping" }
  /** Who is in a presence channel: its users and connection count. */
  | { type: "presence"; channel: string };

/** A command that could not be understood; `id` is echoed when the client sent a usable one. */
export interface CommandError {
  error: ErrorCode;
  message: string;
  id?: string;
}

const MAX_ID_LENGTH = 128;

/** Parses one text frame into a command, or says what is wrong with it. */
export function parseCommand(text: string): Command | CommandError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: ERROR_CODE.BadJson, message: "the message is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: ERROR_CODE.BadCommand, message: 'a command is a JSON object with a "type"' };
  }
  const msg = value as Record<string, unknown>;
  const id = typeof msg.id === "string" && msg.id.length <= MAX_ID_LENGTH ? msg.id : undefined;
  if (msg.id !== undefined && id === undefined) {
    return {
      error: ERROR_CODE.BadCommand,
      message: `"id" must be a string of at most ${MAX_ID_LENGTH} characters`,
    };
  }
  const fail = (error: ErrorCode, message: string): CommandError =>
    id === undefined ? { error, message } : { error, message, id };
  if (typeof msg.channel !== "string" && msg.type !== undefined) {
    if (
      msg.type === "subscribe" || msg.type === "unsubscribe" || msg.type === "publish" ||
      msg.type === "presence"
    ) {
      return fail(ERROR_CODE.BadCommand, `"${msg.type}" needs a "channel" string`);
    }
  }
  switch (msg.type) {
    case "subscribe": {
      const command: Command = { type: "subscribe", channel: msg.channel as string };
      if (msg.since !== undefined) {
        if (typeof msg.since !== "number" || !Number.isSafeInteger(msg.since) || msg.since < 0) {
          return fail(ERROR_CODE.BadCommand, '"since" must be a non-negative integer');
        }
        command.since = msg.since;
      }
      if (msg.epoch !== undefined) {
        if (typeof msg.epoch !== "string") return fail(ERROR_CODE.BadCommand, '"epoch" must be a string');
        command.epoch = msg.epoch;
      }
      return command;
    }
    case "unsubscribe":
      return { type: "unsubscribe", channel: msg.channel as string };
    case "publish": {
      const hasText = typeof msg.text === "string";
      const hasBinary = typeof msg.binary === "string";
      if (hasText === hasBinary) {
        return fail(ERROR_CODE.BadCommand, '"publish" needs exactly one of "text" or "binary" (base64)');
      }
      // The publisher is the relay's word (the token's sub), never the client's: a client naming one is told so
      // rather than silently ignored, so a client that expected to set it finds out at once.
      if (msg.publisher !== undefined) {
        return fail(
          ERROR_CODE.BadCommand,
          '"publisher" is set by the relay from the token, not by the client',
        );
      }
      let data: string | Uint8Array;
      if (hasText) {
        data = msg.text as string;
        // JSON.parse accepts "\ud800"; a lone surrogate has no UTF-8 form, so raw subscribers would get
        // U+FFFD while envelope and history readers get the surrogate: two readings of one seq.
        if (!data.isWellFormed()) {
          return fail(ERROR_CODE.BadCommand, '"text" must be well-formed Unicode (no lone surrogates)');
        }
      } else {
        try {
          data = Uint8Array.fromBase64(msg.binary as string);
        } catch {
          return fail(ERROR_CODE.BadCommand, '"binary" is not valid base64');
        }
      }
      const command: Command = { type: "publish", channel: msg.channel as string, data };
      if (id !== undefined) command.id = id;
      return command;
    }
    case "ping":
      return { type: "ping" };
    case "presence":
      return { type: "presence", channel: msg.channel as string };
    case undefined:
      return fail(ERROR_CODE.BadCommand, 'a command needs a "type"');
    default:
      return fail(
        ERROR_CODE.UnknownType,
        `unknown type ${
          JSON.stringify(String(msg.type)).slice(0, 60)
        }; expected subscribe, unsubscribe, publish, presence or ping`,
      );
  }
}

/**
 * Most bytes a message envelope adds around its escaped data: the type, the channel (at most 128 characters)
 * and the seq (at most 16 digits), with room to spare. A message with a publisher adds
 * {@link PUBLISHER_OVERHEAD_BYTES} more.
 */
export const ENVELOPE_OVERHEAD_BYTES = 256;

/**
 * Most bytes the `"publisher":…,` field adds: its name and quotes, and a publisher of at most 128 UTF-16
 * units (the pub/sub layer's bound) at 6 bytes each when every one needs a `\u` escape.
 */
export const PUBLISHER_OVERHEAD_BYTES = 16 + 6 * 128;

/** Characters JSON must escape in a string (RFC 8259 §7): quotation mark, reverse solidus, controls. */
// deno-lint-ignore no-control-regex -- matching the control characters is the point
const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;

/**
 * The bytes `text` takes inside an envelope: its UTF-8 length plus what JSON escaping adds (2 bytes for `"`,
 * `\\` and the controls with a short escape, 6 for the other controls). `utf8Bytes` is the UTF-8 length when
 * the caller knows it. Text without characters to escape costs one regular-expression scan.
 */
export function envelopeTextBytes(text: string, utf8Bytes?: number): number {
  if (!NEEDS_ESCAPE.test(text)) return utf8Bytes ?? utf8Length(text);
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20) {
      if (c === 0x22 || c === 0x5c) bytes += 2;
      else if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      // A surrogate pair is 4 bytes: 2 for each half (the text is well-formed).
      else if (c >= 0xd800 && c <= 0xdfff) bytes += 2;
      else bytes += 3;
    } else bytes += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
  }
  return bytes;
}

/**
 * True when `text` fits `maxBytes` inside an envelope (see {@link envelopeTextBytes}), so no envelope frame
 * is ever more than `maxBytes` + {@link ENVELOPE_OVERHEAD_BYTES}. Cheap for the common case: one scan.
 */
export function textFitsEnvelope(text: string, maxBytes: number, utf8Bytes?: number): boolean {
  if (text.length > maxBytes) return false;
  if (!NEEDS_ESCAPE.test(text)) {
    if (utf8Bytes !== undefined) return utf8Bytes <= maxBytes;
    return text.length * 3 <= maxBytes || utf8Length(text) <= maxBytes;
  }
  return envelopeTextBytes(text, utf8Bytes) <= maxBytes;
}

/** The first character outside ASCII; a native scan, several times faster than a `charCodeAt` loop. */
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The UTF-8 length of well-formed `text`, without encoding it (no allocation). ASCII text costs one native
 * scan; the per-character loop starts only at the first character outside ASCII.
 */
export function utf8Length(text: string): number {
  const start = text.search(NON_ASCII);
  if (start < 0) return text.length;
  let bytes = text.length;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

/**
 * `{"type":"message",…}` for a published message: built once per message, shared by every subscriber. The
 * `publisher` field is there only when the message carries one (the relay sets it, on exposed channels only):
 * a property of the message, the same for every subscriber, so the frame stays encode-once.
 */
export function messageEnvelope(
  channel: string,
  seq: number,
  data: string | Uint8Array,
  publisher?: string,
): string {
  const head = publisher === undefined
    ? `{"type":"message","channel":${JSON.stringify(channel)},"seq":${seq},`
    : `{"type":"message","channel":${JSON.stringify(channel)},"seq":${seq},"publisher":${
      JSON.stringify(publisher)
    },`;
  return typeof data === "string"
    ? `${head}"text":${JSON.stringify(data)}}`
    : `${head}"binary":"${data.toBase64()}"}`;
}

/** `{"type":"subscribed",…}` */
export function subscribedEnvelope(channel: string, seq: number, epoch: string, recovered: boolean): string {
  return JSON.stringify({ type: "subscribed", channel, seq, epoch, recovered });
}

/** `{"type":"unsubscribed",…}` */
export function unsubscribedEnvelope(channel: string): string {
  return JSON.stringify({ type: "unsubscribed", channel });
}

/** `{"type":"ack",…}`; sent for every publish, with the client's `id` when it gave one. */
export function ackEnvelope(id: string | null, channel: string, seq: number): string {
  return JSON.stringify(id === null ? { type: "ack", channel, seq } : { type: "ack", id, channel, seq });
}

/** A user present in a channel, as `presenceEnvelope` lists it; `info` is JSON text (spliced in as it is). */
export interface PresenceUser {
  user: string;
  info: string | null;
  connections: number;
}

/** `{"type":"presence","channel","users":[{"user","info"?,"connections"}],"clients":N}` */
export function presenceEnvelope(channel: string, users: readonly PresenceUser[], clients: number): string {
  const list = users.map(({ user, info, connections }) =>
    `{"user":${JSON.stringify(user)}${info === null ? "" : `,"info":${info}`},"connections":${connections}}`
  );
  return `{"type":"presence","channel":${JSON.stringify(channel)},"users":[${
    list.join(",")
  }],"clients":${clients}}`;
}

/** `{"type":"join",…}`: a user's first connection joined a presence channel; `info` is JSON text. */
export function joinEnvelope(channel: string, user: string, info: string | null): string {
  return `{"type":"join","channel":${JSON.stringify(channel)},"user":${JSON.stringify(user)}${
    info === null ? "" : `,"info":${info}`
  }}`;
}

/** `{"type":"leave",…}`: a user's last connection left a presence channel (or its node died). */
export function leaveEnvelope(channel: string, user: string): string {
  return JSON.stringify({ type: "leave", channel, user });
}

/** The answer to a `ping`: any frame proves the connection alive, this one is sent even when nothing else is. */
export const PONG_ENVELOPE = '{"type":"pong"}';

/** `{"type":"error",…}` */
export function errorEnvelope(error: CommandError): string {
  return JSON.stringify({
    type: "error",
    ...(error.id !== undefined ? { id: error.id } : {}),
    code: error.error,
    message: error.message,
  });
}
