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
} as const;
export type ErrorCode = typeof ERROR_CODE[keyof typeof ERROR_CODE];

/** A client command, validated. */
export type Command =
  | { type: "subscribe"; channel: string; since?: number; epoch?: string }
  | { type: "unsubscribe"; channel: string }
  | { type: "publish"; channel: string; data: string | Uint8Array; id?: string };

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
    if (msg.type === "subscribe" || msg.type === "unsubscribe" || msg.type === "publish") {
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
      let data: string | Uint8Array;
      if (hasText) data = msg.text as string;
      else {
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
    case undefined:
      return fail(ERROR_CODE.BadCommand, 'a command needs a "type"');
    default:
      return fail(
        ERROR_CODE.UnknownType,
        `unknown type ${
          JSON.stringify(String(msg.type)).slice(0, 60)
        }; expected subscribe, unsubscribe or publish`,
      );
  }
}

/** `{"type":"message",…}` for a published message: built once per message, shared by every subscriber. */
export function messageEnvelope(channel: string, seq: number, data: string | Uint8Array): string {
  return typeof data === "string"
    ? `{"type":"message","channel":${JSON.stringify(channel)},"seq":${seq},"text":${JSON.stringify(data)}}`
    : `{"type":"message","channel":${JSON.stringify(channel)},"seq":${seq},"binary":"${data.toBase64()}"}`;
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

/** `{"type":"error",…}` */
export function errorEnvelope(error: CommandError): string {
  return JSON.stringify({
    type: "error",
    ...(error.id !== undefined ? { id: error.id } : {}),
    code: error.error,
    message: error.message,
  });
}
