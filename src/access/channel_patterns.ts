/**
 * Channel patterns of a token's `relay` claim: `room-*`, `*`, `team:*:chat`. `*` matches any run of
 * characters (the empty one included); every other character matches only itself. No regular expression is
 * built from the pattern, so a pattern can neither inject syntax nor backtrack: a pattern is split at its `*`s
 * once, and a match is a prefix test, a suffix test and one left-to-right `indexOf` per middle piece.
 * @module
 */

/** One pattern, split at its wildcards. */
interface CompiledPattern {
  /** The whole pattern when it has no `*`: an exact channel name. */
  readonly exact: string | null;
  readonly prefix: string;
  readonly suffix: string;
  /** The non-empty pieces between wildcards, in order. */
  readonly middle: readonly string[];
  /** The shortest channel name the pattern can match. */
  readonly minLength: number;
}

function compile(pattern: string): CompiledPattern {
  const pieces = pattern.split("*");
  if (pieces.length === 1) return { exact: pattern, prefix: "", suffix: "", middle: [], minLength: 0 };
  const prefix = pieces[0];
  const suffix = pieces[pieces.length - 1];
  const middle = pieces.slice(1, -1).filter((piece) => piece !== "");
  const minLength = prefix.length + suffix.length + middle.reduce((sum, piece) => sum + piece.length, 0);
  return { exact: null, prefix, suffix, middle, minLength };
}

/**
 * Greedy matching is exact for `*`-only globs: taking the leftmost occurrence of each middle piece leaves the
 * most room for the pieces after it, so if any placement works, the leftmost one does.
 */
function matches(p: CompiledPattern, channel: string): boolean {
  if (p.exact !== null) return channel === p.exact;
  if (channel.length < p.minLength || !channel.startsWith(p.prefix) || !channel.endsWith(p.suffix)) {
    return false;
  }
  const end = channel.length - p.suffix.length;
  let at = p.prefix.length;
  for (const piece of p.middle) {
    const found = channel.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/**
 * A list of channel patterns, compiled once (when a token is verified) and matched without allocating.
 *
 * @example
 * ```ts
 * const rooms = new ChannelPatterns(["room-*", "lobby"]);
 * rooms.matches("room-1"); // true
 * rooms.matches("lobby-2"); // false
 * ```
 */
export class ChannelPatterns {
  readonly #patterns: readonly CompiledPattern[];
  readonly #any: boolean;

  constructor(patterns: readonly string[]) {
    this.#patterns = patterns.map(compile);
    this.#any = patterns.some((p) => /^\*+$/.test(p));
  }

  /** True when at least one pattern matches the whole of `channel`. */
  matches(channel: string): boolean {
    if (this.#any) return true;
    for (const pattern of this.#patterns) {
      if (matches(pattern, channel)) return true;
    }
    return false;
  }
}
