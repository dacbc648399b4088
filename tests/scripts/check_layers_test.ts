import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { checkLayers } from "../../scripts/check_layers.ts";

/** Builds a throw-away tree from `{ "src/http/a.ts": "…" }` and returns the violations found in it. */
function violationsOf(files: Record<string, string>): string[] {
  const root = mkdtempSync(join(tmpdir(), "layers-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return checkLayers(root).map((v) => `${v.file}:${v.line}: ${v.message}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe("check_layers", () => {
  it("passes on the repository itself", () => {
    const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
    assert.deepEqual(checkLayers(root), []);
  });

  it("fails when one leaf imports another (http → pubsub)", () => {
    const found = violationsOf({
      "src/pubsub/mod.ts": "export const x = 1;\n",
      "src/http/a.ts": 'import { x } from "../pubsub/mod.ts";\n',
    });
    assert.equal(found.length, 1);
    assert.match(found[0], /src\/http\/a\.ts:1: src\/http may not import src\/pubsub\//);
  });

  it("fails when an import bypasses a folder's mod.ts door", () => {
    const found = violationsOf({
      "src/util/slab.ts": "export const s = 1;\n",
      "src/http/a.ts": '\n\nimport { s } from "../util/slab.ts";\n',
    });
    assert.deepEqual(found, ["src/http/a.ts:3: import of ../util/slab.ts bypasses src/util/mod.ts"]);
  });

  it("allows a file to import its own folder, its parents' files and a subfolder's mod.ts", () => {
    assert.deepEqual(
      violationsOf({
        "src/pubsub/broker.ts": "export type B = 1;\n",
        "src/pubsub/redis/mod.ts": 'export * from "./client.ts";\n',
        "src/pubsub/redis/client.ts": 'import type { B } from "../broker.ts";\nexport type C = B;\n',
        "src/pubsub/mod.ts": 'export * from "./redis/mod.ts";\nexport * from "./broker.ts";\n',
      }),
      [],
    );
  });

  it("fails when the relay core imports a transport's wire (relay → websocket)", () => {
    const found = violationsOf({
      "src/websocket/mod.ts": "export const CLOSE = 1000;\n",
      "src/relay/fanout.ts": 'import { CLOSE } from "../websocket/mod.ts";\n',
    });
    assert.deepEqual(found, [
      "src/relay/fanout.ts:1: src/relay may not import src/websocket/ (../websocket/mod.ts)",
    ]);
  });

  it("fails when a package is imported outside the folder that owns it", () => {
    const found = violationsOf({ "src/pubsub/a.ts": 'import type { Hono } from "hono";\n' });
    assert.deepEqual(found, [
      "src/pubsub/a.ts:1: hono may be imported only in src/access/, src/app/, src/transports/",
    ]);
  });

  it("fails on Deno.* or Bun.* outside src/runtime/, but not in comments or strings", () => {
    const found = violationsOf({
      "src/http/a.ts": '// Deno.listen is not called here\nconst s = "Bun.serve";\nDeno.exit(1);\n',
      "src/runtime/deno.ts": "Deno.listen({ port: 0 });\n",
    });
    assert.deepEqual(found, ["src/http/a.ts:3: Deno.* outside src/runtime/"]);
  });

  it("finds dynamic imports and re-exports too", () => {
    const found = violationsOf({
      "src/pubsub/mod.ts": "export const x = 1;\n",
      "src/websocket/a.ts":
        'export { x } from "../pubsub/mod.ts";\nconst m = await import("../pubsub/mod.ts");\n',
    });
    assert.equal(found.length, 2);
  });
});
