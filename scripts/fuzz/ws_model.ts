/**
 * A reference model of RFC 6455 for the relay's raw mode (every message echoed to its sender): from the
 * client's frames it predicts the echoed messages, the pongs and the close codes the relay may answer with.
 * Where the RFC lets a receiver choose (a frame breaking two rules), every allowed code is accepted.
 * @module
 */
import { type FrameSpec, OPCODE } from "./ws_frames.ts";

/** What the relay must send back. */
export interface Expectation {
  messages: { opcode: number; payload: Uint8Array }[];
  pongs: Uint8Array[];
  /** Close codes the relay may answer with; null stands for a Close frame without a code. */
  closeCodes: (number | null)[];
  /** The client's frames end without a Close: the harness sends Close 1000 after them. */
  needsClose: boolean;
}

/** RFC 6455 §7.4.1 and the IANA registry: codes an endpoint may send in a Close frame. */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

const CLOSE = { ProtocolError: 1002, InvalidData: 1007, TooBig: 1009 } as const;

function validUtf8(bytes: Uint8Array, stream: boolean, decoder: TextDecoder): boolean {
  try {
    decoder.decode(bytes, { stream });
    return true;
  } catch {
    return false;
  }
}

/** The relay's expected answer to `frames`, for messages of at most `maxMessageBytes`. */
export function expectAnswer(frames: readonly FrameSpec[], maxMessageBytes: number): Expectation {
  const out: Expectation = { messages: [], pongs: [], closeCodes: [], needsClose: false };
  let message: { opcode: number; parts: Uint8Array[]; size: number; decoder: TextDecoder } | null = null;
  for (const f of frames) {
    // §5.2: every rule this frame header breaks, each a valid reason to fail the connection.
    const codes = new Set<number>();
    const control = f.opcode >= 8;
    if (f.rsv !== 0) codes.add(CLOSE.ProtocolError);
    if (![0, 1, 2, 8, 9, 10].includes(f.opcode)) codes.add(CLOSE.ProtocolError);
    if (!f.masked) codes.add(CLOSE.ProtocolError); // §5.1: a server must fail an unmasked client frame
    if (f.declaredLength >> 63n) codes.add(CLOSE.ProtocolError); // §5.2: the top bit must be 0
    if (control && (!f.fin || f.declaredLength > 125n)) codes.add(CLOSE.ProtocolError); // §5.5
    if (!control && f.opcode !== OPCODE.Continuation && message !== null) codes.add(CLOSE.ProtocolError); // §5.4
    if (f.opcode === OPCODE.Continuation && message === null) codes.add(CLOSE.ProtocolError);
    if (!control && f.declaredLength + BigInt(message?.size ?? 0) > BigInt(maxMessageBytes)) {
      codes.add(CLOSE.TooBig);
    }
    if (codes.size > 0) {
      out.closeCodes = [...codes];
      return out;
    }
    const p = f.payload;
    if (f.opcode === OPCODE.Close) {
      if (p.length === 0) out.closeCodes = [null, 1000];
      else if (p.length === 1) out.closeCodes = [CLOSE.ProtocolError];
      else {
        const code = (p[0] << 8) | p[1];
        const reasonOk = validUtf8(p.subarray(2), false, new TextDecoder("utf-8", { fatal: true }));
        if (!isValidCloseCode(code)) out.closeCodes.push(CLOSE.ProtocolError);
        if (!reasonOk) out.closeCodes.push(CLOSE.InvalidData);
        if (out.closeCodes.length === 0) out.closeCodes = [code]; // §5.5.1: echo the code
      }
      return out;
    }
    if (f.opcode === OPCODE.Ping) out.pongs.push(p);
    if (control) continue;
    message ??= {
      opcode: f.opcode,
      parts: [],
      size: 0,
      decoder: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }),
    };
    message.parts.push(p);
    message.size += p.length;
    // §8.1: fail as soon as the text can no longer become valid UTF-8 (the relay validates per fragment).
    if (message.opcode === OPCODE.Text && !validUtf8(p, !f.fin, message.decoder)) {
      out.closeCodes = [CLOSE.InvalidData];
      return out;
    }
    if (f.fin) {
      const payload = new Uint8Array(message.size);
      let at = 0;
      for (const part of message.parts) {
        payload.set(part, at);
        at += part.length;
      }
      out.messages.push({ opcode: message.opcode, payload });
      message = null;
    }
  }
  out.needsClose = true;
  out.closeCodes = [1000];
  return out;
}
