// The gate's memory between polls, on the gate's own clock: Lease renewals and the settle window.
import { describe, expect, it } from "vitest";
import { healthySince, leaseUnchangedSeconds, settled, trackLease } from "../../components/health/gate-settle";

const SINCE = new Date("2026-03-02T10:00:00Z");
/** A time `s` seconds after the change, on any clock. */
const at = (s: number) => new Date(SINCE.getTime() + s * 1000);

describe("trackLease", () => {
    it("follows nothing until the Lease is renewed after the change", () => {
        expect(trackLease(undefined, undefined, SINCE, at(1))).toBeUndefined();
        expect(trackLease(undefined, at(-5), SINCE, at(1))).toBeUndefined();
        expect(trackLease(undefined, SINCE, SINCE, at(1))).toBeUndefined();
    });

    it("counts from when the gate first saw a renewTime, by the gate's clock (the node's may be off)", () => {
        // The node's clock runs an hour ahead: only the gate's clock measures.
        const first = trackLease(undefined, at(3600), SINCE, at(2));
        expect(first).toEqual({ renewTime: at(3600).getTime(), firstSeenAt: at(2).getTime() });
        const same = trackLease(first, at(3600), SINCE, at(30));
        expect(same).toBe(first);
        expect(leaseUnchangedSeconds(same, at(30))).toBe(28);
        expect(leaseUnchangedSeconds(same, at(43.9))).toBe(41);
        const renewed = trackLease(same, at(3610), SINCE, at(44));
        expect(leaseUnchangedSeconds(renewed, at(44))).toBe(0);
        expect(leaseUnchangedSeconds(undefined, at(44))).toBeUndefined();
    });

    it("starts again when the Lease falls back before the change", () => {
        const first = trackLease(undefined, at(3), SINCE, at(4));
        expect(trackLease(first, at(-1), SINCE, at(6))).toBeUndefined();
    });
});

describe("the settle window", () => {
    it("starts at the first healthy poll and restarts at any unhealthy one", () => {
        let from = healthySince(undefined, true, at(0));
        expect(from).toBe(at(0).getTime());
        from = healthySince(from, true, at(2));
        expect(from).toBe(at(0).getTime());
        expect(settled(from, 10, at(8))).toBe(false);
        expect(settled(from, 10, at(10))).toBe(true);
        from = healthySince(from, false, at(12));
        expect(from).toBeUndefined();
        expect(settled(from, 0, at(12))).toBe(false);
        from = healthySince(from, true, at(14));
        expect(settled(from, 0, at(14))).toBe(true);
        expect(settled(from, 10, at(22))).toBe(false);
    });
});
