import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OPCODE } from "../../src/websocket/constants.ts";
import { WebSocketConnection } from "../../src/websocket/connection.ts";
import type { WebSocketConnectionOptions, WebSocketEvents } from "../../src/websocket/connection.ts";
import { encodeText } from "../../src/websocket/frame_encoder.ts";
import { Heartbeat } from "../../src/websocket/heartbeat.ts";
import { FakeConn } from "../support/fake_conn.ts";
import { clientFrame, concat, hex, toHex } from "./frames.ts";

type Entry = unknown[];

function open(
  head: Uint8Array = new Uint8Array(0),
  options: WebSocketConnectionOptions = {},
  extra: WebSocketEvents = {},
) {
  const conn = new FakeConn();
  const log: Entry[] = [];
  const events: WebSocketEvents = {
    onOpen: () => log.push(["open"]),
    onMessage: (_ws, data) => log.push(["message", typeof data === "string" ? data : toHex(data)]),
    onClose: (_ws, code, reason, wasClean) => log.push(["close", code, reason, wasClean]),
    onError: (_ws, error) => log.push(["error", error.message]),
    ...extra,
  };
  const ws = new WebSocketConnection(conn, head, events, { heartbeat: null, closeTimeoutMs: 30, ...options });
  return { conn, ws, log };
}

/** Lets queued microtasks (event start, FakeConn's end → close) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every frame the server wrote, as hex. */
const written = (conn: FakeConn) => conn.writes.map(toHex);

/** The status code of a server Close frame (null when it has none). */
function closeCode(frame: Uint8Array): number | null {
  assert.equal(frame[0], 0x88, "expected a Close frame");
  return frame[1] >= 2 ? (frame[2] << 8) | frame[3] : null;
}

const closeFrame = (code: number, reason = "") =>
  clientFrame(
    OPCODE.Close,
    concat(new Uint8Array([code >> 8, code & 0xff]), new TextEncoder().encode(reason)),
  );

describe("WebSocketConnection start", () => {
  it("WebSocketConnection delivers events only after the constructor returns, onOpen first", async () => {
    const { ws, log } = open(clientFrame(OPCODE.Text, "early"));
    assert.deepEqual(log, []);
    assert.equal(ws.readyState, 1);
    await settle();
    assert.deepEqual(log, [["open"], ["message", "early"]]);
    ws.terminate();
  });

  it("WebSocketConnection parses the head bytes before data that arrives later", () => {
    const { conn, ws, log } = open(clientFrame(OPCODE.Text, "head"));
    conn.push(clientFrame(OPCODE.Text, "later"));
    assert.deepEqual(log, [["open"], ["message", "head"], ["message", "later"]]);
    ws.terminate();
  });

  it("WebSocketConnection answers a ping found in the head bytes", async () => {
    const { conn, ws } = open(clientFrame(OPCODE.Ping, "hb"));
    await settle();
    assert.deepEqual(written(conn), ["8a026862"]);
    ws.terminate();
  });
});

describe("WebSocketConnection sending", () => {
  it("WebSocketConnection sends text, binary and pre-encoded frames unmasked", async () => {
    const { conn, ws } = open();
    await settle();
    assert.equal(ws.sendText("Hello"), true);
    assert.equal(ws.sendBinary(hex("0102")), true);
    assert.equal(ws.sendFrame(encodeText("shared")), true);
    assert.deepEqual(written(conn), ["810548656c6c6f", "82020102", toHex(encodeText("shared"))]);
    ws.terminate();
  });

  it("WebSocketConnection reports backpressure from the connection", async () => {
    const { conn, ws } = open();
    await settle();
    conn.full = true;
    assert.equal(ws.sendText("x"), false);
    assert.equal(conn.writes.length, 1);
    ws.terminate();
  });
});

describe("WebSocketConnection §5.5.2 ping and pong", () => {
  it("WebSocketConnection answers a ping with a pong carrying the identical payload", async () => {
    const { conn, ws } = open();
    await settle();
    const payload = hex("00ff10203040");
    conn.push(clientFrame(OPCODE.Ping, payload));
    assert.deepEqual(written(conn), ["8a06" + toHex(payload)]);
    ws.terminate();
  });

  it("WebSocketConnection answers a ping between fragments at once", async () => {
    const { conn, ws, log } = open();
    await settle();
    conn.push(concat(clientFrame(OPCODE.Text, "a", { fin: false }), clientFrame(OPCODE.Ping, "p")));
    assert.deepEqual(written(conn), ["8a0170"]);
    assert.deepEqual(log, [["open"]]);
    conn.push(clientFrame(OPCODE.Continuation, "b"));
    assert.deepEqual(log, [["open"], ["message", "ab"]]);
    ws.terminate();
  });

  it("WebSocketConnection ignores unsolicited pongs", async () => {
    const { conn, ws, log } = open();
    await settle();
    conn.push(clientFrame(OPCODE.Pong, "x"));
    assert.deepEqual(written(conn), []);
    assert.deepEqual(log, [["open"]]);
    ws.terminate();
  });
});

