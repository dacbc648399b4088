/**
 * Bundles the browser client (`client/mod.ts` with the parts of `src/protocol/` it uses) into one minified ES
 * module and writes it into `src/app/pages/client_bundle.ts`, so the relay serves `GET /client.js` from memory:
 * the compiled binary reads no file at run time. Run it after changing `client/` or `src/protocol/`
 * (`deno task build:client`); `tests/client/bundle_test.ts` fails while the committed bundle is stale.
 *
 * ```sh
 * deno run --allow-all scripts/build_client.ts           # rewrite the bundle
 * deno run --allow-all scripts/build_client.ts --size    # print its size, minified and gzipped
 * ```
 * @module
 */
import { build, stop } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import process from "node:process";

const ROOT = new URL("..", import.meta.url).pathname;
/** Where the generated module lives. */
export const BUNDLE_MODULE = `${ROOT}src/app/pages/client_bundle.ts`;

/** The client bundled and minified: the exact text `GET /client.js` serves. */
export async function bundleClient(): Promise<string> {
  try {
    const result = await build({
      entryPoints: [`${ROOT}client/mod.ts`],
      bundle: true,
      format: "esm",
      minify: true,
      // Browsers of 2022 on: private fields, `??=`, top-level ES modules.
      target: "es2022",
      legalComments: "none",
      write: false,
    });
    return result.outputFiles[0].text;
  } finally {
    await stop();
  }
}

/** The bundle's size gzipped at the level HTTP servers and CDNs use (9 is the smallest). */
export function gzippedBytes(text: string): number {
  return gzipSync(new TextEncoder().encode(text), { level: 9 }).length;
}

/** The generated module's text for `bundle`. */
export function bundleModule(bundle: string): string {
  return [
    "// deno-fmt-ignore-file -- generated: one JSON string literal, exactly as the generator writes it",
    "/**",
    " * The browser client, bundled and minified from `client/` by `scripts/build_client.ts`: do not edit.",
    " * `deno task build:client` regenerates it; `tests/client/bundle_test.ts` fails while it is stale.",
    " * @module",
    " */",
    "",
    "/** The body of `GET /client.js`. */",
    `export const CLIENT_JS = ${JSON.stringify(bundle)};`,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const bundle = await bundleClient();
  if (process.argv.includes("--size")) {
    console.log(`client.js: ${bundle.length} bytes minified, ${gzippedBytes(bundle)} bytes gzipped`);
  } else {
    const text = bundleModule(bundle);
    const before = (() => {
      try {
        return readFileSync(BUNDLE_MODULE, "utf8");
      } catch {
        return "";
      }
    })();
    writeFileSync(BUNDLE_MODULE, text);
    console.log(
      `${before === text ? "unchanged" : "wrote"} ${BUNDLE_MODULE} (${gzippedBytes(bundle)} bytes gzipped)`,
    );
  }
}
