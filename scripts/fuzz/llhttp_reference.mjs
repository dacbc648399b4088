// Reference HTTP/1.1 parser for the differential fuzzer: Node's llhttp in strict mode (insecureHTTPParser off).
// Run with `node scripts/fuzz/llhttp_reference.mjs`: it listens on a free loopback port, prints
// `llhttp-reference listening on PORT`, and when a client connection closes prints one JSON line saying how
// llhttp split that connection's bytes:
//   {"port": <client port>, "requests": [{"method", "target", "body" (base64, null when it did not end),
//    "upgrade"}], "end": "eof" | "closed" | "refused", "reason": "<llhttp code: reason>" | null}
// "closed": llhttp stopped after `Connection: close` or an upgrade; "refused": a parse error.
// It exits on SIGTERM or when its stdin closes, so it never outlives the harness that started it.
import http from "node:http";

/** Longest a fuzz case may hold a connection: the harness half-closes long before. */
const CONNECTION_TIMEOUT_MS = 5000;
/** llhttp's error when the bytes end inside a message: truncated by the harness's FIN, not refused. */
const TRUNCATED = "HPE_INVALID_EOF_STATE";
/** llhttp's error for bytes after a message that said `Connection: close`: it stopped, as it must. */
const AFTER_CLOSE = "HPE_CLOSED_CONNECTION";

const server = http.createServer({
  insecureHTTPParser: false,
  // Host is the relay's business (it refuses a missing one); the reference reports only how llhttp frames.
  requireHostHeader: false,
  keepAliveTimeout: CONNECTION_TIMEOUT_MS,
});
/** Per client connection: what llhttp made of its bytes, printed when the connection closes. */
const records = new WeakMap();

function recordOf(socket) {
  let record = records.get(socket);
  if (record === undefined) {
    record = { port: socket.remotePort, requests: [], end: "eof", reason: null };
    records.set(socket, record);
    socket.once("close", () => process.stdout.write(JSON.stringify(record) + "\n"));
  }
  return record;
}

server.on("connection", (socket) => {
  recordOf(socket);
  socket.setTimeout(CONNECTION_TIMEOUT_MS, () => socket.destroy());
});

server.on("request", (req, res) => {
  const record = recordOf(req.socket);
  const entry = { method: req.method, target: req.url, body: null, upgrade: false };
  record.requests.push(entry);
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    entry.body = Buffer.concat(chunks).toString("base64");
    res.writeHead(200, { "content-length": "0" });
    res.end();
  });
});

// An Upgrade or CONNECT request hands the socket over: llhttp parses nothing after it.
function handOver(req, socket) {
  const record = recordOf(socket);
  record.requests.push({ method: req.method, target: req.url, body: "", upgrade: true });
  record.end = "closed";
  socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
}
server.on("upgrade", handOver);
server.on("connect", handOver);

server.on("clientError", (err, socket) => {
  const record = recordOf(socket);
  if (record.end === "eof" && record.reason === null) {
    const code = err.code ?? "ERR";
    record.end = code === TRUNCATED ? "eof" : code === AFTER_CLOSE ? "closed" : "refused";
    record.reason = `${code}: ${err.reason ?? err.message}`;
  }
  if (socket.writable) {
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  } else socket.destroy();
});

server.listen(0, "127.0.0.1", () => {
  console.log(`llhttp-reference listening on ${server.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
