/**
 * The conservation checks, without I/O: what every envelope subscriber was told and given, per channel, and
 * what the publishers were acknowledged. A message is conserved when each subscriber gets every seq once and
 * in order, except across a gap announced with `recovered: false`; every seq carries one payload everywhere,
 * and an acknowledged publish reaches subscribers under the seq its ack named.
 * @module
 */

/** A `subscribed` frame of the envelope protocol (`docs/protocol.md`). */
export interface SubscribedFrame {
  channel: string;
  seq: number;
  epoch: string;
  recovered: boolean;
}

/** Counts of everything that went wrong (all zero in a conserving relay) and of what is allowed. */
export interface LedgerTotals {
  /** Messages handed to subscribers. */
  delivered: number;
  /** A seq a subscriber had already received (same epoch). */
  duplicates: number;
  /** A seq below the next expected one that the subscriber had not received (it came after a later one). */
  reorders: number;
  /** A seq above the next expected one with no `recovered: false` in between. */
  silentGaps: number;
  /** `recovered: false` frames: allowed, the client knows to resync. */
  announcedGaps: number;
  /** `recovered: true` in another epoch than the one the subscriber resumed from. */
  crossEpochRecoveries: number;
  /** Two payloads for one (channel, epoch, seq), or one payload under two seqs. */
  payloadConflicts: number;
  acks: number;
  /** Acknowledged publishes delivered under another seq than their ack named. */
  ackSeqMismatches: number;
  /**
   * Acknowledged publishes no subscriber received. Not a failure by itself: with no silent gap and every
   * subscriber caught up at the end, each subscriber was told of a gap over it (a publish stored just after
   * Redis came back, while every subscriber was resuming from the lost lineage).
   */
  acksNeverDelivered: number;
  /** Acknowledged publishes a subscriber skipped although it received messages before and after them. */
  acksMissed: number;
}

/** Where one subscriber stands on one channel. */
export interface ChannelPosition {
  /** Unknown before its first `subscribed`. */
  epoch: string | undefined;
  /** The next seq it expects. */
  expect: number;
}

interface ChannelTrack extends ChannelPosition {
  /** Seqs received, per epoch. */
  received: Map<string, Set<number>>;
}

const PROBLEM_EXAMPLES = 20;

/** Everything seen in one run. */
export class Ledger {
  readonly totals: LedgerTotals = {
    delivered: 0,
    duplicates: 0,
    reorders: 0,
    silentGaps: 0,
    announcedGaps: 0,
    crossEpochRecoveries: 0,
    payloadConflicts: 0,
    acks: 0,
    ackSeqMismatches: 0,
    acksNeverDelivered: 0,
    acksMissed: 0,
  };
  /** The first problems, described, for the report. */
  readonly examples: string[] = [];
  /** `channel epoch seq` → payload, from every subscriber. */
  readonly #payloadAt = new Map<string, string>();
  /** `channel payload` → `epoch seq` it was delivered under. */
  readonly #placeOf = new Map<string, string>();
  readonly #acks: { channel: string; seq: number; text: string }[] = [];
  readonly #subscribers: SubscriberLedger[] = [];

  /** A new subscriber's ledger. */
  subscriber(name: string, channels: readonly string[]): SubscriberLedger {
    const ledger = new SubscriberLedger(this, name, channels);
    this.#subscribers.push(ledger);
    return ledger;
  }

  /** A publish was acknowledged (envelope `ack` or HTTP 200) with this seq. */
  acked(channel: string, seq: number, text: string): void {
    this.totals.acks++;
    this.#acks.push({ channel, seq, text });
  }

  problem(kind: keyof LedgerTotals, detail: string): void {
    this.totals[kind]++;
    if (this.examples.length < PROBLEM_EXAMPLES) this.examples.push(`${kind}: ${detail}`);
  }

  /** Records a delivered payload and checks it against every other delivery of the same seq or payload. */
  payload(channel: string, epoch: string, seq: number, text: string): void {
    const at = `${channel} ${epoch} ${seq}`;
    const known = this.#payloadAt.get(at);
    if (known === undefined) this.#payloadAt.set(at, text);
    else if (known !== text) this.problem("payloadConflicts", `${at}: ${JSON.stringify(known)} vs ${text}`);
    const key = `${channel} ${text}`;
    const place = this.#placeOf.get(key);
    const here = `${epoch} ${seq}`;
    if (place === undefined) this.#placeOf.set(key, here);
    else if (place !== here) this.problem("payloadConflicts", `${key} at ${place} and at ${here}`);
  }