describe("WebSocketConnection §5.5.1 and §7 close handshake", () => {
  for (const code of [1000, 1001, 1003, 1008, 1013, 3000, 4999]) {
    it(`WebSocketConnection echoes a received close code ${code} and closes TCP`, async () => {
      const { conn, ws, log } = open();
      await settle();
      conn.push(closeFrame(code, "bye"));
      assert.equal(conn.writes.length, 1);
      assert.equal(closeCode(conn.writes[0]), code);
      assert.equal(conn.ended, true);
      assert.equal(ws.readyState, 3);
      await settle();
      assert.deepEqual(log, [["open"], ["close", code, "bye", true]]);
    });
  }

  it("WebSocketConnection answers an empty close with an empty close and reports 1005", async () => {
    const { conn, log } = open();
    await settle();
    conn.push(clientFrame(OPCODE.Close, ""));
    assert.deepEqual(written(conn), ["8800"]);
    assert.deepEqual(log.at(-1), ["close", 1005, "", true]);
  });

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000]) {
    it(`WebSocketConnection answers a received close code ${code} with 1002`, async () => {
      const { conn, log } = open();
      await settle();
      conn.push(closeFrame(code));
      assert.equal(closeCode(conn.writes.at(-1)!), 1002);
      assert.equal(conn.ended, true);
      assert.deepEqual(log.at(-1), ["close", 1002, "invalid close code", false]);
    });
  }

  it("WebSocketConnection answers a one-byte close payload with 1002", async () => {
    const { conn } = open();
    await settle();
    conn.push(clientFrame(OPCODE.Close, hex("03")));
    assert.equal(closeCode(conn.writes.at(-1)!), 1002);
  });

  it("WebSocketConnection sends nothing after it answered a close", async () => {
    const { conn, ws } = open();
    await settle();
    conn.push(concat(closeFrame(1000), clientFrame(OPCODE.Ping, "late")));
    assert.equal(ws.sendText("late"), false);
    ws.close();
    assert.equal(conn.writes.length, 1);
  });

  it("WebSocketConnection completes a server-initiated close when the peer answers", async () => {
    const { conn, ws, log } = open();
    await settle();
    ws.close(1001, "restart");
    assert.equal(ws.readyState, 2);
    assert.deepEqual(written(conn), ["8809" + "03e9" + toHex(new TextEncoder().encode("restart"))]);
    // Messages and pings that cross our Close are neither delivered nor answered; sends are refused.
    conn.push(concat(clientFrame(OPCODE.Text, "crossing"), clientFrame(OPCODE.Ping, "")));
    assert.equal(ws.sendText("x"), false);
    assert.equal(conn.writes.length, 1);
    conn.push(closeFrame(1001));
    assert.equal(conn.ended, true);
    assert.deepEqual(log, [["open"], ["close", 1001, "", true]]);
    await sleep(50); // past closeTimeoutMs: the timer was cleared, nothing more happens
    assert.equal(log.length, 2);
  });

  it("WebSocketConnection closes TCP after closeTimeoutMs when the peer never answers", async () => {
    const { conn, ws, log } = open();
    await settle();
    ws.close();
    await sleep(10);
    assert.equal(conn.closed, false);
    await sleep(50);
    assert.equal(conn.closed, true);
    assert.deepEqual(log.at(-1), ["close", 1006, "", false]);
  });

  it("WebSocketConnection reports 1006 when the peer sends FIN without a close", async () => {
    const { conn, log } = open();
    await settle();
    conn.pushEnd();
    assert.equal(conn.ended, true);
    assert.deepEqual(log.at(-1), ["close", 1006, "", false]);
    assert.deepEqual(written(conn), []);
  });

  it("WebSocketConnection terminate drops TCP at once and reports 1006", async () => {
    const { conn, ws, log } = open();
    await settle();
    ws.terminate();
    assert.equal(conn.closed, true);
    assert.deepEqual(written(conn), []);
    assert.deepEqual(log.at(-1), ["close", 1006, "", false]);
  });

  it("WebSocketConnection refuses to send close codes that are reserved for local use", async () => {
    const { ws } = open();
    await settle();
    assert.throws(() => ws.close(1006), RangeError);
    ws.terminate();
  });
});

