// ClusterNode under Pulumi's mock runtime: with a cluster it reads the live Node and
// registers the NodePatch from that read (everyone's taints, ignoreChanges when the Node
// already has it all); in render mode it reads nothing and patches the configured taints.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { NodeConfig } from "../../components/config/stack-config";
import { OWNED_ANNOTATION } from "../../components/nodes/node-patch";

interface Registration {
    type: string;
    name: string;
    /** The id asked for, for a read. */
    readId?: string;
    inputs: Record<string, any>;
    ignoreChanges: string[];
    dependsOn: string[];
    retainOnDelete: boolean;
    parent: string;
}

const GPU = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" as const };
const NOT_READY = { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" };
const UNSCHEDULABLE = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule", timeAdded: "2026-01-15T03:35:00Z" };
const RECORD = '{"labels":["oceanid.io/gpu"],"taints":["nvidia.com/gpu:NoSchedule"]}';

const node = (name: string): NodeConfig => ({
    name,
    role: "agent",
    canary: false,
    k3sVersion: "v1.33.5+k3s1",
    addresses: { lan: "198.51.100.30" },
    ssh: { user: "oceanid", port: 22, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMNheAjxUvQk7mJE8E6ytrokk93rtklVfy7b3mXrT8PR" },
    labels: { "oceanid.io/gpu": "true" },
    taints: [GPU],
    outOfBand: "console",
});

/** The Nodes as the API server has them: one already patched by a previous run, one never. */
const LIVE: Record<string, { metadata: Record<string, unknown>; spec: Record<string, unknown> }> = {
    patched: {
        metadata: { name: "patched", labels: { "oceanid.io/gpu": "true" }, annotations: { [OWNED_ANNOTATION]: RECORD } },
        spec: { unschedulable: true, taints: [GPU, UNSCHEDULABLE] },
    },
    fresh: { metadata: { name: "fresh", labels: { "kubernetes.io/hostname": "fresh" } }, spec: { taints: [NOT_READY] } },
};

const registered: Registration[] = [];
const byName = (name: string) => registered.find((r) => r.name === name)!;

beforeAll(async () => {
    pulumi.runtime.setAllConfig({}, []);
    await pulumi.runtime.setMocks(
        {
            newResource: async (args) => {
                // A read asks for the Node by name; the mock answers with the live object.
                const state = args.id ? LIVE[args.id] : args.inputs;
                return { id: args.id || `${args.name}-id`, state };
            },
            call: (args) => args.inputs,
        },
        "oceanid-infra",
        "test",
        true,
    );
    // The mock runtime hands newResource no options: take them off the requests.
    const monitor = pulumi.runtime.getMonitor() as any;
    const record = (req: any, readId?: string) =>
        registered.push({
            type: req.getType(),
            name: req.getName(),
            readId,
            inputs: (readId === undefined ? req.getObject() : req.getProperties()).toJavaScript(),
            ignoreChanges: readId === undefined ? req.getIgnorechangesList() : [],
            dependsOn: req.getDependenciesList().map((urn: string) => urn.split("::").pop()!),
            retainOnDelete: readId === undefined ? (req.getRetainondelete() ?? false) : false,
            parent: req.getParent().split("::").pop() ?? "",
        });
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: unknown) => {
        record(req);
        return register(req, callback);
    };
    const read = monitor.readResource.bind(monitor);
    monitor.readResource = (req: any, callback: unknown) => {
        record(req, req.getId());
        return read(req, callback);
    };

    const k8s = await import("@pulumi/kubernetes");
    const { ClusterNode } = await import("../../components/nodes/cluster-node.js");
    const provider = new k8s.Provider("k8s", {});
    new ClusterNode("patched", { node: node("patched"), provider, readLive: true });
    new ClusterNode("fresh", { node: node("fresh"), provider, readLive: true });
    new ClusterNode("rendered", { node: node("rendered"), provider, readLive: false });
    // Registrations are RPCs to the mock engine: wait for all of them.
    await pulumi.runtime.disconnect();
});

describe("ClusterNode with a cluster (readLive)", () => {
    it("reads its Node by name, under the component, through the provider", () => {
        const reads = registered.filter((r) => r.readId !== undefined).sort((a, b) => a.name.localeCompare(b.name));
        expect(reads.map((r) => [r.type, r.name, r.readId, r.parent])).toEqual([
            ["kubernetes:core/v1:Node", "fresh-live", "fresh", "fresh"],
            ["kubernetes:core/v1:Node", "patched-live", "patched", "patched"],
        ]);
    });

    it("patches a fresh Node with the API server's taint kept and its own added, with nothing ignored", () => {
        const patch = byName("fresh-labels");
        expect(patch.type).toBe("kubernetes:core/v1:NodePatch");
        expect(patch.inputs.metadata).toEqual({
            name: "fresh",
            labels: { "oceanid.io/gpu": "true" },
            annotations: { "pulumi.com/patchForce": "true", [OWNED_ANNOTATION]: RECORD },
        });
        expect(patch.inputs.spec).toEqual({ taints: [NOT_READY, GPU] });
        expect(patch.ignoreChanges).toEqual([]);
        expect(patch.dependsOn).toEqual(["fresh-live"]);
        expect(patch.retainOnDelete).toBe(true);
        expect(patch.parent).toBe("fresh");
    });

    it("leaves a Node that already has it all alone: the body is the live list, and ignoreChanges covers all of it", () => {
        const patch = byName("patched-labels");
        expect(patch.inputs.spec).toEqual({ taints: [GPU, UNSCHEDULABLE] });
        expect(patch.ignoreChanges).toEqual(["metadata", "spec"]);
        expect(patch.dependsOn).toEqual(["patched-live"]);
        expect(patch.retainOnDelete).toBe(true);
    });
});

describe("ClusterNode in render mode", () => {
    it("reads nothing and patches the configured taints alone", () => {
        expect(registered.filter((r) => r.name.startsWith("rendered-")).map((r) => [r.type, r.name, r.readId])).toEqual([
            ["kubernetes:core/v1:NodePatch", "rendered-labels", undefined],
        ]);
        const patch = byName("rendered-labels");
        expect(patch.inputs.spec).toEqual({ taints: [GPU] });
        expect(patch.ignoreChanges).toEqual([]);
        expect(patch.dependsOn).toEqual([]);
        expect(patch.retainOnDelete).toBe(true);
    });
});
