/**
 * Edge Relay's entry point: the only reader of flags and environment. Prints
 * `edge-relay listening on http://HOST:PORT` when ready; exits 2 on an invalid flag; stops gracefully on
 * SIGINT/SIGTERM and exits 0. The relay itself is the library's (`relayOf`, what `createRelay` returns).
 * @module
 */
import process from "node:process";
import { ConfigError, parseConfig, usage } from "./config.ts";
import { type EdgeRelay, relayOf } from "./library.ts";

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(usage());
  process.exit(0);
}

let config;
try {
  config = parseConfig(args, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`edge-relay: ${error.message}`);
  process.exit(2);
}

let relay: EdgeRelay;
let url: string;
try {
  relay = await relayOf(config);
  ({ url } = await relay.listen());
} catch (error) {
  console.error(`edge-relay: cannot start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
console.log(`edge-relay listening on ${url}`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`edge-relay: ${signal}, shutting down`);
  await relay.stop();
  process.exit(0);
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
