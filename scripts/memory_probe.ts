/**
 * Live memory per idle WebSocket connection, after garbage collection: runs the relay in this process, opens
 * N raw-mode connections from a separate client process (Python, raw sockets), forces GC, and prints the heap
 * and RSS growth per connection. The benchmark's idle figure is RSS without a forced GC (it includes garbage
 * and heap head-room); this one isolates what each connection keeps alive.
 *
 *     deno run -A --v8-flags=--expose-gc scripts/memory_probe.ts [connections=1000] [--snapshot DIR]
 *
 * With `--snapshot DIR`, heap snapshots before and after are written there for a closer look.
 * @module
 */
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import { parseConfig } from "../src/config.ts";
import { startRelay } from "../src/start.ts";
import { loadRuntime } from "../src/runtime/mod.ts";

const CLIENT = `
import socket, sys, base64, os, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws/idle%d HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
               "Sec-WebSocket-Key: %s\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n" % (i % 10, port, key)).encode())
    socks.append(s)
for s in socks:
    d = b""
    while b"\\r\\n\\r\\n" not in d:
        d += s.recv(4096)
    assert b" 101 " in d, d[:100]
print("open", flush=True)
sys.stdin.read()
`;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("run with --v8-flags=--expose-gc");
  Deno.exit(2);
}
const count = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 1000);
const snapshotAt = Deno.args.indexOf("--snapshot");
const snapshotDir = snapshotAt === -1 ? null : Deno.args[snapshotAt + 1];

const running = await startRelay(
  parseConfig(["--port", "0", "--host", "127.0.0.1", "--max-connections-per-ip", "100000"], {}),
  await loadRuntime(),
  (path) => Deno.readTextFile(path),
);
const port = new URL(running.url).port;
const clientFile = await Deno.makeTempFile({ suffix: ".py" });
await Deno.writeTextFile(clientFile, CLIENT);

/** Opens `n` connections in a client process; resolves when all are upgraded. */
async function openClients(n: number) {
  const child = new Deno.Command("python3", {
    args: [clientFile, port, String(n)],
    stdin: "piped",
    stdout: "piped",
  })
    .spawn();
  const line = await child.stdout.getReader().read();
  if (line.done) throw new Error("the client process failed");
  return child;
}

// Warm-up: compile the handshake path and let one-time allocations happen before measuring.
const warm = await openClients(200);
await warm.stdin.close();
await warm.status;
await new Promise((r) => setTimeout(r, 500));

const measure = () => {
  gc();
  gc();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s]));
  return { ...Deno.memoryUsage(), spaces };
};
const before = measure();
if (snapshotDir) writeHeapSnapshot(`${snapshotDir}/before.heapsnapshot`);
const clients = await openClients(count);
await new Promise((r) => setTimeout(r, 1000));
const after = measure();
if (snapshotDir) writeHeapSnapshot(`${snapshotDir}/after.heapsnapshot`);
for (const key of ["heapUsed", "heapTotal", "external", "rss"] as const) {
  console.log(
    `${key.padEnd(9)} ${((after[key] - before[key]) / count / 1024).toFixed(2)} KiB per connection`,
  );
}
// Where heapTotal grew: each V8 space's size (committed) and what is live in it.
for (const [name, space] of Object.entries(after.spaces)) {
  const was = before.spaces[name];
  const size = (space.space_size - (was?.space_size ?? 0)) / count / 1024;
  const used = (space.space_used_size - (was?.space_used_size ?? 0)) / count / 1024;
  if (Math.abs(size) >= 0.05 || Math.abs(used) >= 0.05) {
    console.log(`  ${name.padEnd(24)} size ${size.toFixed(2)}  used ${used.toFixed(2)} KiB per connection`);
  }
}
await clients.stdin.close();
await clients.status;
await Deno.remove(clientFile);
await running.stop();
Deno.exit(0);
