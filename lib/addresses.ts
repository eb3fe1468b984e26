import * as ipaddr from "ipaddr.js";

/** Tailscale assigns node addresses from these ranges: CGNAT IPv4 and its ULA IPv6 prefix. */
const TAILSCALE_RANGES: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [ipaddr.parseCIDR("100.64.0.0/10"), ipaddr.parseCIDR("fd7a:115c:a1e0::/48")];

/**
 * The same two ranges as RE2 patterns, for the API server's CEL (no IP library
 * there): a dotted-quad IPv4 in 100.64.0.0/10, and (lower-cased) an address in
 * fd7a:115c:a1e0::/48. test/admission/exit-node-regex.test.ts holds them to
 * isTailscaleAddress.
 */
export const TAILSCALE_IPV4_PATTERN = "^100\\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){2}$";
/** The five groups after the /48 prefix: written out, or with one "::" standing for at least one zero group. */
const IPV6_TAIL = [
    "(:[0-9a-f]{1,4}){5}",
    ...[0, 1, 2, 3, 4].flatMap((before) =>
        Array.from({ length: 5 - before }, (_, after) => `(:[0-9a-f]{1,4}){${before}}::${after === 0 ? "" : `[0-9a-f]{1,4}(:[0-9a-f]{1,4}){${after - 1}}`}`),
    ),
];
export const TAILSCALE_IPV6_PATTERN = `^fd7a:115c:a1e0(${IPV6_TAIL.join("|")})$`;

/** True for a literal IPv4 (four decimal parts) or IPv6 address: no CIDR, no hostname. */
export function isIpAddress(value: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(value) || ipaddr.IPv6.isValid(value);
}

/** True when `value` is an IP address inside one of Tailscale's address ranges. */
export function isTailscaleAddress(value: string): boolean {
    // The patterns' spellings only: no zone (fd7a:115c:a1e0::1%eth0, never a peer's address) and no
    // embedded IPv4 form, which admission's regular expressions cannot read either.
    if (!isIpAddress(value) || !(new RegExp(TAILSCALE_IPV4_PATTERN).test(value) || new RegExp(TAILSCALE_IPV6_PATTERN).test(value.toLowerCase()))) return false;
    const addr = ipaddr.parse(value);
    return TAILSCALE_RANGES.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));
}

/** One spelling per address, so `fd7a:115c:a1e0::1` and its long form compare equal. */
export function normalizeAddress(value: string): string {
    return ipaddr.parse(value).toNormalizedString();
}
