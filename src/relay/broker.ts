/**
 * Chooses the broker from `--broker`: `memory` (the default, one process) or, later, `redis://host:port`.
 * @module
 */
import type { Config } from "../config.ts";
import { type Broker, MemoryBroker } from "../pubsub/mod.ts";

/** Builds the configured broker. */
export function createBroker(
  config: Pick<Config, "broker" | "historySize" | "historyTtlMs">,
): Promise<Broker> | Broker {
  return new MemoryBroker({ historySize: config.historySize, historyTtlMs: config.historyTtlMs });
}
