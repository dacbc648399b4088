/**
 * The HTTP part: keep-alive `GET /healthz` driven by `wrk` (one thread, {@link HTTP_CONNECTIONS} connections,
 * pinned to the client core), with the server's CPU time read from `/proc` around the measured run.
 * @module
 */
import { cpuTicks, spawnTracked } from "./processes.ts";

/** Keep-alive connections wrk holds open. */
export const HTTP_CONNECTIONS = 50;

/** One measured `wrk` run. */
export interface HttpResult {
  requests: number;
  seconds: number;
  requestsPerS: number;
  /** Responses that were not 2xx/3xx, plus socket errors. */
  failures: number;
  serverCpuS: number;
  /** Requests served per second of server CPU time (the primary HTTP figure). */
  requestsPerCpuS: number;
}

async function wrk(wrkPath: string, prefix: string[], url: string, seconds: number): Promise<string> {
  const child = spawnTracked([
    ...prefix,
    wrkPath,
    "-t1",
    `-c${HTTP_CONNECTIONS}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    url,
  ]);
  const status = await child.status;
  if (!status.success) throw new Error(`wrk failed:\n${child.output()}`);
  return child.output();
}

/** Parses wrk's summary (`N requests in 4.00s`, `Non-2xx or 3xx responses`, `Socket errors`). */
export function parseWrk(text: string): { requests: number; seconds: number; failures: number } {
  const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(text);
  if (!total) throw new Error(`unexpected wrk output:\n${text}`);
  const unit = total[3] === "ms" ? 0.001 : total[3] === "m" ? 60 : 1;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests: Number(total[1]), seconds: Number(total[2]) * unit, failures: non2xx + socketErrors };
}

/** Warms the server up with one wrk run, then measures a second one. */
export async function benchHealthz(
  wrkPath: string,
  prefix: string[],
  port: number,
  serverPid: number,
  clkTck: number,
  warmupS: number,
  measureS: number,
): Promise<HttpResult> {
  const url = `http://127.0.0.1:${port}/healthz`;
  await wrk(wrkPath, prefix, url, warmupS);
  const before = cpuTicks(serverPid);
  const text = await wrk(wrkPath, prefix, url, measureS);
  const serverCpuS = (cpuTicks(serverPid) - before) / clkTck;
  const { requests, seconds, failures } = parseWrk(text);
  return {
    requests,
    seconds,
    requestsPerS: requests / seconds,
    failures,
    serverCpuS,
    requestsPerCpuS: serverCpuS > 0 ? requests / serverCpuS : NaN,
  };
}
