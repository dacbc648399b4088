/**
 * The HTTP status codes the server itself produces, with RFC 9110 names, and reason phrases for status lines.
 * @module
 */

/** Status codes by their RFC 9110 §15 names (RFC 6585 for 431). */
export const STATUS = {
  Continue: 100,
  SwitchingProtocols: 101,
  OK: 200,
  NoContent: 204,
  NotModified: 304,
  BadRequest: 400,
  RequestTimeout: 408,
  ContentTooLarge: 413,
  URITooLong: 414,
  ExpectationFailed: 417,
  RequestHeaderFieldsTooLarge: 431,
  InternalServerError: 500,
  NotImplemented: 501,
  ServiceUnavailable: 503,
  HTTPVersionNotSupported: 505,
} as const;

/** A status code the server produces itself. */
export type Status = typeof STATUS[keyof typeof STATUS];

/** Reason phrases (RFC 9110 §15). A client must ignore them (RFC 9112 §4), so unknown codes get an empty one. */
const REASON: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The reason phrase for a status line; empty for codes without a registered phrase. */
export function reasonPhrase(status: number): string {
  return REASON[status] ?? "";
}
