import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { clientInfo, HookRunner } from "../../src/relay/mod.ts";

const isPromiseLike = (value: unknown) => value instanceof Promise;

const client = clientInfo("envelope", new Request("http://relay/ws"), "127.0.0.1", null);

describe("HookRunner", () => {
  it("answers synchronously (no promise, no timer) when the hook does, and ALLOW without a hook", () => {
    const runner = new HookRunner({ onPublish: ({ text }) => text === "no" ? false : undefined });
    assert.deepEqual(runner.publish(client, "c", "yes"), { ok: true });
    const refused = runner.publish(client, "c", "no");
    assert.ok(!isPromiseLike(refused));
    assert.deepEqual(refused, { ok: false, status: 403, reason: "message rejected", failed: null });
    assert.deepEqual(new HookRunner({}).subscribe(client, "c"), { ok: true });
  });

  it("reads { reject, status }, { user } and { data }", async () => {
    const runner = new HookRunner({
      authorize: ({ channels }) => channels[0] === "x" ? { reject: "no x", status: 451 } : { user: 7 },
      onPublish: ({ text }) => Promise.resolve({ data: text!.toUpperCase() }),
    });
    const ctx = { transport: "sse" as const, request: client.request, remoteAddress: "", subject: null };
    assert.deepEqual(runner.authorize({ ...ctx, channels: ["x"] }), {
      ok: false,
      status: 451,
      reason: "no x",
      failed: null,
    });
    assert.deepEqual(runner.authorize({ ...ctx, channels: ["y"] }), { ok: true, user: 7 });
    assert.deepEqual(await runner.publish(client, "c", "hi"), { ok: true, data: "HI" });
  });

  it("a refusal status outside 400-599 becomes 403", () => {
    const runner = new HookRunner({ onSubscribe: () => ({ reject: "nope", status: 200 }) });
    assert.equal((runner.subscribe(client, "c") as { status: number }).status, 403);
  });

  it("fails closed: a throw is 500, a rejection 500, a hang 503 at the timeout, a wrong answer 500", async () => {
    const runner = new HookRunner({
      onSubscribe: ({ channel }) => {
        if (channel === "throw") throw new Error("boom");
        if (channel === "reject") return Promise.reject(new Error("boom"));
        if (channel === "hang") return new Promise(() => {});
        return "yes" as unknown as undefined;
      },
    }, 50);
    const errors = console.error;
    console.error = () => {};
    try {
      assert.deepEqual(runner.subscribe(client, "throw"), {
        ok: false,
        status: 500,
        reason: "the onSubscribe hook failed",
        failed: "threw",
      });
      assert.equal((await runner.subscribe(client, "reject") as { status: number }).status, 500);
      const started = Date.now();
      assert.deepEqual(await runner.subscribe(client, "hang"), {
        ok: false,
        status: 503,
        reason: "the onSubscribe hook timed out",
        failed: "timeout",
      });
      assert.ok(Date.now() - started >= 45);
      assert.equal((runner.subscribe(client, "odd") as { failed: string }).failed, "threw");
    } finally {
      console.error = errors;
    }
  });

  it("observers never throw into the relay", async () => {
    let logged = 0;
    const runner = new HookRunner(
      {
        onConnect: () => {
          throw new Error("boom");
        },
        onDisconnect: () => Promise.reject(new Error("boom")),
      },
      undefined,
      () => logged++,
    );
    runner.connected(client);
    runner.disconnected(client);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(logged, 2, "both failures reported to the relay's logger");
  });
});
