/**
 * What the client asks of a transport (a "link": one connection attempt of one transport) and what a link
 * reports back. The client keeps the state (subscriptions, positions, pending publishes); a link only moves
 * commands and replies.
 * @module
 */
import type { Reply } from "../src/protocol/mod.ts";
import type { Subscription } from "./subscription.ts";
import type { ConnectOptions, TransportName } from "./types.ts";

/** A publish waiting for its ack. */
export interface PendingPublish {
  readonly id: string;
  readonly channel: string;
  readonly data: string | Uint8Array;
}

/** What a link reads from and reports to the client. */
export interface LinkHost {
  /** `http(s)://host[:port]` of the relay. */
  readonly base: string;
  readonly token: string | undefined;
  readonly options: ConnectOptions;
  readonly subscriptions: ReadonlyMap<string, Subscription>;
  /** The link works: the relay answered. */
  ready(link: Link): void;
  /** A reply from the relay (an SSE publish's answer is given as an `ack` or `error` reply). */
  reply(link: Link, reply: Reply): void;
  /** The link is gone (`code` 1006 when no close code is known). Not called after `link.close()`. */
  closed(link: Link, code: number, reason: string): void;
}

/** One connection attempt of one transport. */
export interface Link {
  readonly name: TransportName;
  /** Starts or resumes a subscription (its position is read from it). */
  subscribe(subscription: Subscription): void;
  unsubscribe(channel: string): void;
  publish(publish: PendingPublish): void;
  /** Closes without reporting back. */
  close(): void;
}
