/**
 * The reference parsers of the HTTP differential fuzzer, each a child process started and stopped by the
 * harness: Node's llhttp in strict mode (`llhttp_reference.mjs`, a loopback server) and Python's h11
 * (`h11_reference.py`, fed bytes over stdin). Both report a {@link Split} per connection.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { referenceSplit, type Split } from "./http_split.ts";
import { tcpExchange } from "./tcp.ts";

/** How long a reference may take to report one connection before the case counts as failed. */
const REPORT_TIMEOUT_MS = 3000;
/** How long a reference may take to start. */
const START_TIMEOUT_MS = 10_000;

/** A started reference parser. */
export interface Reference {
  readonly name: string;
  /** How this parser splits `bytes` sent on one connection that is then half-closed. */
  split(bytes: Uint8Array): Promise<Split>;
  stop(): Promise<void>;
}

function scriptPath(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

/** Calls `onLine` for each line the child prints on stdout. */
function readLines(child: ChildProcess, onLine: (line: string) => void): void {
  let pending = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 2000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.stdin?.end();
    child.kill("SIGTERM");
  });
}

/** Waits for reports keyed by a number (a port, a query id). */
class Mailbox<T> {
  #arrived = new Map<number, T>();
  #waiting = new Map<number, (value: T) => void>();

  deliver(key: number, value: T): void {
    const waiter = this.#waiting.get(key);
    if (waiter) {
      this.#waiting.delete(key);
      waiter(value);
    } else this.#arrived.set(key, value);
  }

  take(key: number, what: string): Promise<T> {
    const value = this.#arrived.get(key);
    if (value !== undefined) {
      this.#arrived.delete(key);
      return Promise.resolve(value);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`${what} did not report within ${REPORT_TIMEOUT_MS} ms`));
      }, REPORT_TIMEOUT_MS);
      this.#waiting.set(key, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  }
}

/** Starts Node's llhttp (strict) as a loopback server; `node` is the Node.js binary. */
export function startLlhttpReference(node = "node"): Promise<Reference> {
  const child = spawn(node, [scriptPath("llhttp_reference.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
  const reports = new Mailbox<Split>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the llhttp reference did not start"));
    }, START_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`the llhttp reference could not start (${node}): ${error.message}`));
    });
    readLines(child, (line) => {
      const listening = /llhttp-reference listening on (\d+)/.exec(line);
      if (listening) {
        clearTimeout(timer);
        const port = Number(listening[1]);
        resolve({
          name: "llhttp",
          async split(bytes) {
            const { localPort } = await tcpExchange(port, [bytes]);
            return reports.take(localPort, "llhttp");
          },
          stop: () => stopChild(child),
        });
        return;
      }
      const report = JSON.parse(line);
      reports.deliver(report.port, referenceSplit(report));
    });
  });
}

/** The Python that has h11: Debian's (scripts/setup.sh installs python3-h11 there), else `python3`. */
export function findH11Python(): { python: string } | { missing: string } {
  for (const python of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(python, ["-c", "import h11"], { stdio: "ignore" });
    if (probe.status === 0) return { python };
  }
  return { missing: "python3-h11 is not importable (bash scripts/setup.sh installs it)" };
}

/** Starts Python's h11 as a line-oriented child process. */
export function startH11Reference(python: string): Promise<Reference> {
  const child = spawn(python, [scriptPath("h11_reference.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const reports = new Mailbox<Split>();
  let next = 0;
  readLines(child, (line) => {
    const report = JSON.parse(line);
    reports.deliver(report.id, referenceSplit(report));
  });
  return new Promise((resolve, reject) => {
    child.once("error", (error) => reject(new Error(`the h11 reference could not start: ${error.message}`)));
    child.once("spawn", () =>
      resolve({
        name: "h11",
        split(bytes) {
          const id = ++next;
          child.stdin!.write(JSON.stringify({ id, data: bytes.toBase64() }) + "\n");
          return reports.take(id, "h11");
        },
        stop: () => stopChild(child),
      }));
  });
}
