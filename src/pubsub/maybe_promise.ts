/**
 * A value now or later. Brokers whose storage is local (memory) answer synchronously and throw on failure;
 * remote ones (Redis) return promises that reject. `await` works on both; a hot path checks
 * {@link isPromise} to stay synchronous when it can.
 * @module
 */

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** True when `value` is a promise (any thenable). The pub/sub value types are never thenables. */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Runs `next` on `value` now if it is ready, or when it resolves. */
export function then<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromise(value) ? value.then(next) : next(value);
}
