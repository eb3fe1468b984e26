import * as ipaddr from "ipaddr.js";

/** Tailscale assigns node addresses from these ranges: CGNAT IPv4 and its ULA IPv6 prefix. */
const TAILSCALE_RANGES: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [ipaddr.parseCIDR("100.64.0.0/10"), ipaddr.parseCIDR("fd7a:115c:a1e0::/48")];

/** True for a literal IPv4 (four decimal parts) or IPv6 address: no CIDR, no hostname. */
export function isIpAddress(value: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(value) || ipaddr.IPv6.isValid(value);
}

/** True when `value` is an IP address inside one of Tailscale's address ranges. */
export function isTailscaleAddress(value: string): boolean {
    if (!isIpAddress(value)) return false;
    const addr = ipaddr.parse(value);
    return TAILSCALE_RANGES.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));
}

/** One spelling per address, so `fd7a:115c:a1e0::1` and its long form compare equal. */
export function normalizeAddress(value: string): string {
    return ipaddr.parse(value).toNormalizedString();
}
