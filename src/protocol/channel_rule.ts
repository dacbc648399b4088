/**
 * The channel-name rule as clients are told it (the check itself is `isValidChannelName` in pubsub).
 * @module
 */

/** The message every refusal of a channel name carries (HTTP 400 `bad_channel`, envelope `bad_channel`). */
export const CHANNEL_RULE = "channel names are 1-128 characters of A-Z a-z 0-9 . _ : -";
