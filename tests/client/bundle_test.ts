/**
 * The served client: the committed bundle (`src/app/pages/client_bundle.ts`) is what `scripts/build_client.ts`
 * builds from `client/` today, it stays within the size budget, and it imports nothing.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bundleClient, gzippedBytes } from "../../scripts/build_client.ts";
import { CLIENT_JS } from "../../src/app/pages/client_bundle.ts";

/** The client's budget, minified and gzipped (issue 12: at most 6 KB). */
const BUDGET_GZIP_BYTES = 6 * 1024;

describe("client.js", () => {
  it("is the bundle of the current client/ and src/protocol/ (run deno task build:client when this fails)", async () => {
    assert.ok(CLIENT_JS === await bundleClient(), "src/app/pages/client_bundle.ts is stale");
  });

  it(`is at most ${BUDGET_GZIP_BYTES} bytes minified and gzipped`, () => {
    const size = gzippedBytes(CLIENT_JS);
    console.log(`client.js: ${CLIENT_JS.length} bytes minified, ${size} bytes gzipped`);
    assert.ok(size <= BUDGET_GZIP_BYTES, `${size} bytes`);
  });

  it("is one self-contained module: no import, no runtime global", () => {
    assert.doesNotMatch(CLIENT_JS, /\bimport\s*[{("'*]|\bDeno\.|\bBun\.|\brequire\(/);
    assert.match(CLIENT_JS, /export\{[^}]*\bconnect\b/);
  });
});
