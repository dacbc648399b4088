/**
 * Anything thrown, as an `Error`.
 * @module
 */

/**
 * `value` if it is an `Error`, else an `Error` whose message is `String(value)`: JavaScript can throw anything,
 * and callbacks such as `close(error?: Error)` and `onError(error: Error)` promise an `Error`.
 */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
