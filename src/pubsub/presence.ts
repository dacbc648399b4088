/**
 * Presence: who is in a channel. A {@link PresenceStore} sits beside the {@link Broker} (not inside it: a
 * relay without `--presence` never builds one) and keeps, per channel, the connections present and the users
 * they belong to. A user joins with its first connection and leaves with its last; the store reports each of
 * those transitions once, to one listener, whichever node caused them.
 *
 * {@link MemoryPresence} is the store of one process (the memory and SQLite brokers: both are one node): exact
 * and immediate. The Redis store (`redis/presence.ts`) shares presence across nodes.
 * @module
 */
import type { MaybePromise } from "./maybe_promise.ts";

/** Users per channel when nothing else is configured (`--presence-max-members`). */
export const DEFAULT_PRESENCE_MAX_MEMBERS = 1000;

/** A user as a channel's presence lists it. */
export interface PresenceMember {
  /** The token's `sub`, or the connection's id when there is no auth. */
  user: string;
  /** The user's info as JSON text (what the application attached), or null. */
  info: string | null;
  /** The user's connections present in the channel (tabs, devices). */
  connections: number;
}

/** A channel's presence at one moment. */
export interface PresenceSnapshot {
  users: PresenceMember[];
  /** Connections present, every user's together. */
  clients: number;
}

/** A user's first connection joined a channel, or its last one left. */
export interface PresenceChange {
  type: "join" | "leave";
  channel: string;
  user: string;
  /** JSON text, on joins only. */
  info: string | null;
}

/** What `add` did: the user joined (first connection), was already there, or the channel is full. */
export type PresenceAdd = "joined" | "present" | "full";

/** Where presence lives: one process, or shared by every node. */
export interface PresenceStore {
  /** Users per channel; a new user past it is refused (`full`); more connections of a member always pass. */
  readonly maxMembers: number;
  /**
   * Adds connection `connection` (unique across nodes) of `user` to `channel`. Calls to one store are applied
   * in the order they are made, so a `remove` made after an `add` always finds it.
   */
  add(channel: string, connection: string, user: string, info: string | null): MaybePromise<PresenceAdd>;
  /** Removes a connection; nothing when it is not there (refused, already removed or expired). */
  remove(channel: string, connection: string): MaybePromise<void>;
  /** The channel's users and connections. */
  members(channel: string): MaybePromise<PresenceSnapshot>;
  /** The listener of every join and leave (this node's and, when shared, every other node's). */
  onChange(listener: (change: PresenceChange) => void): void;
  /** Removes this node's connections and releases what the store holds. */
  close(): MaybePromise<void>;
}

interface MemberState {
  connections: number;
  info: string | null;
}

interface ChannelPresence {
  /** Connection → its user. */
  readonly connections: Map<string, string>;
  readonly users: Map<string, MemberState>;
}

/** Presence of one process: two maps per channel, every change reported at once (synchronously). */
export class MemoryPresence implements PresenceStore {
  readonly maxMembers: number;
  readonly #channels = new Map<string, ChannelPresence>();
  #listener: (change: PresenceChange) => void = () => {};

  constructor(options: { maxMembers?: number } = {}) {
    this.maxMembers = options.maxMembers ?? DEFAULT_PRESENCE_MAX_MEMBERS;
  }

  add(channel: string, connection: string, user: string, info: string | null): PresenceAdd {
    let state = this.#channels.get(channel);
    if (state?.connections.has(connection)) return "present";
    const member = state?.users.get(user);
    if (member === undefined && (state?.users.size ?? 0) >= this.maxMembers) return "full";
    if (state === undefined) {
      state = { connections: new Map(), users: new Map() };
      this.#channels.set(channel, state);
    }
    state.connections.set(connection, user);
    if (member !== undefined) {
      member.connections++;
      return "present";
    }
    state.users.set(user, { connections: 1, info });
    this.#listener({ type: "join", channel, user, info });
    return "joined";
  }

  remove(channel: string, connection: string): void {
    const state = this.#channels.get(channel);
    const user = state?.connections.get(connection);
    if (state === undefined || user === undefined) return;
    state.connections.delete(connection);
    const member = state.users.get(user)!;
    if (--member.connections > 0) return;
    state.users.delete(user);
    // An empty channel keeps nothing: presence memory follows the connections present.
    if (state.users.size === 0) this.#channels.delete(channel);
    this.#listener({ type: "leave", channel, user, info: null });
  }

  members(channel: string): PresenceSnapshot {
    const state = this.#channels.get(channel);
    if (state === undefined) return { users: [], clients: 0 };
    const users: PresenceMember[] = [];
    for (const [user, { connections, info }] of state.users) users.push({ user, info, connections });
    return { users, clients: state.connections.size };
  }

  onChange(listener: (change: PresenceChange) => void): void {
    this.#listener = listener;
  }

  close(): void {
    this.#channels.clear();
  }
}
