/**
 * The one error type of the HTTP layer. Parsers and the connection throw it; `errorResponse()` in
 * `response_writer.ts` is the only place that turns it into bytes on the wire.
 * @module
 */
import { STATUS } from "./status.ts";

/** A request the server refuses, with the status to answer and a stable machine-readable code. */
export class HttpError extends Error {
  /** The response status (400, 408, 413, 414, 431, 505, …). */
  readonly status: number;
  /** Stable snake_case code for logs, tests and the JSON error body (`"bare_lf"`, `"body_too_large"`). */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
  }
}

/** Shorthand for the most common refusal: 400 with a code. */
export function badRequest(code: string, message: string): HttpError {
  return new HttpError(STATUS.BadRequest, code, message);
}
