// The @pulumi/policy internals the pack relies on (policies/engine/policy-sdk.ts).
// They are outside the package's typings: if an upgrade changes one, this file
// fails and says which, before unknown values quietly stop failing closed.
import { unknownCheckingProxy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { ENGINE_SENTINELS, PROXY_TARGET_KEY, proxyTarget } from "../../policies/engine/policy-sdk";
import { isUnknown } from "../../policies/engine/unknown";

// The engine's wire values for unknowns (pulumi/sdk's plugin/rpc.go), one per kind.
const SENTINELS = {
    bool: "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    number: "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    string: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    array: "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    asset: "030794c1-ac77-496b-92df-f27374a8bd58",
    archive: "e48ece36-62e2-4504-bad9-02848725956a",
    object: "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
};

describe("@pulumi/policy internals", () => {
    it("the engine's unknown sentinels: exactly these seven", () => {
        expect([...ENGINE_SENTINELS].sort()).toEqual(Object.values(SENTINELS).sort());
    });

    it("the proxy throws on an unknown, and hands out its target under the key the pack reads", () => {
        expect(PROXY_TARGET_KEY).toBe("__getSpecialProxyTarget");
        const target = { spec: { hostNetwork: SENTINELS.bool, name: "x" } };
        const proxied = unknownCheckingProxy(target);
        // What CrossGuard does to a policy that reads an unknown: it throws, and the note is advisory.
        expect(() => proxied.spec.hostNetwork).toThrow();
        expect(proxied.spec.name).toBe("x");
        // What the pack reads instead: the target, where the unknown is visible and fails closed.
        expect(proxyTarget(proxied)).toBe(target);
        expect(isUnknown((proxyTarget(proxied) as typeof target).spec.hostNetwork)).toBe(true);
        expect(proxyTarget(target)).toBe(target);
        expect(proxyTarget("plain")).toBe("plain");
    });
});
