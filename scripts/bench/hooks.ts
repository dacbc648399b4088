/**
 * What hooks cost on the relay core, in one process: raw sessions on the memory broker, each message published
 * by one session's client and delivered to every session of the channel through the real fan-out, with no
 * hooks (the path every relay without hooks runs), with hooks set but no `onPublish`, with a synchronous
 * `onPublish` and with an asynchronous one. Prints ns per publish and per delivery.
 *
 *   deno run -A scripts/bench/hooks.ts [subscribers=64] [messages=20000]
 *   bun scripts/bench/hooks.ts
 * @module
 */
import process from "node:process";
import { OPEN_ACCESS } from "../../src/access/mod.ts";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import {
  clientInfo,
  type EndReason,
  HookRunner,
  type Outbound,
  RawSession,
  Relay,
  type RelayHooks,
  type SessionPolicy,
} from "../../src/relay/mod.ts";
import { RAW_WIRE } from "../../src/transports/mod.ts";

const subscribers = Number(process.argv[2] ?? 64);
const messages = Number(process.argv[3] ?? 20_000);

/** A client that reads everything at once: writes are counted, nothing queues. */
class CountingOutbound implements Outbound {
  writes = 0;
  readonly bufferedAmount = 0;
  write(): void {
    this.writes++;
  }
  end(_reason: EndReason): void {}
  fail(_reason: EndReason): void {}
  closeSlow(): boolean {
    return false;
  }
}

async function run(name: string, hooks: RelayHooks | null): Promise<void> {
  const broker = new MemoryBroker({ historySize: 100, historyTtlMs: 60_000, maxHistoryBytes: 64 << 20 });
  const relay = new Relay(broker, {
    maxQueuedBytes: 1 << 20,
    maxChannelsPerConnection: 128,
    hooks: hooks === null ? null : new HookRunner(hooks),
  });
  const request = new Request("http://127.0.0.1/ws/bench");
  const policy = (): SessionPolicy => ({
    permissions: OPEN_ACCESS,
    maxMessagesPerSecond: 0,
    maxMessageBytes: 1 << 20,
    client: hooks === null ? null : clientInfo("websocket", request, "127.0.0.1", null),
  });
  const outs: CountingOutbound[] = [];
  const sessions: RawSession[] = [];
  for (let i = 0; i < subscribers; i++) {
    const out = new CountingOutbound();
    outs.push(out);
    sessions.push(new RawSession(relay, out, RAW_WIRE, "bench", policy()));
  }
  const text = "x".repeat(32);
  // Warm up, then measure; an async hook's publishes land in later microtasks: wait for the last delivery.
  // Batches of 32 messages per session: under the bound of publishes waiting for an async verdict (64).
  const batch = subscribers * 32;
  const send = async (count: number) => {
    for (let sent = 0; sent < count; sent += batch) {
      const n = Math.min(batch, count - sent);
      const target = outs[0].writes + n;
      for (let i = 0; i < n; i++) sessions[i % subscribers].receive(text);
      while (outs[0].writes < target) await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  await send(messages);
  const start = process.hrtime.bigint();
  await send(messages);
  const ns = Number(process.hrtime.bigint() - start);
  for (const session of sessions) session.closed();
  console.log(
    `${name.padEnd(28)} ${(ns / messages).toFixed(0).padStart(7)} ns/publish ${
      (ns / messages / subscribers).toFixed(1).padStart(7)
    } ns/delivery`,
  );
}

console.log(
  `${"Deno" in globalThis ? "deno" : "bun"}: ${subscribers} subscribers, ${messages} messages of 32 B`,
);
for (let round = 0; round < 3; round++) {
  await run("no hooks", null);
  await run("hooks, no onPublish", { onConnect: () => {} });
  await run("onPublish (sync)", { onPublish: ({ text }) => text?.includes("spam") ? false : undefined });
  await run("onPublish (async)", {
    onPublish: ({ text }) => Promise.resolve(text?.includes("spam") ? false : undefined),
  });
}
