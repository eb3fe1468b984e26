// The exit node's host Tailscale in stack config: only the designated exit node advertises, no node
// uses an exit node for its own traffic (the incident's mechanism), and the managed tailnet policy
// approves the exit node's tag.
import { describe, expect, it } from "vitest";
import { exitNodeOf, parseStackConfig } from "../../components/config/stack-config";
import { problemsOf, validRaw } from "../fixtures/stack-config";

const SHA = "a".repeat(64);
const withExitNodeHost = () => {
    const raw = validRaw() as ReturnType<typeof validRaw> & { exitNodeHost?: unknown };
    raw.exitNodeHost = { release: { version: "1.102.3", url: "https://pkgs.tailscale.com/stable/tailscale_1.102.3_amd64.tgz", sha256: SHA } };
    raw.secretsSet = { ...raw.secretsSet, exitNodeAuthKey: true, tailscaleApiKey: true };
    return raw;
};
const INCIDENT =
    "tailscaled then routes the host's own traffic, the kubelet's to the API server and SSH included, into the tailnet " +
    "(the 2025-10-13 incident: two nodes NotReady, SSH lost); pods reach the exit node through the egress gateway (oceanid:egress)";

describe("stack config: exitNodeHost", () => {
    it("is accepted with its defaults, and names the node egress.exitNode points at", () => {
        const s = parseStackConfig(withExitNodeHost());
        expect(s.exitNodeHost).toEqual({
            release: { version: "1.102.3", url: "https://pkgs.tailscale.com/stable/tailscale_1.102.3_amd64.tgz", sha256: SHA },
            tags: ["tag:exit-node"],
            uploadLogs: false,
            controlApi: { kind: "tailscale", url: "https://api.tailscale.com" },
        });
        expect(exitNodeOf(s)?.name).toBe("srv712429");
    });

    it("names each bad release field and how to fix it", () => {
        const raw = withExitNodeHost();
        raw.exitNodeHost = { release: { version: "v1.102", url: "http://example.test/ts.tgz", sha256: "abc" } };
        expect(problemsOf(raw)).toEqual([
            'exitNodeHost.release.version: "v1.102" is not a Tailscale version: use e.g. 1.102.3',
            'exitNodeHost.release.url: "http://example.test/ts.tgz" is not an https:// URL of a .tgz (Tailscale\'s static release)',
            'exitNodeHost.release.sha256: "abc" is not a sha256: use the 64 hex digits of the .tgz\'s sha256sum',
        ]);
    });

    it("needs node access, a named exit node, and its two secrets", () => {
        const raw = withExitNodeHost();
        raw.nodeAccess = "none";
        raw.egress.exitNode = "auto:any";
        raw.secretsSet = { kubeconfig: true, tailscaleAuthKey: true };
        expect(problemsOf(raw)).toEqual([
            'exitNodeHost: set, but nodeAccess is "none": the exit node is changed over SSH; set nodeAccess "ssh" or remove exitNodeHost',
            'exitNodeHost: set, but egress.exitNode is "auto:any": name the exit node\'s Tailscale address, so the program knows which node to make the exit node',
            "exitNodeAuthKey: not set; exitNodeHost joins the exit node to the tailnet with it (reusable, not ephemeral, tagged with exitNodeHost.tags): pulumi config set --secret oceanid:exitNodeAuthKey (value on stdin)",
            "tailscaleApiKey: not set; exitNodeHost's gate asks the control server (exitNodeHost.controlApi) about the exit node with it: pulumi config set --secret oceanid:tailscaleApiKey (value on stdin)",
        ]);
    });

    it("with a managed tailnet, needs the tag whose exit routes the policy approves", () => {
        const raw = withExitNodeHost();
        raw.egress.tailnet = { manage: true };
        raw.exitNodeHost = { ...(raw.exitNodeHost as object), tags: ["tag:tethys"] };
        expect(problemsOf(raw)).toEqual([
            'exitNodeHost.tags: ["tag:tethys"] lacks tag:exit-node, the tag whose exit routes the managed tailnet policy approves (autoApprovers.exitNode); add it',
        ]);
    });
});

describe("stack config: no cluster node uses an exit node for its own traffic", () => {
    it("refuses the incident's worker settings, naming the mechanism", () => {
        const raw = validRaw();
        raw.nodes[1].tailscale = { exitNode: "100.121.150.65", exitNodeAllowLanAccess: true };
        raw.nodes[2].tailscale = { exitNode: "100.121.150.65" };
        expect(problemsOf(raw)).toEqual([
            `nodes[1].tailscale.exitNode: "100.121.150.65": srv712695 must not use an exit node: ${INCIDENT}; remove nodes[1].tailscale.exitNode`,
            "nodes[1].tailscale.exitNodeAllowLanAccess: true: no node uses an exit node, and LAN access would not save one: it excepts only directly connected subnets, not the API server behind a router; remove it",
            `nodes[2].tailscale.exitNode: "100.121.150.65": calypso must not use an exit node: ${INCIDENT}; remove nodes[2].tailscale.exitNode`,
        ]);
    });

    it("refuses it on the exit node itself too, and accepted routes anywhere", () => {
        const raw = validRaw();
        raw.nodes[0].tailscale = { exitNode: "auto:any", acceptRoutes: true };
        expect(problemsOf(raw)).toEqual([
            `nodes[0].tailscale.exitNode: "auto:any": srv712429 must not use an exit node: ${INCIDENT}; remove nodes[0].tailscale.exitNode`,
            "nodes[0].tailscale.acceptRoutes: true: routes other tailnet machines advertise would capture srv712429's own traffic to those subnets; remove it",
        ]);
    });

    it("accepts a node whose host settings say nothing of the sort", () => {
        const raw = validRaw();
        raw.nodes[1].tailscale = { acceptRoutes: false };
        expect(problemsOf(raw)).toEqual([]);
    });
});
