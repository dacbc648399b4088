/**
 * Presence in the relay core: which sessions are present in which channels (`--presence` patterns), their
 * users (the token's `sub`, or the connection when there is none), and the `join` / `leave` pushes to the
 * channel's envelope and event-stream subscribers. A user joins with its first connection and leaves with its
 * last: the store decides those transitions, whichever node they happen on.
 *
 * A relay without `--presence` has no tracker: sessions test one null per subscribe and close, and nothing
 * runs per message or per delivery.
 * @module
 */
import { ChannelPatterns } from "../access/mod.ts";
import { joinEnvelope, leaveEnvelope, presenceEnvelope } from "../protocol/mod.ts";
import type { MaybePromise, PresenceAdd, PresenceChange, PresenceStore } from "../pubsub/mod.ts";
import { randomId } from "../util/mod.ts";
import type { ReportError } from "./fanout.ts";

/** Largest user info (the `authorize` hook's `user`, as JSON) a presence entry carries, in UTF-8 bytes. */
export const MAX_PRESENCE_INFO_BYTES = 2048;

/** A session as presence sees it: who it is, and where its pushes go. */
export interface PresenceMemberSession {
  /** The token's `sub`, or null (no auth, or no `sub`): the connection is then its own user. */
  readonly presenceUser: string | null;
  /** What the application attached (`authorize`'s `user`), or undefined. */
  readonly presenceInfo: unknown;
  /** A `join` or `leave` envelope of a channel this session is present in. */
  presencePush(type: "join" | "leave", text: string): void;
}

/** Why a session could not be present: the envelope error code and its message. */
export interface PresenceRefusal {
  code: "presence_full" | "too_large";
  message: string;
}

/** The presence of the relay: the patterns, the store, and who gets the pushes. */
export class PresenceTracker {
  readonly store: PresenceStore;
  readonly #patterns: ChannelPatterns;
  /** This node's sessions present per channel: they get the channel's pushes. */
  readonly #present = new Map<string, Set<PresenceMemberSession>>();
  /** Connection ids, unique across nodes: this node's prefix and a counter. */
  readonly #node = randomId().slice(0, 12);
  readonly #ids = new WeakMap<PresenceMemberSession, string>();
  #next = 0;
  /** Where a failed presence write is reported (the relay's logger). */
  readonly #report: ReportError;

  constructor(store: PresenceStore, patterns: readonly string[], report: ReportError = () => {}) {
    this.store = store;
    this.#report = report;
    this.#patterns = new ChannelPatterns(patterns);
    store.onChange(this.#changed);
  }

  /** True when `channel` has presence (matches a `--presence` pattern). */
  covers(channel: string): boolean {
    return this.#patterns.matches(channel);
  }

  /**
   * Makes `session` present in `channel` (it then gets the channel's pushes, its own join included). Null
   * when it is, else why not. A later {@link leave} is always right, even while this is still deciding.
   */
  join(session: PresenceMemberSession, channel: string): MaybePromise<PresenceRefusal | null> {
    let info: string | null = null;
    if (session.presenceInfo !== undefined) {
      try {
        info = JSON.stringify(session.presenceInfo) ?? null;
      } catch {
        info = null;
      }
      if (info !== null && new TextEncoder().encode(info).length > MAX_PRESENCE_INFO_BYTES) {
        return {
          code: "too_large",
          message:
            `presence info (the user attached by authorize) is at most ${MAX_PRESENCE_INFO_BYTES} bytes as JSON`,
        };
      }
    }
    const id = this.#idOf(session);
    let sessions = this.#present.get(channel);
    if (sessions === undefined) this.#present.set(channel, sessions = new Set());
    sessions.add(session);
    const answer = (added: PresenceAdd): PresenceRefusal | null => {
      if (added !== "full") return null;
      this.#unlisten(session, channel);
      return {
        code: "presence_full",
        message: `${channel} has ${this.store.maxMembers} users present, the most it takes`,
      };
    };
    let added: MaybePromise<PresenceAdd>;
    try {
      added = this.store.add(channel, id, session.presenceUser ?? id, info);
    } catch (error) {
      this.#unlisten(session, channel);
      throw error;
    }
    if (added instanceof Promise) {
      return added.then(answer, (error) => {
        this.#unlisten(session, channel);
        throw error;
      });
    }
    return answer(added);
  }

  /** `session` is no longer present in `channel` (unsubscribed, or closed). */
  leave(session: PresenceMemberSession, channel: string): void {
    this.#unlisten(session, channel);
    const id = this.#ids.get(session);
    if (id === undefined) return;
    try {
      const done = this.store.remove(channel, id);
      if (done instanceof Promise) done.catch((error) => this.#failedLeave(channel, error));
    } catch (error) {
      this.#failedLeave(channel, error);
    }
  }

  /** The `presence` envelope of `channel`: its users and connection count. */
  async envelope(channel: string): Promise<string> {
    const { users, clients } = await this.store.members(channel);
    return presenceEnvelope(channel, users, clients);
  }

  #idOf(session: PresenceMemberSession): string {
    let id = this.#ids.get(session);
    if (id === undefined) this.#ids.set(session, id = `${this.#node}.${(this.#next++).toString(36)}`);
    return id;
  }

  #unlisten(session: PresenceMemberSession, channel: string): void {
    const sessions = this.#present.get(channel);
    if (sessions?.delete(session) && sessions.size === 0) this.#present.delete(channel);
  }

  /** A failed remove is not lost for good with Redis: the entry is no longer refreshed and expires. */
  #failedLeave(channel: string, error: unknown): void {
    this.#report("presence leave failed (it expires instead)", { channel, error });
  }

  #changed = (change: PresenceChange): void => {
    const sessions = this.#present.get(change.channel);
    if (sessions === undefined) return;
    // One envelope per change, whatever the number of sessions that get it.
    const text = change.type === "join"
      ? joinEnvelope(change.channel, change.user, change.info)
      : leaveEnvelope(change.channel, change.user);
    for (const session of sessions) session.presencePush(change.type, text);
  };
}
