/**
 * Edge Relay's entry point: the only reader of flags and environment. Prints
 * `edge-relay listening on http://HOST:PORT` when ready; exits 2 on an invalid flag; stops gracefully on
 * SIGINT/SIGTERM and exits 0.
 * @module
 */
import process from "node:process";
import { readFile } from "node:fs/promises";
import { ConfigError, parseConfig, usage } from "./config.ts";
import { loadRuntime } from "./runtime/mod.ts";
import { startRelay } from "./start.ts";

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

const runtime = await loadRuntime();
let running;
try {
  running = await startRelay(config, runtime, (path) => readFile(path, "utf8"));
} catch (error) {
  console.error(`edge-relay: cannot start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
console.log(`edge-relay listening on ${running.url}`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`edge-relay: ${signal}, shutting down`);
  await running.stop();
  process.exit(0);
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
