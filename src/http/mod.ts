/**
 * The HTTP/1.1 layer: our own request parser and response writer over a push-style `Conn`, serving Web
 * `Request`/`Response` handlers, with the 101 hand-off of the connection to an upgrade handler.
 * @module
 */
export { HttpServer, serveHttp } from "./server.ts";
export type { HttpHandler, HttpServerOptions, RequestInfo, UpgradeHandler } from "./types.ts";
export { streamResponse } from "./body_reader.ts";
export { frameChunk, type ResponseStream, type StreamTaker } from "./response_stream.ts";
export { MAX_DEFAULT_HEADERS } from "./default_headers.ts";
export { HTTP_LIMITS, type HttpLimits, resolveLimits } from "./limits.ts";
export { HttpError } from "./errors.ts";
export { reasonPhrase, STATUS } from "./status.ts";
export { PARSE, type ParseEvent, RequestParser } from "./request_parser.ts";
export type { RequestHead } from "./request_head.ts";
