/**
 * The gate's memory between polls: whether the node's Lease keeps being renewed, and how long the
 * node has been healthy without a break. Pure: the gate (gate.ts) feeds it each poll's time and
 * what it saw. Every duration here is measured by the gate's own clock, so the skew between the
 * node and the machine running the gate does not matter.
 */

/** The last renewTime seen after the change, and when (by the gate's clock) it was first seen. */
export interface LeaseTrack {
    renewTime: number;
    firstSeenAt: number;
}

/**
 * Follows the Lease's renewTime across polls. Until it is renewed after `since` there is nothing to
 * follow (the gate reports that on its own); from then on a new value restarts the count.
 */
export function trackLease(previous: LeaseTrack | undefined, renewTime: Date | undefined, since: Date, now: Date): LeaseTrack | undefined {
    if (renewTime === undefined || renewTime.getTime() <= since.getTime()) return undefined;
    if (previous !== undefined && previous.renewTime === renewTime.getTime()) return previous;
    return { renewTime: renewTime.getTime(), firstSeenAt: now.getTime() };
}

/** Whole seconds the tracked renewTime has stayed the same; undefined while nothing is tracked. */
export function leaseUnchangedSeconds(track: LeaseTrack | undefined, now: Date): number | undefined {
    return track === undefined ? undefined : Math.max(0, Math.floor((now.getTime() - track.firstSeenAt) / 1000));
}

/**
 * Since when every poll has been healthy (epoch ms), or undefined after an unhealthy one: the
 * settle window restarts at any unhealthy poll.
 */
export function healthySince(previous: number | undefined, healthy: boolean, now: Date): number | undefined {
    if (!healthy) return undefined;
    return previous ?? now.getTime();
}

/** Whether the node has been healthy for the whole settle window. */
export function settled(since: number | undefined, settleSeconds: number, now: Date): boolean {
    return since !== undefined && now.getTime() - since >= settleSeconds * 1000;
}
