/**
 * The benchmark scenarios: what each one asks of the load generator and how long it runs.
 *
 * Closed-loop windows give every receiving connection at least 16 messages in flight (what a server can
 * batch into one write per connection and turn) with as few deliveries in flight overall as that allows
 * (4,096 to 16,000; chat-256 cannot go below one message per publisher, so it has 65,536). CPU per delivery
 * falls with the batch size, so the windows are the same for every server.
 * @module
 */

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

/** Windows of a full run (about 7 minutes with every server). */
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