describe("WebSocketConnection §7.1.7 failing the connection", () => {
  const cases: [string, Uint8Array, number][] = [
    ["an unmasked frame", clientFrame(OPCODE.Text, "x", { mask: null }), 1002],
    ["reserved bits", clientFrame(OPCODE.Text, "x", { rsv: 4 }), 1002],
    ["a message over maxMessageBytes", clientFrame(OPCODE.Binary, new Uint8Array(11)), 1009],
    ["invalid UTF-8", clientFrame(OPCODE.Text, hex("ed a0 80")), 1007],
    ["an invalid close reason", clientFrame(OPCODE.Close, hex("03e8 ff")), 1007],
  ];
  for (const [name, bytes, code] of cases) {
    it(`WebSocketConnection answers ${name} with a Close frame carrying ${code}`, async () => {
      const { conn, log } = open(new Uint8Array(0), { maxMessageBytes: 10 });
      await settle();
      conn.push(bytes);
      assert.equal(conn.writes.length, 1);
      assert.equal(closeCode(conn.writes[0]), code);
      assert.equal(conn.ended, true, "TCP is closed after the Close frame");
      const [kind, reportedCode, , wasClean] = log.at(-1)!;
      assert.deepEqual([kind, reportedCode, wasClean], ["close", code, false]);
      assert.equal(log.filter(([kind]) => kind === "error").length, 1);
    });
  }
});

describe("WebSocketConnection handler errors", () => {
  it("WebSocketConnection reports a throwing onMessage and closes with 1011", async () => {
    const { conn, log } = open(new Uint8Array(0), {}, {
      onMessage: () => {
        throw new Error("boom");
      },
    });
    await settle();
    conn.push(clientFrame(OPCODE.Text, "x"));
    assert.deepEqual(log.at(-1), ["error", "boom"]);
    assert.equal(closeCode(conn.writes.at(-1)!), 1011);
  });

  it("WebSocketConnection still closes when onClose throws", async () => {
    const { conn, ws, log } = open(new Uint8Array(0), {}, {
      onClose: () => {
        throw new Error("close handler");
      },
    });
    await settle();
    conn.push(closeFrame(1000));
    assert.equal(ws.readyState, 3);
    assert.deepEqual(log.at(-1), ["error", "close handler"]);
  });
});

describe("WebSocketConnection heartbeat", () => {
  it("WebSocketConnection pings on each beat and drops a peer that stayed silent since the last one", async () => {
    const heartbeat = new Heartbeat(0);
    const { conn, log } = open(new Uint8Array(0), { heartbeat });
    await settle();
    heartbeat.tick();
    assert.deepEqual(written(conn), ["8900"]);
    conn.push(clientFrame(OPCODE.Pong, "")); // any frame counts as life
    heartbeat.tick();
    assert.deepEqual(written(conn), ["8900", "8900"]);
    heartbeat.tick(); // silent since the last ping
    assert.equal(conn.closed, true);
    assert.deepEqual(log.at(-1), ["close", 1006, "", false]);
    assert.equal(heartbeat.size, 0);
  });

  it("Heartbeat drives every connection from one timer that stops when none is left", async () => {
    const heartbeat = new Heartbeat(15);
    const a = open(new Uint8Array(0), { heartbeat });
    const b = open(new Uint8Array(0), { heartbeat });
    assert.equal(heartbeat.size, 2);
    await sleep(40);
    assert.ok(a.conn.writes.some((w) => toHex(w) === "8900"));
    assert.ok(b.conn.writes.some((w) => toHex(w) === "8900"));
    a.ws.terminate();
    b.ws.terminate();
    assert.equal(heartbeat.size, 0);
  });

  it("WebSocketConnection joins the shared heartbeat for pingIntervalMs by default and leaves it on close", () => {
    const shared = Heartbeat.shared(60_000);
    const before = shared.size;
    const { ws } = open(new Uint8Array(0), { heartbeat: undefined, pingIntervalMs: 60_000 });
    assert.equal(shared.size, before + 1);
    ws.terminate();
    assert.equal(shared.size, before);
  });
});
