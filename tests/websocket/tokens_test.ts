import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseExtensions, parseTokenList } from "../../src/websocket/tokens.ts";

describe("header token lists", () => {
  it("parseTokenList trims whitespace and drops empty elements", () => {
    assert.deepEqual(parseTokenList(" a ,\tb,, ,c "), ["a", "b", "c"]);
    assert.deepEqual(parseTokenList(""), []);
    assert.deepEqual(parseTokenList(null), []);
  });

  it("parseTokenList lower-cases only when asked", () => {
    assert.deepEqual(parseTokenList("keep-alive, Upgrade", true), ["keep-alive", "upgrade"]);
    assert.deepEqual(parseTokenList("Relay.V1"), ["Relay.V1"]);
  });

  it("parseTokenList treats __proto__ and constructor as plain tokens", () => {
    assert.deepEqual(parseTokenList("__proto__, constructor, toString"), [
      "__proto__",
      "constructor",
      "toString",
    ]);
  });

  it("parseTokenList handles 10,000 commas in well under 100 ms", () => {
    const value = ",".repeat(10000) + "upgrade" + ", x".repeat(10000);
    const started = performance.now();
    const tokens = parseTokenList(value, true);
    assert.ok(performance.now() - started < 100);
    assert.equal(tokens.length, 10001);
    assert.equal(tokens[0], "upgrade");
  });

  it("parseExtensions reads names and parameters, with and without values", () => {
    const offers = parseExtensions(
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-Foo",
    );
    assert.deepEqual(offers.map((o) => o.name), ["permessage-deflate", "x-foo"]);
    assert.deepEqual([...offers[0].params], [["client_max_window_bits", true], [
      "server_max_window_bits",
      "10",
    ]]);
    assert.equal(offers[1].params.size, 0);
  });

  it("parseExtensions unquotes values and keeps commas and semicolons inside quotes", () => {
    const offers = parseExtensions('x; a="1,2;3"; b = "q\\"d" , y');
    assert.deepEqual(offers.map((o) => o.name), ["x", "y"]);
    assert.deepEqual([...offers[0].params], [["a", "1,2;3"], ["b", 'q"d']]);
  });

  it("parseExtensions stores __proto__ parameters in a Map without touching prototypes", () => {
    const offers = parseExtensions("__proto__; __proto__=1; constructor");
    assert.equal(offers[0].name, "__proto__");
    assert.equal(offers[0].params.get("__proto__"), "1");
    assert.equal(offers[0].params.get("constructor"), true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("parseExtensions marks an offer whose parameter repeats, keeping the first value", () => {
    const [offer, other] = parseExtensions("x; a=1; b; a=2, y; a; b");
    assert.equal(offer.repeated, true);
    assert.equal(offer.params.get("a"), "1");
    assert.equal(other.repeated, false);
  });

  it("parseExtensions survives malformed input and 10,000 separators quickly", () => {
    assert.deepEqual(parseExtensions('=;"",;').length, 0);
    const started = performance.now();
    const offers = parseExtensions("a;".repeat(10000) + ",".repeat(10000) + '"'.repeat(1000));
    assert.ok(performance.now() - started < 100);
    assert.equal(offers.length, 1);
  });
});
