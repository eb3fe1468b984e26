import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gatewayKeyArgs, parseHujson, TAILNET_DEFAULTS, withGatewayAccess } from "../../components/network/tailnet-policy";
import { ROOT } from "../helpers/stack-file";

const base = () => parseHujson(readFileSync(join(ROOT, "tailnet", "policy.hujson"), "utf8"), "tailnet/policy.hujson");

describe("the tailnet policy", () => {
    it("keeps every rule of the operators' file and adds the gateway's", () => {
        const before = base();
        const after = withGatewayAccess(before, TAILNET_DEFAULTS);
        expect(after.ssh).toEqual(before.ssh);
        expect(after.grants).toEqual([...(before.grants as unknown[]), { src: ["tag:k8s-egress"], dst: ["autogroup:internet"], ip: ["*"] }]);
        expect(after.tagOwners).toEqual({ "tag:exit-node": ["autogroup:admin"], "tag:k8s-egress": ["autogroup:admin"] });
        expect(after.autoApprovers).toEqual({ exitNode: ["tag:exit-node"] });
        expect(after.tests).toEqual([{ src: "tag:k8s-egress", deny: ["tag:exit-node:22", "tag:k8s-egress:1055"] }]);
    });

    it("is idempotent: applying it to its own output changes nothing", () => {
        const once = withGatewayAccess(base(), TAILNET_DEFAULTS);
        expect(withGatewayAccess(once, TAILNET_DEFAULTS)).toEqual(once);
    });

    it("merges into existing tag owners and auto-approvers instead of replacing them", () => {
        const merged = withGatewayAccess(
            { tagOwners: { "tag:exit-node": ["group:ops"] }, autoApprovers: { exitNode: ["tag:other"], routes: { "10.0.0.0/8": ["tag:r"] } } },
            TAILNET_DEFAULTS,
        );
        expect(merged.tagOwners!["tag:exit-node"]).toEqual(["group:ops", "autogroup:admin"]);
        expect(merged.autoApprovers).toEqual({ exitNode: ["tag:other", "tag:exit-node"], routes: { "10.0.0.0/8": ["tag:r"] } });
    });

    it("names the file and line of a broken policy", () => {
        expect(() => parseHujson('{\n  "grants": [\n    {"src": ]\n}', "tailnet/policy.hujson")).toThrow(
            /^tailnet\/policy\.hujson:3: not valid HuJSON \(ValueExpected\)$/,
        );
    });
});

describe("the gateway's auth key", () => {
    it("is ephemeral, reusable, pre-authorized, tagged, recreated when invalid, and lives 90 days", () => {
        expect(gatewayKeyArgs(TAILNET_DEFAULTS)).toEqual({
            reusable: true,
            ephemeral: true,
            preauthorized: true,
            tags: ["tag:k8s-egress"],
            expiry: 7776000,
            recreateIfInvalid: "always",
            description: "oceanid egress gateway",
        });
    });

    it("refuses more than 90 days", () => {
        expect(() => gatewayKeyArgs(TAILNET_DEFAULTS, 91)).toThrow("tailnet key expiry must be 1 to 90 days (Tailscale's limit), got 91");
    });
});
