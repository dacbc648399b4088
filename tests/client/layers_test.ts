/**
 * The client's import rule (`checkClient` in `scripts/check_layers.ts`): its own files and
 * `src/protocol/mod.ts` only; no package, no server code, no runtime global.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { checkClient } from "../../scripts/check_layers.ts";

function violationsOf(files: Record<string, string>): string[] {
  const root = mkdtempSync(join(tmpdir(), "client-layers-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return checkClient(root).map((v) => `${v.file}:${v.line}: ${v.message}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe("checkClient", () => {
  it("passes on the repository's client/", () => {
    assert.deepEqual(checkClient(join(dirname(new URL(import.meta.url).pathname), "..", "..")), []);
  });

  it("allows client/ files and src/protocol/mod.ts", () => {
    assert.deepEqual(
      violationsOf({
        "client/a.ts": 'import { b } from "./b.ts";\nimport type { Reply } from "../src/protocol/mod.ts";\n',
        "client/b.ts": "export const b = 1;\n",
      }),
      [],
    );
  });

  it("refuses other src/ folders, a protocol file past its door, packages and runtime globals", () => {
    assert.deepEqual(
      violationsOf({
        "client/a.ts": [
          'import { Relay } from "../src/relay/mod.ts";',
          'import { x } from "../src/protocol/envelope.ts";',
          'import { Hono } from "hono";',
          'import { readFileSync } from "node:fs";',
          "Deno.exit(1);",
        ].join("\n"),
      }),
      [
        "client/a.ts:1: client/ may import only client/ and src/protocol/mod.ts (../src/relay/mod.ts)",
        "client/a.ts:2: client/ may import only client/ and src/protocol/mod.ts (../src/protocol/envelope.ts)",
        "client/a.ts:3: client/ may import only client/ and src/protocol/mod.ts (hono)",
        "client/a.ts:4: client/ may import only client/ and src/protocol/mod.ts (node:fs)",
        "client/a.ts:5: Deno.* in client/",
      ],
    );
  });
});