  /** The checks that need the whole run: every ack against what subscribers received. */
  finish(): LedgerTotals {
    for (const ack of this.#acks) {
      const place = this.#placeOf.get(`${ack.channel} ${ack.text}`);
      if (place === undefined) {
        this.problem("acksNeverDelivered", `${ack.channel} seq ${ack.seq} ${ack.text}`);
        continue;
      }
      const [epoch, seq] = place.split(" ");
      if (Number(seq) !== ack.seq) {
        this.problem("ackSeqMismatches", `${ack.channel} ${ack.text} acked ${ack.seq}, delivered as ${seq}`);
        continue;
      }
      for (const subscriber of this.#subscribers) {
        if (subscriber.skipped(ack.channel, epoch, ack.seq)) {
          this.problem("acksMissed", `${subscriber.name} skipped ${ack.channel} ${ack.seq} (${ack.text})`);
        }
      }
    }
    return this.totals;
  }
}

/** One subscriber's view, across all its connections. */
export class SubscriberLedger {
  readonly name: string;
  readonly #run: Ledger;
  readonly #tracks = new Map<string, ChannelTrack>();
  /** Per `channel epoch`: the (after, upTo] ranges a `recovered: false` let it lack. */
  readonly #announced = new Map<string, [number, number][]>();

  constructor(run: Ledger, name: string, channels: readonly string[]) {
    this.#run = run;
    this.name = name;
    for (const channel of channels) {
      this.#tracks.set(channel, { epoch: undefined, expect: 1, received: new Map() });
    }
  }

  /** What to resume from: `since` and `epoch` for the next `subscribe`. */
  position(channel: string): ChannelPosition {
    const track = this.#track(channel);
    return { epoch: track.epoch, expect: track.expect };
  }

  subscribed(frame: SubscribedFrame): void {
    const track = this.#track(frame.channel);
    if (frame.recovered) {
      if (track.epoch !== undefined && track.expect > 1 && frame.epoch !== track.epoch) {
        this.#run.problem(
          "crossEpochRecoveries",
          `${this.name} ${frame.channel}: resumed in ${track.epoch}, told recovered in ${frame.epoch}`,
        );
      }
    } else {
      this.#run.totals.announcedGaps++;
      if (track.epoch !== undefined) {
        // What it may now lack: the rest of the old lineage, or the range up to the announced seq.
        const upTo = frame.epoch === track.epoch ? frame.seq : Infinity;
        this.#announce(frame.channel, track.epoch, track.expect - 1, upTo);
      }
      track.expect = frame.seq + 1;
    }
    track.epoch = frame.epoch;
  }

  message(channel: string, seq: number, text: string): void {
    const track = this.#track(channel);
    const epoch = track.epoch ?? "?";
    this.#run.totals.delivered++;
    let received = track.received.get(epoch);
    if (received === undefined) track.received.set(epoch, received = new Set());
    const where = `${this.name} ${channel} epoch ${epoch.slice(0, 8)}`;
    if (seq === track.expect) track.expect++;
    else if (seq < track.expect) {
      if (received.has(seq)) {
        this.#run.problem("duplicates", `${where}: seq ${seq} again (next ${track.expect})`);
      } else this.#run.problem("reorders", `${where}: seq ${seq} after ${track.expect - 1}`);
    } else {
      this.#run.problem("silentGaps", `${where}: ${track.expect}..${seq - 1} missing`);
      track.expect = seq + 1;
    }
    received.add(seq);
    this.#run.payload(channel, epoch, seq, text);
  }

  /** True when the subscriber received seqs below and above `seq` in `epoch` but not `seq` itself. */
  skipped(channel: string, epoch: string, seq: number): boolean {
    const received = this.#track(channel).received.get(epoch);
    if (received === undefined || received.has(seq)) return false;
    let below = false;
    let above = false;
    for (const s of received) {
      if (s < seq) below = true;
      else above = true;
      if (below && above) return !this.#announcedOver(channel, epoch, seq);
    }
    return false;
  }

  /** Checked at the end: the subscriber caught up with the channel's final state. */
  ended(channel: string, final: { epoch: string; seq: number }): boolean {
    const track = this.#track(channel);
    return track.epoch === final.epoch && track.expect - 1 === final.seq;
  }

  /** Remembers the range a `recovered: false` lets this subscriber lack. */
  #announce(channel: string, epoch: string, after: number, upTo: number): void {
    const key = `${channel} ${epoch}`;
    const list = this.#announced.get(key) ?? [];
    list.push([after, upTo]);
    this.#announced.set(key, list);
  }

  #announcedOver(channel: string, epoch: string, seq: number): boolean {
    return (this.#announced.get(`${channel} ${epoch}`) ?? []).some(([after, upTo]) =>
      seq > after && seq <= upTo
    );
  }

  #track(channel: string): ChannelTrack {
    const track = this.#tracks.get(channel);
    if (track === undefined) throw new Error(`not a channel of this run: ${channel}`);
    return track;
  }
}
