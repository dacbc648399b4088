/**
 * Edge Relay's entry point: the only reader of flags and environment. Prints
 * `edge-relay listening on http://HOST:PORT` when ready (after `edge-relay internal listening on …` with
 * `--internal-port`); exits 2 on an invalid flag, 1 when it cannot start; on SIGTERM/SIGINT drains (see
 * docs/operations.md) and exits 0, and a second signal exits at once. The relay itself is the library's
 * (`relayOf`, what `createRelay` returns).
 * @module
 */
import process from "node:process";
import {
  ConfigError,
  envName,
  parseConfig,
  runtimeName,
  unknownRelayVariables,
  usage,
  VERSION,
} from "./config.ts";
import { type EdgeRelay, relayOf } from "./library.ts";
import { createLogger } from "./observability/mod.ts";

/** Exit status of a stop forced by a second signal during the drain. */
const FORCED_EXIT_STATUS = 1;

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(usage() + "\n");
  process.exit(0);
}
if (args.includes("--version")) {
  process.stdout.write(`edge-relay ${VERSION} (${runtimeName()})\n`);
  process.exit(0);
}

let config;
try {
  config = parseConfig(args, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`edge-relay: ${error.message}\n`);
  process.exit(2);
}
const log = createLogger({ format: config.logFormat, level: config.logLevel });
for (const name of unknownRelayVariables(process.env)) {
  log.warn(
    `${name} is not a setting of the relay and is ignored (see --help: variables are ${envName("flag")}s)`,
  );
}

let relay: EdgeRelay;
let url: string;
let internalUrl: string | null;
try {
  relay = await relayOf(config);
  ({ url, internalUrl } = await relay.listen());
} catch (error) {
  log.error(`cannot start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) {
    log.warn(`${signal} again: exiting now, without finishing the drain`);
    process.exit(FORCED_EXIT_STATUS);
  }
  stopping = true;
  log.info(`${signal}, shutting down`, { drainTimeout: `${config.drainTimeoutMs}ms` });
  await relay.drain();
  process.exit(0);
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
// SIGHUP (a closed terminal, a certificate deploy hook) must not take the relay down; certificates are read at
// start, so a restart (a drain) loads renewed ones.
process.on("SIGHUP", () => log.info("SIGHUP ignored: restart the relay to load renewed certificates"));

// The two lines tools and tests wait for, once the signals are handled: plain text on stdout, whatever the
// log format.
if (internalUrl !== null) console.log(`edge-relay internal listening on ${internalUrl}`);
console.log(`edge-relay listening on ${url}`);
