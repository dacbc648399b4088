/**
 * The differential fuzzers: HTTP/1.1 request splitting against llhttp and h11, WebSocket frames against an
 * RFC 6455 model. Each runs against a live relay; `tests/e2e/fuzz_test.ts` runs both for a short seeded run.
 * @module
 */
export {
  formatHttpReport,
  type HttpFuzzOptions,
  type HttpFuzzReport,
  runHttpDifferential,
} from "./http_differential.ts";
export { findH11Python } from "./http_references.ts";
export {
  formatFrameReport,
  type FrameFuzzOptions,
  type FrameFuzzReport,
  runFrameFuzz,
} from "./frame_fuzz.ts";
