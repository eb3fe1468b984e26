import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser";
import { GATEWAY_DEFAULTS } from "./gateway-workload";

/** Tailscale's limits on an auth key's lifetime, in days. */
export const KEY_EXPIRY_DAYS = { min: 1, max: 90 } as const;

/** What the egress gateway needs from the tailnet policy. */
export interface GatewayTailnetNeeds {
    /** Tag the gateway's ephemeral nodes join with. @default "tag:k8s-egress" */
    gatewayTag: string;
    /** Tag of the exit node (tethys), whose exit routes are approved automatically. @default "tag:exit-node" */
    exitNodeTag: string;
    /** Who may assign both tags. @default ["autogroup:admin"] */
    tagOwners: string[];
}

export const TAILNET_DEFAULTS: GatewayTailnetNeeds = { gatewayTag: "tag:k8s-egress", exitNodeTag: "tag:exit-node", tagOwners: ["autogroup:admin"] };

export type Policy = Record<string, unknown> & {
    tagOwners?: Record<string, string[]>;
    autoApprovers?: Record<string, unknown> & { exitNode?: string[] };
    grants?: unknown[];
    tests?: unknown[];
};

/** Reads a HuJSON policy file (comments and trailing commas allowed); errors name the file and offset. */
export function parseHujson(text: string, file: string): Policy {
    const errors: ParseError[] = [];
    const value = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
    if (errors.length > 0) {
        const e = errors[0];
        const line = text.slice(0, e.offset).split("\n").length;
        throw new Error(`${file}:${line}: not valid HuJSON (${printParseErrorCode(e.error)})`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${file}: the policy must be a JSON object`);
    return value as Policy;
}

/** a's items, then b's not already there. */
export const union = (a: readonly string[] | undefined, b: readonly string[]) => [...new Set([...(a ?? []), ...b])];

/** list's items, then each of items not already there (compared as JSON): merging twice changes nothing. */
export function appendOnce(list: readonly unknown[] | undefined, items: readonly unknown[]): unknown[] {
    const seen = new Set((list ?? []).map((x) => JSON.stringify(x)));
    return [...(list ?? []), ...items.filter((i) => !seen.has(JSON.stringify(i)) && seen.add(JSON.stringify(i)))];
}

/**
 * The operators' policy plus what the gateway needs, with nothing of theirs
 * dropped: tag owners for both tags, exit-node auto-approval for the exit
 * node's tag, a grant from the gateway's tag to the internet (through exit
 * nodes), and policy tests that fail the update if that access changes.
 * Applying the same needs twice changes nothing.
 */
export function withGatewayAccess(base: Policy, needs: GatewayTailnetNeeds): Policy {
    const grant = { src: [needs.gatewayTag], dst: ["autogroup:internet"], ip: ["*"] };
    const test = { src: needs.gatewayTag, deny: [`${needs.exitNodeTag}:22`, `${needs.gatewayTag}:${GATEWAY_DEFAULTS.proxyPort}`] };
    return {
        ...base,
        tagOwners: {
            ...base.tagOwners,
            [needs.gatewayTag]: union(base.tagOwners?.[needs.gatewayTag], needs.tagOwners),
            [needs.exitNodeTag]: union(base.tagOwners?.[needs.exitNodeTag], needs.tagOwners),
        },
        autoApprovers: { ...base.autoApprovers, exitNode: union(base.autoApprovers?.exitNode, [needs.exitNodeTag]) },
        grants: appendOnce(base.grants, [grant]),
        tests: appendOnce(base.tests, [test]),
    };
}

/** The gateway's auth key: tagged, ephemeral (nodes leave with their pods), reusable by both replicas. */
export function gatewayKeyArgs(needs: GatewayTailnetNeeds, expiryDays: number = KEY_EXPIRY_DAYS.max) {
    if (expiryDays < KEY_EXPIRY_DAYS.min || expiryDays > KEY_EXPIRY_DAYS.max) {
        throw new Error(`tailnet key expiry must be ${KEY_EXPIRY_DAYS.min} to ${KEY_EXPIRY_DAYS.max} days (Tailscale's limit), got ${expiryDays}`);
    }
    return {
        reusable: true,
        ephemeral: true,
        preauthorized: true,
        tags: [needs.gatewayTag],
        expiry: expiryDays * 24 * 60 * 60,
        recreateIfInvalid: "always",
        description: "oceanid egress gateway",
    };
}
