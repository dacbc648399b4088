/**
 * The operators' listener (`--internal-port`, `--internal-host`): its own HTTP server and listener serving the
 * internal app (`/metrics`, `/healthz`, `/readyz`), apart from the public port and its caps.
 * @module
 */
import { ConnectionLimiter } from "./access/mod.ts";
import { createInternalApp, type InternalAppDeps } from "./app/mod.ts";
import { HttpServer } from "./http/mod.ts";
import type { Logger } from "./observability/mod.ts";
import type { Runtime } from "./runtime/mod.ts";

/** Connections the internal listener holds at once: a few scrapers and probes, never clients. */
export const INTERNAL_MAX_CONNECTIONS = 64;

/** A running internal listener. */
export interface InternalListener {
  /** `http://HOST:PORT` with the real port. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the internal listener on `host:port`. */
export function startInternalListener(
  runtime: Runtime,
  host: string,
  port: number,
  deps: InternalAppDeps,
  log: Logger,
): InternalListener {
  const app = createInternalApp(deps);
  const http = new HttpServer((request) => app.fetch(request), {
    onError: (error) => log.error("internal http", { error }),
  });
  const limiter = new ConnectionLimiter(INTERNAL_MAX_CONNECTIONS, INTERNAL_MAX_CONNECTIONS, http);
  const listener = listenOrExplain(runtime, host, port, "--internal-host, --internal-port", (options) => ({
    ...options,
    onConn: (conn) => {
      if (limiter.admit(conn)) http.serve(conn);
    },
    onConnClose: (conn) => limiter.release(conn),
    onError: (error) => log.warn("internal accept", { error }),
  }));
  const shown = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
  return {
    url: `http://${shown}:${listener.port}`,
    async close() {
      listener.close();
      await http.shutdown();
    },
  };
}

type ListenOptions = Parameters<Runtime["listen"]>[0];

/**
 * `runtime.listen`, whose failure names the address and the flags to change: Deno says only "Address already
 * in use (os error 98)", a Bun-compiled binary "Failed to listen at 127.0.0.1".
 */
export function listenOrExplain(
  runtime: Runtime,
  host: string,
  port: number,
  flags: string,
  options: (base: Pick<ListenOptions, "hostname" | "port">) => ListenOptions,
): ReturnType<Runtime["listen"]> {
  try {
    return runtime.listen(options({ hostname: host, port }));
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const reason = e.code === "EADDRINUSE" || /in use/i.test(e.message ?? "")
      ? "the address is already in use (another process listens there)"
      : e.code === "EADDRNOTAVAIL" || /not available|cannot assign/i.test(e.message ?? "")
      ? "no interface of this machine has that address"
      : e.code === "EACCES" || /permission/i.test(e.message ?? "")
      ? "permission denied (ports below 1024 need privileges)"
      : e.message ?? String(error);
    const shown = host.includes(":") ? `[${host}]` : host;
    throw new Error(`cannot listen on ${shown}:${port} (${flags}): ${reason}`);
  }
}
