/**
 * The runtime door: picks the adapter of the runtime we run on. Everything above `src/runtime/` sees only
 * {@link Conn} and {@link Listener}.
 * @module
 */
import type { Listener, ListenOptions } from "./conn.ts";

export type { Conn, ConnHandler, Listener, ListenOptions } from "./conn.ts";

/** A runtime adapter: how to listen, and the runtime's name for logs and benchmarks. */
export interface Runtime {
  readonly name: "deno" | "bun";
  listen(options: ListenOptions): Listener;
}

/** Loads the adapter for the current runtime. */
export async function loadRuntime(): Promise<Runtime> {
  if ("Bun" in globalThis) {
    const { listen } = await import("./bun.ts");
    return { name: "bun", listen };
  }
  const { listen } = await import("./deno.ts");
  return { name: "deno", listen };
}
