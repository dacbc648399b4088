/**
 * Opening handshake (RFC 6455 §4.1, §4.2): what the server must accept (token lists, any letter case) and
 * refuse (bad or missing key, wrong version, missing Upgrade/Connection, other methods, HTTP/1.0), and the
 * exact `Sec-WebSocket-Accept`.
 * @module
 */
import { caseList } from "../case.ts";
import type { CaseContext } from "../context.ts";
import { encodeFrame, OPCODE } from "../frame.ts";
import { closeNormally, expectMessage } from "../expect.ts";
import {
  checkSwitchingProtocols,
  encodeRequest,
  hasToken,
  randomKey,
  readResponseHead,
  type RequestParts,
  type ResponseHead,
  upgradeHeaders,
} from "../http.ts";
import { utf8 } from "../payloads.ts";
import { WsClient } from "../ws_client.ts";

const { cases, add } = caseList("handshake");

/** The key and accept value from RFC 6455 §1.3. */
const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** Sends a valid upgrade request as `change` alters it (fresh channel path unless given), reads the head. */
async function exchange(
  t: CaseContext,
  change: (headers: Record<string, string | null>) => Partial<RequestParts> | void,
  key: string = randomKey(),
): Promise<{ head: ResponseHead; client: WsClient }> {
  const socket = await t.connect();
  const headers: Record<string, string | null> = upgradeHeaders(t.host, key);
  const parts = change(headers) ?? {};
  await socket.write(encodeRequest({ path: `/ws/${t.freshChannel()}`, headers, ...parts }));
  const head = await readResponseHead(socket, t.deadline);
  if (typeof head === "string") t.fail(head);
  return { head, client: new WsClient(socket, (reason) => t.fail(reason)) };
}

/** Fails on 101 or 5xx; `expected` passes, another 4xx is non-strict. */
function expectRefusal(t: CaseContext, head: ResponseHead, expected: readonly number[]) {
  const want = expected.join(" or ");
  if (expected.includes(head.status)) return;
  if (head.status >= 400 && head.status < 500) return t.nonStrict(`expected ${want}, got ${head.status}`);
  t.fail(`expected ${want}, got ${head.status}`);
}

/** Expects a 101 for `key`, then checks the connection echoes a message. */
async function expectUpgradeWorks(t: CaseContext, head: ResponseHead, client: WsClient, key: string) {
  const problem = checkSwitchingProtocols(head, key);
  if (problem) t.fail(problem);
  await client.send({ opcode: OPCODE.Text, payload: utf8("hello") });
  await expectMessage(t, client, OPCODE.Text, utf8("hello"));
  await closeNormally(t, client);
}

add("a valid upgrade gets 101 with the Sec-WebSocket-Accept of RFC 6455 §1.3", async (t) => {
  const { head, client } = await exchange(t, () => {}, RFC_KEY);
  if (head.headers.get("sec-websocket-accept") !== RFC_ACCEPT) {
    t.fail(`expected Sec-WebSocket-Accept ${RFC_ACCEPT}, got ${head.headers.get("sec-websocket-accept")}`);
  }
  await expectUpgradeWorks(t, head, client, RFC_KEY);
});

