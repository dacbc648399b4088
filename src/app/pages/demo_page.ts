/**
 * `GET /`: the demo chat page, built on `/client.js`. Messages are rendered with `textContent`, never as HTML;
 * the script and the style carry the response's nonce, and nothing else on the page can run.
 * @module
 */

/** What the page is rendered with. */
export interface DemoPageOptions {
  /** The response's CSP nonce (base64: no character that needs escaping in an attribute). */
  nonce: string;
  /** Auth is on: the page asks for a token before it connects. */
  auth: boolean;
}

/** The page's HTML. */
export function demoPage({ nonce, auth }: DemoPageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edge Relay chat</title>
<style nonce="${nonce}">
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 42rem; padding: 1rem; }
  header { display: flex; gap: 1rem; flex-wrap: wrap; color: #555; }
  header b { color: #000; }
  #notice { background: #fff3cd; border: 1px solid #e0b000; padding: .5rem; }
  #messages { list-style: none; padding: 0; min-height: 12rem; }
  #messages li { padding: .2rem 0; border-bottom: 1px solid #eee; white-space: pre-wrap; overflow-wrap: anywhere; }
  .seq { color: #888; font-variant-numeric: tabular-nums; margin-right: .5rem; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; font: inherit; padding: .3rem; }
</style>
</head>
<body data-auth="${auth ? "on" : "off"}">
<h1>Edge Relay chat</h1>
<header>
  <span>channel <b id="channel"></b></span>
  <span>state <b id="state">connecting</b></span>
  <span>transport <b id="transport">none</b></span>
  <span>seq <b id="seq">-</b></span>
  <span id="sent"></span>
</header>
<p id="notice" role="alert" hidden></p>
<form id="login" hidden><input id="token" placeholder="token (JWT)" autocomplete="off"><button>Connect</button></form>
<ol id="messages"></ol>
<form id="send"><input id="text" placeholder="message" autocomplete="off"><button>Send</button></form>
<script type="module" nonce="${nonce}">
import { connect } from "/client.js";

const $ = (id) => document.getElementById(id);
const channel = new URLSearchParams(location.search).get("channel") || "lobby";
$("channel").textContent = channel;

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = false;
}

function show({ seq, text, binary }) {
  const item = document.createElement("li");
  item.dataset.seq = seq;
  const number = document.createElement("span");
  number.className = "seq";
  number.textContent = "#" + seq;
  // History items carry binary as base64, live ones as bytes.
  const size = typeof binary === "string" ? atob(binary).length : binary?.length;
  item.append(number, text ?? "[" + size + " bytes]");
  $("messages").append(item);
  $("seq").textContent = seq;
  item.scrollIntoView({ block: "nearest" });
}

async function start(token) {
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(channel)) {
    return notice("Channel names are 1-128 characters of A-Z a-z 0-9 . _ : -");
  }
  // What the channel already holds, then the live messages from right after it (the relay replays any gap).
  const position = {};
  try {
    const answer = await fetch("/channels/" + channel + "/messages?since=0", {
      headers: token ? { authorization: "Bearer " + token } : {},
    });
    if (answer.ok) {
      const history = await answer.json();
      history.messages.forEach((m) => show(m));
      position.since = history.messages.at(-1)?.seq ?? history.seq;
      position.epoch = history.epoch;
    }
  } catch { /* the subscription starts fresh */ }

  const relay = connect(location.origin, { token });
  globalThis.relay = relay; // to try it from the console: await relay.publish("lobby", "hi")
  relay.on("state", ({ state, final, code, reason }) => {
    $("state").textContent = state;
    $("transport").textContent = relay.transport ?? "none";
    if (final) notice("Disconnected for good (" + code + (reason ? ": " + reason : "") + "). Reload to retry.");
  });
  relay.on("error", ({ message }) => notice(message));
  const sub = relay.subscribe(channel, position);
  sub.on("subscribed", ({ recovered, resumed, seq, epoch }) => {
    if (resumed && !recovered) {
      notice("Some messages could not be recovered (the relay restarted or its history is shorter): " +
        "you see what came after seq " + seq + " of epoch " + epoch.slice(0, 8) + ".");
    }
  });
  sub.on("message", show);

  $("send").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (text === "") return;
    $("text").value = "";
    try {
      const { seq } = await relay.publish(channel, text);
      $("sent").textContent = "sent as #" + seq;
    } catch (error) {
      notice("Not sent (" + error.code + "): " + error.message);
    }
  });
}

if (document.body.dataset.auth === "on") {
  $("login").hidden = false;
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    $("login").hidden = true;
    start($("token").value.trim() || undefined);
  });
} else start();
</script>
</body>
</html>
`;
}
