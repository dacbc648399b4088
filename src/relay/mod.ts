/**
 * The relay door: start a relay from a config.
 * @module
 */
export { type RunningRelay, startRelay } from "./server.ts";
