// The policy pack in the real engine: the dev stack passes, the incident's
// DaemonSet is stopped before anything is written, and analyze reads a state file.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { renderingDevWorkspace, Workspace } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["pulumi"]);

const PACK = join(ROOT, "policies");
const CI_POLICY_CONFIG = join(ROOT, ".ci", "policy-config.json");

suite("real engine + policy pack: the dev stack", () => {
    let ws: Workspace;
    beforeAll(() => {
        ws = renderingDevWorkspace();
    });

    it("previews clean with the pack and CI's pinned pack config", () => {
        const r = ws.pulumi(["preview", "--policy-pack", PACK, "--policy-pack-config", CI_POLICY_CONFIG]);
        expect(r.code, r.output).toBe(0);
        expect(r.output).toContain("✅ oceanid-guardrails@v0.1.0");
    });

    it("`pulumi policy analyze` checks an exported state file without a provider", () => {
        expect(ws.pulumi(["up", "--yes", "--skip-preview"]).code).toBe(0);
        const state = join(ws.dir, "state.json");
        const exported = ws.pulumi(["stack", "export", "--file", state, "--stack", "dev"]);
        expect(exported.code, exported.output).toBe(0);
        const r = ws.pulumi(["policy", "analyze", "--file", state, "--policy-pack", PACK]);
        expect(r.code, r.output).toBe(0);
        expect(r.output).toContain("oceanid-guardrails");
    });
});

suite("real engine + policy pack: the incident's DaemonSet", () => {
    let ws: Workspace;
    let renderDir: string;
    beforeAll(() => {
        ws = new Workspace("incident", "incident-replay-passphrase", undefined, join(ROOT, "test", "fixtures", "incident-stack"));
        renderDir = join(ws.dir, "rendered");
        ws.editConfig(["incident-replay:renderDir"], renderDir);
        ws.editConfig(["incident-replay:manifest"], join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml"));
    });

    it("preview fails with daemonset-no-host-network as a mandatory violation", () => {
        const r = ws.pulumi(["preview", "--policy-pack", PACK]);
        expect(r.code).not.toBe(0);
        expect(r.output).toMatch(/\[mandatory\] {2}daemonset-no-host-network/);
        expect(r.output).toContain("DaemonSet tailscale/tailscale-worker: spec.template.spec.hostNetwork is true");
        for (const id of ["workload-no-host-namespaces", "no-host-path-network-state", "no-privileged-networking", "tailscale-userspace-only"]) {
            expect(r.output).toContain(`[mandatory]  ${id}`);
        }
    });

    it("up is refused and nothing is deployed", () => {
        const r = ws.pulumi(["up", "--yes", "--policy-pack", PACK]);
        expect(r.code).not.toBe(0);
        expect(r.output).toMatch(/\[mandatory\] {2}daemonset-no-host-network/);
        const rendered = existsSync(renderDir) ? readdirSync(renderDir, { recursive: true }).map(String) : [];
        expect(rendered.filter((f) => f.includes("daemonset"))).toEqual([]);
        const stack = ws.pulumi(["stack", "--show-urns", "--stack", "incident"]);
        expect(stack.output).not.toContain("kubernetes:apps/v1:DaemonSet");
    });

    it("analyze finds it in a state file too", () => {
        const state = join(ws.dir, "incident-state.json");
        writeFileSync(state, JSON.stringify(incidentState()));
        const r = ws.pulumi(["policy", "analyze", "--file", state, "--policy-pack", PACK]);
        expect(r.code).not.toBe(0);
        expect(r.output).toMatch(/daemonset-no-host-network/);
    });
});

suite("real engine + policy pack: other ways to declare it", () => {
    const incidentWorkspace = (via: string) => {
        const ws = new Workspace(`incident-${via}`, "incident-replay-passphrase", undefined, join(ROOT, "test", "fixtures", "incident-stack"));
        ws.editConfig(["incident-replay:renderDir"], join(ws.dir, "rendered"));
        ws.editConfig(["incident-replay:manifest"], join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml"));
        ws.editConfig(["incident-replay:via"], via);
        return ws;
    };

    it("through a yaml/v2 ConfigGroup: the group's child DaemonSet is caught", () => {
        const r = incidentWorkspace("configgroup").pulumi(["preview", "--policy-pack", PACK]);
        expect(r.code).not.toBe(0);
        expect(r.output).toMatch(/\[mandatory\] {2}daemonset-no-host-network {2}\(kubernetes:apps\/v1:DaemonSet: /);
    });

    it("with hostNetwork unknown at preview: a mandatory 'cannot prove', not a pass", () => {
        const r = incidentWorkspace("unknown").pulumi(["preview", "--policy-pack", PACK]);
        expect(r.code).not.toBe(0);
        expect(r.output).toMatch(/\[mandatory\] {2}daemonset-no-host-network/);
        expect(r.output).toContain(
            "DaemonSet tailscale/tailscale-worker: cannot prove spec.template.spec.hostNetwork is false: its value is not known until the update runs",
        );
    });
});

/** A minimal `pulumi stack export` document holding the incident's DaemonSet. */
function incidentState() {
    const urn = "urn:pulumi:incident::incident-replay::kubernetes:apps/v1:DaemonSet::tailscale-worker";
    const spec = { template: { spec: { hostNetwork: true, containers: [{ name: "tailscale", image: "tailscale/tailscale:latest" }] } } };
    const inputs = { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "tailscale-worker", namespace: "tailscale" }, spec };
    return {
        version: 3,
        deployment: {
            manifest: { time: "2025-10-13T15:19:00Z", magic: "", version: "v3.259.0" },
            resources: [
                { urn: "urn:pulumi:incident::incident-replay::pulumi:pulumi:Stack::incident-replay-incident", custom: false, type: "pulumi:pulumi:Stack" },
                { urn, custom: true, id: "tailscale/tailscale-worker", type: "kubernetes:apps/v1:DaemonSet", inputs, outputs: inputs },
            ],
        },
    };
}
