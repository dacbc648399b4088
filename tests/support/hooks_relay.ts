/**
 * A user's program for the hooks tests: the relay through the library (`mod.ts`) with hooks whose behaviour
 * the request picks (`?who=` for `authorize`, the channel for `onSubscribe`, the text for `onPublish`), and a
 * route of its own, `GET /test/events`, listing what `onConnect` / `onDisconnect` saw. Started by
 * `startRelay(…, { command })` like the relay itself; prints the same `listening on` line. Extra options come
 * as JSON in `HOOKS_RELAY_OPTIONS`.
 * @module
 */
import process from "node:process";
import { createRelay, type RelayHooks } from "../../mod.ts";

/** A promise that never settles: a hook that hangs until the relay's timeout gives up on it. */
const forever = () => new Promise<never>(() => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const events: string[] = [];

const hooks: RelayHooks = {
  authorize({ request, transport }) {
    const who = new URL(request.url).searchParams.get("who");
    if (who === "deny") return { reject: "go away", status: 451 };
    if (who === "false") return false;
    if (who === "throw") throw new Error("authorize broke");
    if (who === "slow") return forever();
    if (who === "async") return sleep(20).then(() => ({ user: { name: "async", transport } }));
    return who === null ? undefined : { user: { name: who } };
  },
  async onSubscribe({ channel }) {
    if (channel === "secret") return { reject: "secret is closed" };
    if (channel === "sub-throws") throw new Error("onSubscribe broke");
    if (channel === "sub-slow") await forever();
    return true;
  },
  onPublish({ text, binary }) {
    if (binary !== undefined) return undefined;
    if (text!.includes("spam")) return false;
    if (text === "reject-me") return { reject: "no thanks" };
    if (text!.startsWith("shout:")) return { data: text!.toUpperCase() };
    if (text === "pub-throws") throw new Error("onPublish broke");
    if (text === "pub-slow") return forever();
    const delay = /^delay-(\d+)/.exec(text!);
    if (delay) return sleep(Number(delay[1])).then(() => undefined);
    return undefined;
  },
  onConnect(client) {
    events.push(`connect ${client.transport} ${(client.user as { name?: string } | undefined)?.name ?? "-"}`);
  },
  onDisconnect(client) {
    events.push(
      `disconnect ${client.transport} ${(client.user as { name?: string } | undefined)?.name ?? "-"}`,
    );
    // An observer that fails must not matter.
    throw new Error("onDisconnect broke");
  },
};

const relay = await createRelay({
  port: 0,
  hostname: "127.0.0.1",
  hookTimeout: "300ms",
  ...JSON.parse(process.env.HOOKS_RELAY_OPTIONS ?? "{}"),
  hooks,
});
relay.app.get("/test/events", (c) => c.json(events));
const { url } = await relay.listen();
console.log(`edge-relay listening on ${url}`);
process.on("SIGTERM", async () => {
  await relay.stop();
  process.exit(0);
});
