// The admission CEL checks exit nodes with regular expressions (the API
// server's CEL has no IP library here); the pack uses ipaddr.js. They must agree.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTailscaleAddress, TAILSCALE_IPV4_PATTERN, TAILSCALE_IPV6_PATTERN } from "../../lib/addresses";

const regexSays = (v: string) => new RegExp(TAILSCALE_IPV4_PATTERN).test(v) || new RegExp(TAILSCALE_IPV6_PATTERN).test(v.toLowerCase());

describe("Tailscale address regexes agree with ipaddr.js", () => {
    it("on every IPv4 address near and inside 100.64.0.0/10", () => {
        fc.assert(
            fc.property(fc.integer({ min: 98, max: 102 }), fc.integer({ min: 96, max: 130 }), fc.nat(255), fc.nat(255), (a, b, c, d) => {
                const ip = `${a}.${b}.${c}.${d}`;
                expect(regexSays(ip)).toBe(isTailscaleAddress(ip));
            }),
            { numRuns: 2000 },
        );
    });

    it("on IPv6 addresses in and out of fd7a:115c:a1e0::/48", () => {
        const group = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
        fc.assert(
            fc.property(
                fc.constantFrom("fd7a:115c:a1e0", "fd7a:115c:a1e1", "fd7b:115c:a1e0", "FD7A:115C:A1E0"),
                fc.array(group, { minLength: 1, maxLength: 5 }),
                fc.boolean(),
                (prefix, rest, compress) => {
                    const ip = compress ? `${prefix}::${rest.join(":")}` : `${prefix}:${[...rest, ...Array(5 - rest.length).fill("0")].join(":")}`;
                    expect(regexSays(ip)).toBe(isTailscaleAddress(ip));
                },
            ),
            { numRuns: 1000 },
        );
    });

    it("on the usual mistakes", () => {
        for (const v of ["srv712429", "srv712429-oceanid", "157.173.210.123", "100.121.150.65.", "100.121.150", "1oo.121.150.65", "100.121.150.065"]) {
            expect(regexSays(v), v).toBe(isTailscaleAddress(v));
        }
    });

    it("on every IPv6 spelling: a zone, an embedded IPv4 form, too many groups, a bare prefix (both refuse), the long and short forms (both accept)", () => {
        for (const v of [
            "fd7a:115c:a1e0::1%eth0",
            "fd7a:115c:a1e0::100.64.0.1",
            "fd7a:115c:a1e0:::",
            "fd7a:115c:a1e0::1:2:3:4:5",
            "fd7a:115c:a1e0:1:2:3:4:5:6",
            "fd7a:115c:a1e0",
        ]) {
            expect([v, regexSays(v), isTailscaleAddress(v)]).toEqual([v, false, false]);
        }
        for (const v of [
            "fd7a:115c:a1e0::1",
            "fd7a:115c:a1e0::",
            "fd7a:115c:a1e0:ab12:4843:cd96:6258:b240",
            "FD7A:115C:A1E0:0:0:0:0:1",
            "fd7a:115c:a1e0:1::2:3:4",
        ]) {
            expect([v, regexSays(v), isTailscaleAddress(v)]).toEqual([v, true, true]);
        }
    });
});
