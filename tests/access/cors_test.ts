import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { corsPolicy } from "../../src/access/mod.ts";
import { originPolicy } from "../../src/access/mod.ts";

function app(allowedOrigins: string[]) {
  const hono = new Hono();
  hono.use("/channels/*", corsPolicy(originPolicy({ allowedOrigins, requireOrigin: false })));
  hono.get("/channels/c/messages", (c) => c.json({ ok: true }));
  hono.post("/channels/c/messages", (c) => c.json({ ok: true }));
  return hono;
}

describe("corsPolicy", () => {
  it("lets an allowed origin read answers and preflight a POST with a bearer token", async () => {
    const hono = app(["https://app.example"]);
    const get = await hono.request("http://relay.example/channels/c/messages", {
      headers: { origin: "https://app.example" },
    });
    assert.equal(get.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(get.headers.get("vary") ?? "", /origin/i);
    const preflight = await hono.request("http://relay.example/channels/c/messages", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /authorization/i);
    assert.equal(preflight.headers.get("access-control-allow-credentials"), null);
  });

  it("gives a refused origin (and 'null') no Access-Control headers, by exact match only", async () => {
    const hono = app(["https://app.example"]);
    for (
      const origin of ["https://evil.example", "https://app.example.evil.net", "null", "http://app.example"]
    ) {
      const response = await hono.request("http://relay.example/channels/c/messages", {
        headers: { origin },
      });
      assert.equal(response.headers.get("access-control-allow-origin"), null, origin);
    }
  });

  it("with no list, allows the relay's own origin only", async () => {
    const hono = app([]);
    const own = await hono.request("http://relay.example/channels/c/messages", {
      headers: { origin: "http://relay.example" },
    });
    assert.equal(own.headers.get("access-control-allow-origin"), "http://relay.example");
    const other = await hono.request("http://relay.example/channels/c/messages", {
      headers: { origin: "http://other.example" },
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });
});
