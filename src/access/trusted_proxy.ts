/**
 * `--trust-proxy`: which peers are reverse proxies whose forwarded headers the relay believes. Behind nginx
 * every client arrives from the proxy's address, so per-address caps, rate limits and logs would see one
 * client, and the own-origin check would see the proxy's scheme and host. From a listed proxy (and only from
 * one: anyone else could forge them), `X-Forwarded-For` names the client and `X-Forwarded-Proto` /
 * `X-Forwarded-Host` the origin the browser used.
 *
 * The client is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy: entries to its left
 * were written by the client and prove nothing (the rule of nginx's `real_ip_recursive` and Express's `trust
 * proxy` list).
 * @module
 */
import type { RequestInfo, StreamTaker, UpgradeHandler } from "../http/mod.ts";

/** Longest forwarded header read, in bytes: the head is bounded anyway, this bounds the split. */
const MAX_FORWARDED_HEADER_BYTES = 2048;

/** A `RequestInfo` whose client address and own origin come from a trusted proxy's headers. */
export interface ForwardedInfo extends RequestInfo {
  /** The proxy's own address (the peer of the TCP connection). */
  readonly proxyAddress: string;
  /** `scheme://host[:port]` the client used, when the proxy said; else absent. */
  readonly forwardedOrigin?: string;
}

/** `::ffff:192.0.2.1` → `192.0.2.1`, brackets and case dropped: one spelling per address. */
export function normalizeAddress(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  if (a.startsWith("::ffff:") && a.includes(".")) a = a.slice(7);
  return a;
}

/** The trusted proxies of one relay. */
export class TrustedProxies {
  readonly #trusted: ReadonlySet<string>;

  /** @param addresses the proxies' addresses (IPv4 or IPv6, exact). Empty: no header is ever trusted. */
  constructor(addresses: readonly string[]) {
    this.#trusted = new Set(addresses.map(normalizeAddress));
  }

  get enabled(): boolean {
    return this.#trusted.size > 0;
  }

  trusts(address: string): boolean {
    return this.#trusted.size > 0 && this.#trusted.has(normalizeAddress(address));
  }

  /** The client behind `peer`: from `X-Forwarded-For` when `peer` is trusted, else `peer` itself. */
  clientAddress(peer: string, forwardedFor: string | null): string {
    if (forwardedFor === null || !this.trusts(peer) || forwardedFor.length > MAX_FORWARDED_HEADER_BYTES) {
      return peer;
    }
    const hops = forwardedFor.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i]);
      if (!isAddress(hop)) return peer; // a garbled chain: believe none of it
      if (i === 0 || !this.#trusted.has(hop)) return hop;
    }
    return peer;
  }

  /**
   * The request's `info` as the app should see it: unchanged (the same object, no cost) unless the peer is a
   * trusted proxy that sent forwarded headers.
   */
  resolve(info: RequestInfo, headers: Headers): RequestInfo {
    if (!this.trusts(info.remoteAddress)) return info;
    const client = this.clientAddress(info.remoteAddress, headers.get("x-forwarded-for"));
    const origin = forwardedOrigin(
      headers.get("x-forwarded-proto"),
      headers.get("x-forwarded-host"),
      headers.get("host"),
    );
    if (client === info.remoteAddress && origin === undefined) return info;
    return new ForwardedRequestInfo(info, client, origin);
  }
}

/** `https` + `relay.example.com:8443` → `https://relay.example.com:8443`; undefined when neither is usable. */
function forwardedOrigin(
  proto: string | null,
  host: string | null,
  ownHost: string | null,
): string | undefined {
  // A proxy chain appends: the first value is the one the client used.
  const scheme = proto?.split(",")[0].trim().toLowerCase();
  const authority = (host ?? ownHost)?.split(",")[0].trim();
  if (scheme === undefined && host === null) return undefined;
  if (scheme !== undefined && scheme !== "http" && scheme !== "https") return undefined;
  // An authority only: a path, user info or space would let the header say more than a host and port.
  if (authority === undefined || !/^[A-Za-z0-9.\-_:\[\]]{1,255}$/.test(authority)) return undefined;
  try {
    return new URL(`${scheme ?? "http"}://${authority}`).origin;
  } catch {
    return undefined;
  }
}

function isAddress(text: string): boolean {
  return /^[0-9.]{7,15}$/.test(text) || (/^[0-9a-f:.]{2,45}$/.test(text) && text.includes(":"));
}

/** The proxy's `info` with the client's address and origin; everything else goes to the real one. */
class ForwardedRequestInfo implements ForwardedInfo {
  readonly #inner: RequestInfo;
  readonly remoteAddress: string;
  readonly proxyAddress: string;
  readonly forwardedOrigin?: string;

  constructor(inner: RequestInfo, client: string, origin: string | undefined) {
    this.#inner = inner;
    this.remoteAddress = client;
    this.proxyAddress = inner.remoteAddress;
    if (origin !== undefined) this.forwardedOrigin = origin;
  }

  get remotePort(): number {
    return this.#inner.remotePort;
  }

  get secure(): boolean {
    return this.#inner.secure;
  }

  get httpVersion(): "1.0" | "1.1" {
    return this.#inner.httpVersion;
  }

  upgrade(onUpgrade: UpgradeHandler): void {
    this.#inner.upgrade(onUpgrade);
  }

  onClose(listener: () => void): void {
    this.#inner.onClose(listener);
  }

  stream(taker: StreamTaker): void {
    this.#inner.stream(taker);
  }
}

/** The origin the client used: the forwarded one when a trusted proxy said, else the request URL's. */
export function ownOriginOf(info: RequestInfo | undefined, url: string): string {
  return (info as Partial<ForwardedInfo> | undefined)?.forwardedOrigin ?? new URL(url).origin;
}
