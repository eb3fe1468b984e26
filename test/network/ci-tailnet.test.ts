import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CI_TAILNET_DEFAULTS, withCiAccess, type CiTailnetNeeds } from "../../components/network/ci-tailnet-policy";
import { parseHujson, TAILNET_DEFAULTS, withGatewayAccess } from "../../components/network/tailnet-policy";
import { ROOT } from "../helpers/stack-file";

const base = () => parseHujson(readFileSync(join(ROOT, "tailnet", "policy.hujson"), "utf8"), "tailnet/policy.hujson");

// The dev stack's topology: the server on 100.64.0.10, two agents.
const needs = (over: Partial<CiTailnetNeeds> = {}): CiTailnetNeeds => ({
    ...CI_TAILNET_DEFAULTS,
    tagOwners: ["autogroup:admin"],
    nodes: [
        { name: "srv712429", tailscale: "100.64.0.10", sshPort: 22 },
        { name: "srv712695", tailscale: "100.64.0.20", sshPort: 22 },
        { name: "calypso", tailscale: "100.64.0.30", sshPort: 22 },
    ],
    apiServer: { node: "srv712429", port: 6443 },
    ...over,
});

describe("CI's tailnet access", () => {
    it("grants the CI tag SSH on every node and the API server on the server, nothing else", () => {
        const before = base();
        const after = withCiAccess(before, needs());
        expect(after.ssh).toEqual(before.ssh);
        expect(after.grants).toEqual([
            ...(before.grants as unknown[]),
            { src: ["tag:oceanid-ci"], dst: ["100.64.0.10", "100.64.0.20", "100.64.0.30"], ip: ["tcp:22"] },
            { src: ["tag:oceanid-ci"], dst: ["100.64.0.10"], ip: ["tcp:6443"] },
        ]);
        expect(after.tagOwners).toEqual({ "tag:exit-node": ["autogroup:admin"], "tag:oceanid-ci": ["autogroup:admin"] });
    });

    it("adds a policy test that fails the update if CI reaches the gateway's proxy, a kubelet or an agent's API port", () => {
        expect(withCiAccess(base(), needs()).tests).toEqual([
            {
                src: "tag:oceanid-ci",
                proto: "tcp",
                accept: ["100.64.0.10:22", "100.64.0.20:22", "100.64.0.30:22", "100.64.0.10:6443"],
                deny: ["tag:k8s-egress:1055", "100.64.0.10:10250", "100.64.0.20:10250", "100.64.0.30:10250", "100.64.0.20:6443", "100.64.0.30:6443"],
            },
        ]);
    });

    it("one grant per SSH port when nodes differ", () => {
        const n = needs();
        n.nodes[2] = { ...n.nodes[2], sshPort: 2222 };
        expect(withCiAccess({}, n).grants).toEqual([
            { src: ["tag:oceanid-ci"], dst: ["100.64.0.10", "100.64.0.20"], ip: ["tcp:22"] },
            { src: ["tag:oceanid-ci"], dst: ["100.64.0.30"], ip: ["tcp:2222"] },
            { src: ["tag:oceanid-ci"], dst: ["100.64.0.10"], ip: ["tcp:6443"] },
        ]);
    });

    it("sits beside the gateway's access, and applying both twice changes nothing", () => {
        const once = withCiAccess(withGatewayAccess(base(), TAILNET_DEFAULTS), needs());
        expect(withCiAccess(withGatewayAccess(once, TAILNET_DEFAULTS), needs())).toEqual(once);
        expect(once.grants).toHaveLength(4);
        expect(once.tests).toHaveLength(2);
    });

    it("refuses a node without a Tailscale IP, naming it and the fix", () => {
        const n = needs();
        n.nodes[2] = { ...n.nodes[2], tailscale: undefined };
        expect(() => withCiAccess(base(), n)).toThrow(
            "tailnet CI access: calypso has no addresses.tailscale; CI reaches the nodes only over the tailnet: set it ('tailscale ip -4' on the node)",
        );
    });

    it("refuses an API server node that is not one of the nodes", () => {
        expect(() => withCiAccess(base(), needs({ apiServer: { node: "tethys", port: 6443 } }))).toThrow(
            'tailnet CI access: the API server\'s node "tethys" is not one of the nodes',
        );
    });
});
