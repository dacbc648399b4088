/**
 * The benchmark scenarios: what each one asks of the load generator and how long it runs.
 *
 * Closed-loop windows give every receiving connection at least 16 messages in flight (what a server can
 * batch into one write per connection and turn) with as few deliveries in flight overall as that allows
 * (4,096 to 16,000; chat-256 cannot go below one message per publisher, so it has 65,536). CPU per delivery
 * falls with the batch size, so the windows are the same for every server.
 * @module
 */

import type { ServerName } from "./servers.ts";

/** How a scenario drives the load generator. */
export type ScenarioKind = "closed" | "rate" | "idle";

/** One benchmark scenario. */
export interface Scenario {
  /** Name used by `--scenario` and in reports. */
  readonly name: string;
  readonly kind: ScenarioKind;
  /** One line for the report header. */
  readonly description: string;
  readonly channels: number;
  /** Clients per channel; every one of them receives every message of its channel. */
  readonly clients: number;
  /** Clients per channel that publish (the first ones). */
  readonly publishers: number;
  /** Message payload bytes (at least 16: the stamp). */
  readonly sizeBytes: number;
  /** Closed loop: messages in flight per publisher. */
  readonly window: number;
  /** Open loop: target deliveries per second. */
  readonly rate?: number;
  /** Part of the `--quick` subset. */
  readonly quick: boolean;
  /**
   * What the clients publish: `binary` (a 16-byte stamp, the default), `text` (a 32-character hex stamp then
   * letters) or `json` (3 KiB-style JSON-like text, the stamp in its first string).
   */
  readonly payload?: "binary" | "text" | "json";
  /** Subscribers read server-sent events instead of a WebSocket (the publishers stay on WebSocket). */
  readonly sse?: boolean;
  /** The clients offer permessage-deflate (servers without compression decline it). */
  readonly deflate?: boolean;
  /** The servers this scenario runs on (default: every server not marked `extra`). */
  readonly servers?: readonly ServerName[];
  /** The scenario this one is compared with, per server: run with it whenever this one is chosen. */
  readonly baseline?: string;
}

function chat(clients: number, window: number, quick: boolean): Scenario {
  return {
    name: `chat-${clients}`,
    kind: "closed",
    description: `N→N chat: 1 channel × ${clients} clients, every client publishes 32 B, ` +
      `everyone receives everything (window ${window} per publisher)`,
    channels: 1,
    clients,
    publishers: clients,
    sizeBytes: 32,
    window,
    quick,
  };
}

function fanout(subscribers: number, window: number, quick: boolean): Scenario {
  return {
    name: `fanout-${subscribers}`,
    kind: "closed",
    description:
      `1→N fan-out: 1 publisher, ${subscribers} subscribers on one channel (the publisher is one of ` +
      `them), 32 B (window ${window})`,
    channels: 1,
    clients: subscribers,
    publishers: 1,
    sizeBytes: 32,
    window,
    quick,
  };
}

/** The relay on both runtimes: the servers that speak server-sent events. */
const RELAYS: readonly ServerName[] = ["relay", "relay-bun"];

/**
 * The WebSocket side of an SSE comparison: 1 publisher and N subscribers, all WebSocket, publishing the same
 * 32-character text stamps the SSE scenario needs (text frames: the same UTF-8 check on the way in).
 */
function textFanout(subscribers: number): Scenario {
  return {
    name: `fanout-text-${subscribers}`,
    kind: "closed",
    description:
      `1→N fan-out over WebSocket: 1 publisher + ${subscribers} subscribers on one channel, 32 B text ` +
      `(window 16; the baseline of sse-${subscribers})`,
    channels: 1,
    clients: subscribers + 1,
    publishers: 1,
    sizeBytes: 32,
    window: 16,
    quick: false,
    payload: "text",
    servers: RELAYS,
  };
}

/** SSE fan-out (issue 11): N event streams read what one WebSocket publisher sends (it gets its echo too). */
function sseFanout(subscribers: number): Scenario {
  return {
    ...textFanout(subscribers),
    name: `sse-${subscribers}`,
    description: `1→N fan-out over SSE: 1 WebSocket publisher + ${subscribers} GET /channels/:c/events ` +
      `streams, 32 B text (window 16)`,
    sse: true,
    baseline: `fanout-text-${subscribers}`,
  };
}

