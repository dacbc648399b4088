/**
 * Contract test of the runtime adapter we run on (`deno test` checks deno.ts, `bun test` checks bun.ts):
 * real sockets on 127.0.0.1, independent `node:net` / `node:tls` peers.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeCertificate, pattern, Peer, Recorder, sleep, TestServer, until, within } from "./harness.ts";

const HIGH_WATER_MARK = 64 * 1024;
const MiB = 1024 * 1024;
const encode = (text: string) => new TextEncoder().encode(text);

/** Runs `body` with a fresh listener and stops it (and every peer `body` registers) afterwards. */
async function withServer(
  body: (server: TestServer, peers: Peer[]) => Promise<void>,
  options: Parameters<typeof TestServer.start>[0] = {},
): Promise<void> {
  const server = await TestServer.start(options);
  const peers: Peer[] = [];
  try {
    await within(15_000, "the test body", body(server, peers));
  } finally {
    for (const peer of peers) peer.destroy();
    server.close();
  }
}

describe("runtime adapter over TCP", () => {
  it("delivers the peer's bytes and reports the peer address", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn);
      peer.socket.write("hello relay");
      await until(3000, "data", () => recorder.text() === "hello relay");
      assert.equal(conn.remoteAddress, "127.0.0.1");
      assert.equal(conn.remotePort, peer.socket.localPort);
      assert.equal(conn.secure, false);
      assert.equal(server.listener.secure, false);
    }));

  it("queues the writes of one turn and sends them together, in order, in one write", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      const conn = await server.nextConn();
      new Recorder(conn);
      const parts = Array.from({ length: 50 }, (_, i) => encode(`<${String(i).padStart(2, "0")}>`));
      for (const part of parts) assert.equal(conn.write(part), true);
      // Nothing goes out during the turn: it is corked until the turn ends.
      assert.equal(conn.bufferedAmount, 50 * 4);
      await peer.receive(50 * 4);
      assert.equal(peer.text(), parts.map((part) => new TextDecoder().decode(part)).join(""));
      assert.equal(peer.chunks.length, 1, "one write call, so the peer reads it in one piece");
      assert.equal(conn.bufferedAmount, 0);
    }));

  it("returns false from write above the high-water mark and fires drain once an 8 MiB write is delivered", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      peer.socket.pause(); // a slow reader
      const conn = await server.nextConn();
      let bufferedAtDrain = -1;
      const recorder = new Recorder(conn, { drain: () => bufferedAtDrain = conn.bufferedAmount });
      const big = pattern(8 * MiB);
      assert.equal(conn.write(big), false);
      assert.ok(conn.bufferedAmount > HIGH_WATER_MARK);
      await sleep(100);
      peer.socket.resume();
      const received = await peer.receive(big.length);
      await until(3000, "drain", () => recorder.drains > 0);
      assert.equal(recorder.drains, 1);
      assert.equal(bufferedAtDrain, 0);
      assert.equal(received.length, big.length);
      assert.ok(Buffer.from(received).equals(Buffer.from(big)), "every byte, in order");
    }));

  it("delivers a burst of small writes past the high-water mark intact and in order", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      peer.socket.pause();
      const conn = await server.nextConn();
      const recorder = new Recorder(conn);
      const all = pattern(30_000 * 100, 7);
      let firstFalse = -1;
      for (let i = 0; i < 30_000; i++) {
        if (!conn.write(all.subarray(i * 100, (i + 1) * 100)) && firstFalse < 0) firstFalse = i;
      }
      // The first write that takes the queue past 64 KiB is the first to return false.
      assert.equal(firstFalse, Math.floor(HIGH_WATER_MARK / 100));
      await sleep(50);
      peer.socket.resume();
      const received = await peer.receive(all.length);
      assert.ok(Buffer.from(received).equals(Buffer.from(all)), "every byte, in order");
      await until(3000, "drain", () => recorder.drains > 0);
      assert.equal(recorder.drains, 1);
    }));

  it("end() delivers everything queued, then FIN, and refuses later writes", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn);
      const body = pattern(MiB, 3);
      conn.write(body);
      conn.end();
      assert.equal(conn.write(encode("late")), false);
      await within(5000, "the peer's end", peer.ended);
      assert.ok(Buffer.from(peer.bytes()).equals(Buffer.from(body)));
      // The peer answers our FIN with its own; the adapter then closes, reporting it once.
      await within(3000, "close", recorder.closed);
      await sleep(50);
      assert.equal(recorder.closes, 1);
      assert.equal(conn.closed, true);
    }));

  it("reports a peer FIN as end after the data and stays writable", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port, { allowHalfOpen: true });
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn, {
        end: () => {
          assert.equal(conn.write(encode("pong")), true);
          conn.end();
        },
      });
      peer.socket.end("ping");
      await within(3000, "the peer's end", peer.ended);
      assert.equal(peer.text(), "pong");
      assert.deepEqual(recorder.events, ["data:ping", "end"]);
      await within(3000, "close", recorder.closed);
      assert.equal(recorder.closes, 1);
    }));

  it("close() drops queued bytes, closes at once and reports close (and onConnClose) exactly once", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn);
      conn.write(encode("never sent"));
      conn.close();
      assert.equal(conn.closed, true);
      assert.equal(recorder.closes, 1);
      conn.close();
      conn.end();
      assert.equal(conn.write(encode("x")), false);
      await within(3000, "the peer's close", peer.closed);
      await sleep(50);
      assert.equal(recorder.closes, 1);
      assert.equal(peer.received, 0);
      assert.deepEqual(server.closedConns, [conn], "the listener hears of it once, too");
    }));

  it("reports close exactly once when the peer goes away while we write", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn);
      peer.destroy();
      await within(3000, "end", recorder.ended);
      const chunk = pattern(16 * 1024);
      // Keep writing: the peer's kernel answers with a reset, and a later write fails.
      await until(5000, "close after failed writes", () => conn.closed || (conn.write(chunk), false));
      await sleep(50);
      assert.equal(recorder.closes, 1);
    }));

  it("discardQueued drops queued writes but finishes a write already handed over", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      peer.socket.pause();
      const conn = await server.nextConn();
      new Recorder(conn);
      // Writes of this turn are all still queued: every byte is dropped.
      for (let i = 0; i < 10; i++) conn.write(pattern(1000, i));
      assert.equal(conn.discardQueued(), 10_000);
      assert.equal(conn.bufferedAmount, 0);

      const CHUNK = 256 * 1024;
      const chunk = (index: number) => new Uint8Array(CHUNK).fill(index + 1);
      for (let i = 0; i < 32; i++) conn.write(chunk(i));
      await sleep(100); // the first batch is (partly) handed to the kernel
      for (let i = 32; i < 64; i++) conn.write(chunk(i));
      const dropped = conn.discardQueued();
      assert.ok(dropped >= 32 * CHUNK, `the second batch is dropped (dropped ${dropped})`);
      const marker = new Uint8Array(16).fill(0xee);
      conn.write(marker);
      conn.end();
      peer.socket.resume();
      await within(5000, "the peer's end", peer.ended);
      const received = peer.bytes();
      assert.equal(received.length - marker.length + dropped, 64 * CHUNK);
      const sent = received.length - marker.length;
      assert.equal(sent % CHUNK, 0, "whole writes only");
      for (let i = 0; i < sent / CHUNK; i++) {
        const piece = received.subarray(i * CHUNK, (i + 1) * CHUNK);
        assert.ok(piece.every((byte) => byte === i + 1), `write ${i} arrived whole and in order`);
      }
      assert.ok(
        received.subarray(sent).every((byte) => byte === 0xee),
        "then the write made after discarding",
      );
    }));

  it("pause() from a data callback holds further data and the peer's end until resume()", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port, { allowHalfOpen: true });
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn, { data: () => conn.pause() });
      peer.socket.write("1");
      await until(3000, "data", () => recorder.events.length > 0);
      peer.socket.end("2");
      await sleep(150);
      assert.deepEqual(recorder.events, ["data:1"]);
      conn.resume();
      await until(3000, "data after resume", () => recorder.events.length > 1);
      assert.deepEqual(recorder.events, ["data:1", "data:2"]);
      conn.resume(); // paused again by the handler; the peer's end comes after its data
      await within(3000, "end", recorder.ended);
      assert.deepEqual(recorder.events, ["data:1", "data:2", "end"]);
      conn.close();
    }));

  it("pause() outside a callback stops data that is already on its way", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn);
      conn.pause(); // not inside onConn: the adapter may already be reading
      peer.socket.write("abc");
      await sleep(150);
      assert.deepEqual(recorder.events, []);
      conn.resume();
      await until(3000, "data after resume", () => recorder.events.length > 0);
      assert.deepEqual(recorder.events, ["data:abc"]);
    }));

  it("a throwing handler closes only its own connection; the listener keeps accepting", () =>
    withServer(async (server, peers) => {
      const bad = await Peer.tcp(server.port);
      peers.push(bad);
      const badConn = await server.nextConn();
      const badRecorder = new Recorder(badConn, {
        data: () => {
          throw new Error("handler bug (expected by this test)");
        },
      });
      bad.socket.write("boom");
      await within(3000, "the failing connection to close", bad.closed);
      assert.equal(badRecorder.closes, 1);

      const good = await Peer.tcp(server.port);
      peers.push(good);
      const conn = await server.nextConn();
      new Recorder(conn, { data: (chunk) => conn.write(chunk.slice()) });
      good.socket.write("still here");
      await good.receive(10);
      assert.equal(good.text(), "still here");
    }));

  it("listener.close() stops accepting and leaves accepted connections working", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tcp(server.port);
      peers.push(peer);
      const conn = await server.nextConn();
      new Recorder(conn, { data: (chunk) => conn.write(chunk.slice()) });
      server.close();
      await sleep(20);
      await assert.rejects(Peer.tcp(server.port), /ECONNREFUSED|refused/i);
      peer.socket.write("echo");
      await peer.receive(4);
      assert.equal(peer.text(), "echo");
    }));
});

