/**
 * Who may do what: tokens and their channel permissions, the Origin policy and CORS, rate limits, connection
 * caps, and the secure headers every response carries.
 * @module
 */
export {
  type Authenticator,
  type AuthResult,
  DEFAULT_CLOCK_SKEW_MS,
  extractToken,
  OPEN_ACCESS,
  OPEN_AUTHENTICATOR,
  type Permissions,
  TokenVerifier,
  type TokenVerifierOptions,
  watchExpiry,
} from "./auth.ts";
export { ChannelPatterns } from "./channel_patterns.ts";
export { ConnectionLimiter, type ConnectionRefuser } from "./connection_limits.ts";
export { corsPolicy } from "./cors.ts";
export { originPolicy, type OriginPolicyOptions, type OriginVerdict } from "./origin.ts";
export { hostname, hostPolicy } from "./allowed_hosts.ts";
export { type ForwardedInfo, normalizeAddress, ownOriginOf, TrustedProxies } from "./trusted_proxy.ts";
export { AddressRateLimiter, monotonicNow, TokenBucket } from "./rate_limit.ts";
export { API_CSP, securityHeaderList } from "./secure_headers.ts";