/** Message size of the compressed fan-out: a few KiB of JSON, where compression pays. */
const DEFLATE_MESSAGE_BYTES = 3 * 1024;

/**
 * Compressed fan-out (issue 13): 3 KiB of JSON-like text to N subscribers that offer permessage-deflate; the
 * relay with and without `--deflate` and `Bun.serve` with and without `perMessageDeflate` in the same run.
 */
function deflateFanout(subscribers: number): Scenario {
  return {
    name: `deflate-${subscribers}`,
    kind: "closed",
    description:
      `compressed 1→N fan-out: 1 publisher, ${subscribers} subscribers offering permessage-deflate ` +
      `(the publisher is one of them), 3 KiB JSON-like text (window 16)`,
    channels: 1,
    clients: subscribers,
    publishers: 1,
    sizeBytes: DEFLATE_MESSAGE_BYTES,
    window: 16,
    quick: false,
    payload: "json",
    deflate: true,
    servers: ["relay", "relay-deflate", "relay-bun", "relay-bun-deflate", "bun-native", "bun-native-deflate"],
  };
}

/** Every scenario, in run order. */
export const SCENARIOS: readonly Scenario[] = Object.freeze([
  chat(16, 16, false),
  chat(64, 1, true),
  chat(256, 1, false),
  fanout(256, 16, true),
  fanout(1000, 16, false),
  {
    // With the SQLite broker every publish is a row committed before delivery: the storage rate, in one figure.
    name: "publish-1",
    kind: "closed",
    description: "publish rate: 1 client publishes 32 B and receives its own messages (window 64)",
    channels: 1,
    clients: 1,
    publishers: 1,
    sizeBytes: 32,
    window: 64,
    quick: false,
  },
  {
    name: "channels-100x10",
    kind: "closed",
    description: "100 channels × 10 subscribers, 1 publisher per channel, 32 B (window 16)",
    channels: 100,
    clients: 10,
    publishers: 1,
    sizeBytes: 32,
    window: 16,
    quick: false,
  },
  {
    name: "large-16k",
    kind: "closed",
    description: "large messages: 1 channel × 16 clients, every client publishes 16 KiB (window 2)",
    channels: 1,
    clients: 16,
    publishers: 16,
    sizeBytes: 16 * 1024,
    window: 2,
    quick: false,
  },
  {
    name: "rate-64k",
    kind: "rate",
    description:
      "fixed rate: 64,000 deliveries/s (1,000 msg/s of 32 B round-robin over 64 clients on one channel)",
    channels: 1,
    clients: 64,
    publishers: 64,
    sizeBytes: 32,
    window: 1,
    rate: 64_000,
    quick: true,
  },
  {
    name: "idle-1000",
    kind: "idle",
    description: "idle: open 1,000 connections on 10 channels and hold them; server RSS before/after",
    channels: 10,
    clients: 100,
    publishers: 0,
    sizeBytes: 32,
    window: 1,
    quick: true,
  },
  textFanout(256),
  sseFanout(256),
  textFanout(1000),
  sseFanout(1000),
  deflateFanout(256),
  deflateFanout(1000),
  {
    name: "idle-deflate-1000",
    kind: "idle",
    description: "idle with permessage-deflate offered: 1,000 connections on 10 channels; agreed where the " +
      "server compresses, declined where it does not",
    channels: 10,
    clients: 100,
    publishers: 0,
    sizeBytes: 32,
    window: 1,
    quick: false,
    deflate: true,
    servers: ["relay", "relay-deflate", "relay-bun", "relay-bun-deflate", "bun-native", "bun-native-deflate"],
  },
]);

/** Seconds of warm-up and measurement. */
export interface Timing {
  warmupS: number;
  measureS: number;
  /** Idle scenario: how long connections are held before RSS is read. */
  holdS: number;
  /** wrk: warm-up and measured run. */
  httpWarmupS: number;
  httpMeasureS: number;
}

/** Windows of a full run (about 8 minutes with every server). */
export const FULL_TIMING: Readonly<Timing> = Object.freeze({
  warmupS: 1,
  measureS: 4,
  holdS: 2,
  httpWarmupS: 1,
  httpMeasureS: 4,
});

/** Windows of `--quick` (about a minute). */
export const QUICK_TIMING: Readonly<Timing> = Object.freeze({
  warmupS: 0.5,
  measureS: 1.5,
  holdS: 1,
  httpWarmupS: 1,
  httpMeasureS: 1,
});
