import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AddressRateLimiter, TokenBucket } from "../../src/access/mod.ts";

/** A clock the test moves by hand. */
function manualClock() {
  const clock = { now: 1000, read: () => clock.now };
  return clock;
}

function takeMany(bucket: TokenBucket, count: number): number {
  let allowed = 0;
  for (let i = 0; i < count; i++) if (bucket.take()) allowed++;
  return allowed;
}

describe("TokenBucket", () => {
  it("allows a burst of one second's worth, then refuses", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(100, clock.read);
    assert.equal(takeMany(bucket, 100), 100);
    assert.equal(bucket.take(), false);
  });

  it("refills at the configured rate", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(100, clock.read);
    takeMany(bucket, 100);
    clock.now += 50; // 5 tokens at 100 per second
    assert.equal(takeMany(bucket, 10), 5);
    clock.now += 1000;
    assert.equal(takeMany(bucket, 200), 100, "refilled to capacity, not beyond");
  });

  it("sustains a sender that stays under the rate indefinitely", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(1000, clock.read);
    for (let second = 0; second < 10; second++) {
      for (let i = 0; i < 900; i++) {
        assert.equal(bucket.take(), true);
        clock.now += 1000 / 900;
      }
    }
  });

  it("does not credit refused attempts: a sender hammering past the rate stays refused", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, clock.read);
    takeMany(bucket, 10);
    for (let i = 0; i < 50; i++) {
      clock.now += 10; // 0.1 token per attempt
      bucket.take();
    }
    // 500 ms passed: 5 tokens earned, and each whole token was spent as soon as it was there.
    assert.equal(takeMany(bucket, 10), 0);
    clock.now += 100;
    assert.equal(takeMany(bucket, 10), 1);
  });

  it("never refuses when the rate is 0 (limit off)", () => {
    const bucket = new TokenBucket(0, manualClock().read);
    assert.equal(takeMany(bucket, 100_000), 100_000);
  });
});

describe("AddressRateLimiter", () => {
  it("gives each address its own bucket and answers the seconds to wait past it", () => {
    const clock = manualClock();
    const limiter = new AddressRateLimiter(3, clock.read);
    assert.deepEqual([0, 1, 2, 3].map(() => limiter.take("192.0.2.1")), [0, 0, 0, 1]);
    assert.equal(limiter.take("192.0.2.2"), 0);
    clock.now += 400; // one token back at 3 per second
    assert.equal(limiter.take("192.0.2.1"), 0);
    assert.equal(limiter.take("192.0.2.1"), 1);
  });

  it("forgets addresses idle for a second once it sweeps, so the map stays bounded", () => {
    const clock = manualClock();
    const limiter = new AddressRateLimiter(10, clock.read);
    for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(limiter.size, 1000);
    clock.now += 10_000;
    limiter.take("192.0.2.9");
    assert.equal(limiter.size, 1);
  });

  it("admits everything with a rate of 0", () => {
    const limiter = new AddressRateLimiter(0);
    for (let i = 0; i < 10_000; i++) assert.equal(limiter.take("192.0.2.1"), 0);
    assert.equal(limiter.size, 0);
  });
});