describe("runtime adapter over TLS", () => {
  let tls: { cert: string; key: string };
  before(() => {
    tls = makeCertificate();
  });

  it("echoes data, marks the connection secure and ends with FIN", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tls(server.port, tls.cert);
      peers.push(peer);
      const conn = await server.nextConn();
      assert.equal(conn.secure, true);
      assert.equal(server.listener.secure, true);
      new Recorder(conn, { data: (chunk) => conn.write(chunk.slice()) });
      peer.socket.write("over tls");
      await peer.receive(8);
      assert.equal(peer.text(), "over tls");
      conn.end();
      await within(3000, "the peer's end", peer.ended);
    }, { tls }));

  it("delivers a 4 MiB write in order to a slow reader and fires drain", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tls(server.port, tls.cert);
      peers.push(peer);
      peer.socket.pause();
      const conn = await server.nextConn();
      const recorder = new Recorder(conn);
      const big = pattern(4 * MiB, 11);
      assert.equal(conn.write(big.subarray(0, MiB)), false);
      assert.equal(conn.write(big.subarray(MiB)), false);
      await sleep(100);
      peer.socket.resume();
      const received = await peer.receive(big.length);
      assert.ok(Buffer.from(received).equals(Buffer.from(big)), "every byte, in order");
      await until(3000, "drain", () => recorder.drains > 0);
    }, { tls }));

  it("pause() pushes back on a TLS peer that keeps sending (the relay buffers a bounded amount)", () =>
    withServer(async (server, peers) => {
      const peer = await Peer.tls(server.port, tls.cert);
      peers.push(peer);
      const conn = await server.nextConn();
      const recorder = new Recorder(conn, { data: () => conn.pause() });
      // The peer writes 1 MiB whenever its socket takes more, for half a second.
      const chunk = new Uint8Array(MiB);
      let written = 0;
      const deadline = Date.now() + 500;
      while (Date.now() < deadline) {
        written += chunk.length;
        if (!peer.socket.write(chunk)) {
          await Promise.race([
            new Promise((r) => peer.socket.once("drain", r)),
            sleep(deadline - Date.now()),
          ]);
        }
      }
      // Kernel buffers on both sides plus the adapter's own: a few MiB, not what the peer could send.
      assert.ok(written <= 16 * MiB, `${written / MiB} MiB taken from the peer while paused`);
      assert.equal(recorder.events.length, 1);
      conn.close();
    }, { tls }));

  it("drops garbage on the TLS port without disturbing the accept loop", () =>
    withServer(async (server, peers) => {
      const garbage = await Peer.tcp(server.port);
      peers.push(garbage);
      const dropped = await server.nextConn(); // handed over at accept, before the handshake
      garbage.socket.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await within(3000, "the garbage connection to be dropped", garbage.closed);
      assert.ok(server.errors.length >= 1, "the failed handshake is reported");
      await until(3000, "onConnClose for the dropped connection", () => server.closedConns.includes(dropped));
      assert.equal(dropped.closed, true);

      const peer = await Peer.tls(server.port, tls.cert);
      peers.push(peer);
      const conn = await server.nextConn();
      new Recorder(conn, { data: (chunk) => conn.write(chunk.slice()) });
      peer.socket.write("fine");
      await peer.receive(4);
      assert.equal(peer.text(), "fine");
    }, { tls }));

  it("drops a client that does not finish the handshake within tlsHandshakeTimeoutMs", () =>
    withServer(async (server, peers) => {
      const started = Date.now();
      const silent = await Peer.tcp(server.port);
      peers.push(silent);
      const conn = await server.nextConn();
      await within(3000, "the silent connection to be dropped", silent.closed);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 150, `dropped after ${elapsed} ms, not before the timeout`);
      assert.ok(server.errors.length >= 1, "the timeout is reported");
      await until(3000, "onConnClose for the silent connection", () => server.closedConns.includes(conn));
    }, { tls, tlsHandshakeTimeoutMs: 200 }));

  it("hands a TLS connection to onConn at accept, before the handshake; closing it there closes the socket", () =>
    withServer(async (server, peers) => {
      const silent = await Peer.tcp(server.port);
      peers.push(silent);
      const conn = await server.nextConn();
      assert.equal(conn.secure, true);
      assert.equal(conn.remoteAddress, "127.0.0.1");
      conn.close();
      await within(1000, "the peer to see the close", silent.closed);
      await until(1000, "onConnClose", () => server.closedConns.includes(conn));
    }, { tls, tlsHandshakeTimeoutMs: 60_000 }));
});
