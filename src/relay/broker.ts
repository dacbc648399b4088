/**
 * Chooses the broker from `--broker`: `memory` (the default, one process) or `redis://host:port` (several
 * relay nodes sharing channels, order and history through one Redis).
 * @module
 */
import type { Config } from "../config.ts";
import { type Broker, MemoryBroker, RedisBroker } from "../pubsub/mod.ts";

/**
 * Builds the configured broker. A Redis broker is returned at once, connecting in the background: the relay
 * serves while Redis is unreachable, with `/readyz` answering 503 and publishes refused until it is up.
 */
export function createBroker(
  config: Pick<Config, "broker" | "historySize" | "historyTtlMs" | "maxHistoryBytes" | "maxChannels">,
): Promise<Broker> | Broker {
  const history = { historySize: config.historySize, historyTtlMs: config.historyTtlMs };
  if (config.broker === "memory") {
    return new MemoryBroker({
      ...history,
      maxHistoryBytes: config.maxHistoryBytes,
      maxChannels: config.maxChannels,
    });
  }
  // History lives in Redis there, bounded per channel by the stream length; the channel cap still applies.
  return new RedisBroker({
    url: config.broker,
    ...history,
    maxChannels: config.maxChannels,
    onReadyChange: (ready, detail) =>
      console.error(
        ready ? "edge-relay: redis broker connected" : `edge-relay: redis broker unavailable: ${detail}`,
      ),
    onError: (error, channel) => console.error(`edge-relay: redis broker, channel ${channel}:`, error),
  });
}
