/**
 * A minimal typed event emitter: `on` returns the function that removes the listener. A listener that throws
 * is reported and does not stop the others (an app's bug must not break the client's state machine).
 * @module
 */

/** Listener functions by event name. */
// deno-lint-ignore no-explicit-any
export type EventMap = Record<string, (event: any) => void>;

/** `on(name, listener)` and `emit(name, event)` over an {@link EventMap}. */
export class Emitter<E extends EventMap> {
  #listeners = new Map<keyof E, Set<E[keyof E]>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(name: K, listener: E[K]): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) this.#listeners.set(name, set = new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Calls every listener of `name` with `event`. */
  protected emit<K extends keyof E>(name: K, event: Parameters<E[K]>[0]): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
