/**
 * Limits (RFC 6455 §10.4, §7.4.1 code 1009): the message size limit is enforced on frame headers, before a
 * payload is received or allocated, and impossible lengths (RFC 6455 §5.2: the 64-bit length's most
 * significant bit must be 0) fail with 1002. Uses the limit the server runs with (`maxMessageBytes`).
 * @module
 */
import { caseList, LARGE_CASE_TIMEOUT_MS } from "../case.ts";
import { encodeHeader, OPCODE, randomMaskKey } from "../frame.ts";
import { closeNormally, echoRoundTrip, expectFailure } from "../expect.ts";
import { binaryPayload, utf8 } from "../payloads.ts";
import type { CaseContext } from "../context.ts";
import type { WsClient } from "../ws_client.ts";

const { cases, add } = caseList("limits");

/** The largest message the "at the limit" case sends, whatever the server's limit. */
const AT_LIMIT_CAP_BYTES = 64 << 20;

/** Writes only a frame header announcing `length` and expects the server to fail before any payload. */
async function announce(
  t: CaseContext,
  ws: WsClient,
  opcode: number,
  length: bigint | number,
  code: number,
  nonStrictCodes: number[] = [],
) {
  await ws.write(encodeHeader({ opcode }, length, randomMaskKey()));
  await expectFailure(t, ws, code, { nonStrictCodes });
}

add(
  "a text frame announcing one byte over the limit fails with 1009 before its payload is sent",
  async (t) => {
    const ws = await t.open();
    await announce(t, ws, OPCODE.Text, t.settings.maxMessageBytes + 1, 1009);
  },
);

add(
  "a binary frame announcing one byte over the limit fails with 1009 before its payload is sent",
  async (t) => {
    const ws = await t.open();
    await announce(t, ws, OPCODE.Binary, t.settings.maxMessageBytes + 1, 1009);
  },
);

add(
  "a continuation frame taking the message over the limit fails with 1009 before its payload",
  async (t) => {
    const ws = await t.open();
    const first = binaryPayload(1024);
    await ws.send({ opcode: OPCODE.Binary, fin: false, payload: first });
    await announce(t, ws, OPCODE.Continuation, t.settings.maxMessageBytes - first.length + 1, 1009);
  },
);

add("a frame announcing 2^53 bytes fails with 1009", async (t) => {
  const ws = await t.open();
  await announce(t, ws, OPCODE.Binary, 2n ** 53n, 1009);
});

add("a 64-bit length with the most significant bit set fails with 1002", async (t) => {
  const ws = await t.open();
  // A server that checks the size limit first answers 1009: acceptable, but the length itself is illegal.
  await announce(t, ws, OPCODE.Binary, 2n ** 63n + 5n, 1002, [1009]);
});

add("a binary message of exactly the limit (at most 64 MiB) is echoed", async (t) => {
  const ws = await t.open();
  await echoRoundTrip(
    t,
    ws,
    OPCODE.Binary,
    binaryPayload(Math.min(t.settings.maxMessageBytes, AT_LIMIT_CAP_BYTES)),
  );
  await closeNormally(t, ws);
}, LARGE_CASE_TIMEOUT_MS);

add("the connection stays usable for small messages after a large one", async (t) => {
  const ws = await t.open();
  await echoRoundTrip(t, ws, OPCODE.Binary, binaryPayload(1 << 20));
  await echoRoundTrip(t, ws, OPCODE.Text, utf8("small after large"));
  await closeNormally(t, ws);
});

export { cases };