const REFUSED: { label: string; change: (h: Record<string, string | null>) => void; status: number[] }[] = [
  {
    label: "a request without Sec-WebSocket-Key",
    change: (h) => void (h["Sec-WebSocket-Key"] = null),
    status: [400],
  },
  {
    label: "a Sec-WebSocket-Key that is not base64",
    change: (h) => void (h["Sec-WebSocket-Key"] = "not base64 at all!!!!!=="),
    status: [400],
  },
  {
    label: "a Sec-WebSocket-Key of 15 bytes",
    change: (h) => void (h["Sec-WebSocket-Key"] = new Uint8Array(15).fill(65).toBase64()),
    status: [400],
  },
  {
    label: "a Sec-WebSocket-Key of 17 bytes",
    change: (h) => void (h["Sec-WebSocket-Key"] = new Uint8Array(17).fill(65).toBase64()),
    status: [400],
  },
  { label: "an empty Sec-WebSocket-Key", change: (h) => void (h["Sec-WebSocket-Key"] = ""), status: [400] },
  {
    label: "a request without Sec-WebSocket-Version",
    change: (h) => void (h["Sec-WebSocket-Version"] = null),
    status: [400, 426],
  },
  { label: "a request without an Upgrade header", change: (h) => void (h["Upgrade"] = null), status: [400] },
  { label: "Upgrade: h2c instead of websocket", change: (h) => void (h["Upgrade"] = "h2c"), status: [400] },
  {
    label: "a request without a Connection header",
    change: (h) => void (h["Connection"] = null),
    status: [400],
  },
  {
    label: "Connection: keep-alive without the upgrade token",
    change: (h) => void (h["Connection"] = "keep-alive"),
    status: [400],
  },
  { label: "a request without Host", change: (h) => void (h["Host"] = null), status: [400] },
];

for (const { label, change, status } of REFUSED) {
  add(`${label} gets ${status.join(" or ")} and no upgrade`, async (t) => {
    const { head } = await exchange(t, change);
    expectRefusal(t, head, status);
  });
}

for (const version of ["8", "12", "14"]) {
  add(`Sec-WebSocket-Version ${version} gets 426 with Sec-WebSocket-Version: 13`, async (t) => {
    const { head } = await exchange(t, (h) => void (h["Sec-WebSocket-Version"] = version));
    if (head.status !== 426) return expectRefusal(t, head, [426]);
    // RFC 6455 §4.2.2: the refusal names the versions the server understands.
    if (!hasToken(head.headers.get("sec-websocket-version"), "13")) {
      t.fail(
        `426 without "Sec-WebSocket-Version: 13" (got ${
          JSON.stringify(head.headers.get("sec-websocket-version"))
        })`,
      );
    }
  });
}

add("POST with upgrade headers gets no upgrade", async (t) => {
  const { head } = await exchange(t, () => ({ method: "POST" }));
  if (head.status === 101) t.fail("expected a 4xx, got 101");
  expectRefusal(t, head, [400, 404, 405]);
});

add("HTTP/1.0 with upgrade headers gets no upgrade", async (t) => {
  const { head } = await exchange(t, () => ({ httpVersion: "HTTP/1.0" }));
  if (head.status === 101) t.fail("expected a 4xx, got 101");
  expectRefusal(t, head, [400, 426, 505]);
});

add("Connection: keep-alive, Upgrade is accepted", async (t) => {
  const key = randomKey();
  const { head, client } = await exchange(t, (h) => void (h["Connection"] = "keep-alive, Upgrade"), key);
  await expectUpgradeWorks(t, head, client, key);
});

add("Upgrade: WebSocket and Connection: UPGRADE are accepted (tokens are case-insensitive)", async (t) => {
  const key = randomKey();
  const { head, client } = await exchange(t, (h) => {
    h["Upgrade"] = "WebSocket";
    h["Connection"] = "UPGRADE";
  }, key);
  await expectUpgradeWorks(t, head, client, key);
});

add("lower-case header names are accepted", async (t) => {
  const key = randomKey();
  const { head, client } = await exchange(t, (h) => ({
    headers: Object.fromEntries(Object.entries(h).map(([name, value]) => [name.toLowerCase(), value])),
  }), key);
  await expectUpgradeWorks(t, head, client, key);
});

add("unknown query parameters are ignored", async (t) => {
  const key = randomKey();
  const { head, client } = await exchange(t, () => ({ path: `/ws/${t.freshChannel()}?foo=bar&x=` }), key);
  await expectUpgradeWorks(t, head, client, key);
});

add("a frame sent in the same write as the request is processed after the 101", async (t) => {
  const payload = utf8("pipelined with the handshake");
  const ws = await t.open(encodeFrame({ opcode: OPCODE.Text, payload }));
  await expectMessage(t, ws, OPCODE.Text, payload);
  await closeNormally(t, ws);
});

export { cases };
