/**
 * The envelopes the relay sends, as types: what `subscribedEnvelope`, `messageEnvelope`, `ackEnvelope`, … write
 * and what a client (`client/`, the browser client) reads. Types only: nothing here reaches a bundle.
 * @module
 */
import type { ErrorCode } from "./envelope.ts";

/** `subscribed`: where a channel stands; `recovered` says whether the replay covers everything after `since`. */
export interface SubscribedReply {
  type: "subscribed";
  channel: string;
  /** The channel's latest seq when the subscription started (the replay, if any, follows). */
  seq: number;
  epoch: string;
  recovered: boolean;
}

/** `message`: one published message, `text` or `binary` (base64). */
export interface MessageReply {
  type: "message";
  channel: string;
  seq: number;
  /** The publisher's token `sub`, on channels the relay exposes publishers of (`--expose-publisher`). */
  publisher?: string;
  text?: string;
  binary?: string;
}

/** `ack`: a publish was stored as `seq`. */
export interface AckReply {
  type: "ack";
  id?: string;
  channel: string;
  seq: number;
}

/** `error`: a command was refused; `id` echoes a publish's id. */
export interface ErrorReply {
  type: "error";
  id?: string;
  code: ErrorCode;
  message: string;
}

/** `unsubscribed`: the answer to `unsubscribe`. */
export interface UnsubscribedReply {
  type: "unsubscribed";
  channel: string;
}

/** `pong`: the answer to `ping`. */
export interface PongReply {
  type: "pong";
}

/** `presence`: the answer to `presence`: who is in the channel. */
export interface PresenceReply {
  type: "presence";
  channel: string;
  /** `info` is what the application attached to the user (the `authorize` hook's `user`), when any. */
  users: { user: string; info?: unknown; connections: number }[];
  /** Connections present, every user's together. */
  clients: number;
}

/** `join` / `leave`: a user's first connection joined a presence channel, or its last one left. */
export interface PresenceChangeReply {
  type: "join" | "leave";
  channel: string;
  user: string;
  info?: unknown;
}

/** Any envelope the relay sends. */
export type Reply =
  | SubscribedReply
  | MessageReply
  | AckReply
  | ErrorReply
  | UnsubscribedReply
  | PongReply
  | PresenceReply
  | PresenceChangeReply;
