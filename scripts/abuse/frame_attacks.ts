/**
 * Attacks on the RFC 6455 frame parser after a successful handshake: lying length fields and fragment
 * floods. The relay must close with the right code at once and allocate nothing from a length field.
 * @module
 */
import { concatBytes, encodeFrame, encodeHeader, OPCODE, randomMaskKey } from "../conformance/frame.ts";
import { type Attack, Checks, signedKiB } from "./types.ts";
import { awaitEnding, describeEnding, openWebSocket } from "./wire.ts";

/** How much the relay's peak RSS may grow during a frame attack: far below any allocation from a length. */
export const FLAT_RSS_KIB = 16 * 1024;
const CLOSE_MS = 1000;

interface FrameAttackSpec {
  id: string;
  attack: string;
  expected: string;
  codes: readonly number[];
  bytes(): Uint8Array;
}

function frameAttack(spec: FrameAttackSpec): Attack {
  return {
    id: spec.id,
    attack: spec.attack,
    expected: spec.expected,
    timeoutMs: () => 8000,
    async run(ctx) {
      const checks = new Checks();
      const { ws } = await openWebSocket(ctx, `/ws/${ctx.channel("abuse")}`);
      const rssBefore = ctx.stats?.rssKiB() ?? null;
      const start = performance.now();
      try {
        await ws.write(spec.bytes());
        const ending = await awaitEnding(ws, start, Date.now() + 3000);
        const peakGrowth = ctx.stats && rssBefore !== null ? ctx.stats.peakKiB() - rssBefore : null;
        checks.oneOf("close code", ending.code, spec.codes);
        checks.atMost("time to Close frame", ending.msToCloseFrame, CLOSE_MS, "ms");
        checks.atMost("time to TCP close", ending.msToEof, CLOSE_MS * 2, "ms");
        if (peakGrowth !== null) checks.atMost("peak RSS growth", peakGrowth, FLAT_RSS_KIB, "KiB");
        return {
          observed: describeEnding(ending) +
            (peakGrowth === null ? "" : `, peak RSS ${signedKiB(peakGrowth)}`),
          problems: checks.problems,
          metrics: {
            closeCode: ending.code,
            msToCloseFrame: ending.msToCloseFrame,
            msToEof: ending.msToEof,
            peakRssGrowthKiB: peakGrowth,
          },
        };
      } finally {
        ws.socket.close();
      }
    },
  };
}

/** A frame header announcing `length` bytes, followed by `sent` bytes of payload that never complete it. */
function lyingFrame(length: bigint, sent: number): Uint8Array {
  const header = encodeHeader({ opcode: OPCODE.Binary }, length, randomMaskKey());
  return concatBytes([header, new Uint8Array(sent)]);
}

/** A message started and continued `count` times with `size`-byte fragments, never finished (FIN=0). */
function endlessFragments(opcode: number, size: number, count: number): Uint8Array {
  const frames = [encodeFrame({ opcode, fin: false, payload: new Uint8Array(size).fill(0x61) })];
  for (let i = 0; i < count; i++) {
    frames.push(
      encodeFrame({ opcode: OPCODE.Continuation, fin: false, payload: new Uint8Array(size).fill(0x61) }),
    );
  }
  return concatBytes(frames);
}

/** Every frame-level attack, in run order. */
export const FRAME_ATTACKS: readonly Attack[] = [
  frameAttack({
    id: "length-2^63",
    attack: "binary frame header announcing 2^63 bytes (the forbidden top bit), then 64 KiB",
    expected: "close 1002 (or 1009) at once, nothing allocated: peak RSS flat",
    codes: [1002, 1009],
    bytes: () => lyingFrame(1n << 63n, 64 * 1024),
  }),
  frameAttack({
    id: "length-2^63-1",
    attack: "binary frame header announcing 2^63-1 bytes, then 64 KiB",
    expected: "close 1009 at once, nothing allocated: peak RSS flat",
    codes: [1009],
    bytes: () => lyingFrame((1n << 63n) - 1n, 64 * 1024),
  }),
  frameAttack({
    id: "length-4gib",
    attack: "binary frame header announcing 4 GiB, then 64 KiB",
    expected: "close 1009 at once, nothing allocated: peak RSS flat",
    codes: [1009],
    bytes: () => lyingFrame(1n << 32n, 64 * 1024),
  }),
  frameAttack({
    id: "empty-continuations",
    attack: "text frame with FIN=0 and 5000 empty continuation frames, never finished",
    expected: "close 1009 once the fragment cap (1024 frames) is passed; peak RSS flat",
    codes: [1009],
    bytes: () => endlessFragments(OPCODE.Text, 0, 5000),
  }),
  frameAttack({
    id: "one-byte-continuations",
    attack: "binary frame with FIN=0 and 5000 one-byte continuation frames, never finished",
    expected: "close 1009 once the fragment cap (1024 frames) is passed; peak RSS flat",
    codes: [1009],
    bytes: () => endlessFragments(OPCODE.Binary, 1, 5000),
  }),
];
