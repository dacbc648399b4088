/**
 * Channel names, as the external contract defines them: 1–128 characters of `A–Z a–z 0–9 . _ : -`.
 * @module
 */

/** Longest channel name, in characters. */
export const MAX_CHANNEL_NAME_LENGTH = 128;

/** True when `name` is a valid channel name (1–128 characters of `A–Z a–z 0–9 . _ : -`). */
export function isValidChannelName(name: string): boolean {
  const length = name.length;
  if (length === 0 || length > MAX_CHANNEL_NAME_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2e || c === 0x5f || c === 0x3a || c === 0x2d; // . _ : -
    if (!ok) return false;
  }
  return true;
}
