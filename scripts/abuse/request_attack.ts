/**
 * The shape shared by every attack that is one crafted request on a fresh connection: send it, read the
 * answer, check the status, whether the relay closed the connection, and how fast it answered.
 * @module
 */
import { type Attack, type AttackContext, Checks } from "./types.ts";
import { describeExchange, type Exchange, exchange } from "./wire.ts";

/** A malicious answer must still come at once: parsing is linear, so anything slower is a finding. */
export const FAST_MS = 500;
/** How long the relay may take to close a connection it refused. */
const CLOSE_MS = 2000;

/** One request attack. */
export interface RequestAttackSpec {
  id: string;
  attack: string;
  expected: string;
  /** The bytes to send (a whole request, possibly followed by a pipelined one). */
  request(ctx: AttackContext): Uint8Array;
  /** Acceptable statuses of the first response. */
  status: readonly number[];
  /**
   * After its one response the relay must close the connection and answer nothing else (true), or the
   * exchange ends after the first response (false: keep-alive responses and 101s).
   * @default true
   */
  closes?: boolean;
  /** The response must start within this many ms. @default FAST_MS */
  maxMs?: number;
  /** Further checks on the response. */
  check?(x: Exchange, checks: Checks, ctx: AttackContext): void;
}

/** Builds an {@link Attack} from a {@link RequestAttackSpec}. */
export function requestAttack(spec: RequestAttackSpec): Attack {
  const closes = spec.closes ?? true;
  const maxMs = spec.maxMs ?? FAST_MS;
  return {
    id: spec.id,
    attack: spec.attack,
    expected: spec.expected,
    timeoutMs: () => 8000,
    async run(ctx) {
      const x = await exchange(ctx.target, spec.request(ctx), { untilClose: closes, timeoutMs: 3000 });
      const checks = new Checks();
      if (x.statuses.length === 0) checks.problems.push("no response");
      else checks.oneOf("status", x.statuses[0], spec.status);
      checks.atMost("time to response", x.msToResponse, maxMs, "ms");
      if (closes) {
        checks.oneOf("responses on the connection", x.statuses.length, [1]);
        checks.atMost("time to close", x.msToClose, CLOSE_MS, "ms");
      }
      if (x.heads[0] !== undefined) spec.check?.(x, checks, ctx);
      return {
        observed: describeExchange(x),
        problems: checks.problems,
        metrics: {
          status: x.statuses[0] ?? null,
          responses: x.statuses.length,
          msToResponse: x.msToResponse,
          msToClose: x.msToClose,
          writeError: x.writeError ?? null,
        },
      };
    },
  };
}
