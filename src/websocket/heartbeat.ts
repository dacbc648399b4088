/**
 * One shared timer pings every open connection: an idle connection costs a Set entry, not a timer.
 * @module
 */

/** What the heartbeat visits once per interval (a WebSocket connection). */
export interface HeartbeatMember {
  /** Drop the peer if it stayed silent since the last beat, else ping it. */
  heartbeat(): void;
}

const shared = new Map<number, Heartbeat>();

/**
 * Visits its members every `intervalMs` with a single `setInterval`, which runs only while there are members,
 * so an idle process keeps no timer alive.
 * @example
 * ```ts
 * const heartbeat = Heartbeat.shared(30_000);
 * heartbeat.add(connection); // the connection removes itself when it closes
 * ```
 */
export class Heartbeat {
  /** Milliseconds between beats; 0 = never on its own (call {@link Heartbeat.tick} by hand). */
  readonly intervalMs: number;
  readonly #members = new Set<HeartbeatMember>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** The process-wide heartbeat for an interval, created on first use. */
  static shared(intervalMs: number): Heartbeat {
    let heartbeat = shared.get(intervalMs);
    if (heartbeat === undefined) shared.set(intervalMs, heartbeat = new Heartbeat(intervalMs));
    return heartbeat;
  }

  /** Members currently visited. */
  get size(): number {
    return this.#members.size;
  }

  add(member: HeartbeatMember): void {
    this.#members.add(member);
    if (this.#timer === undefined && this.intervalMs > 0) {
      this.#timer = setInterval(() => this.tick(), this.intervalMs);
    }
  }

  delete(member: HeartbeatMember): void {
    this.#members.delete(member);
    if (this.#members.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** One beat: visits every member once (members may leave during the visit). */
  tick(): void {
    for (const member of this.#members) member.heartbeat();
  }
}
