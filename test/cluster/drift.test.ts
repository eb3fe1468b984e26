// The scheduled job's scripts against the program deployed into the test control
// plane. scripts/ci/drift: nothing changed → exit 0 and "No drift"; a managed
// object changed by hand (kubectl) → non-zero, and the job summary names that
// resource. scripts/ci/health: Nodes without kubelets → exit 1, each node's reasons.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runStep } from "../helpers/ci-script";
import { e2eWorkspace, pulumiAsync } from "../helpers/deploy-stack";
import { standInKubelet, type StandInKubelet } from "../helpers/deploy-kubelet";
import { describeNeeding } from "../helpers/needs";
import type { Workspace } from "../helpers/pulumi-cli";
import { readStackFile, ROOT } from "../helpers/stack-file";
import { useTestCluster } from "../helpers/test-cluster";

const suite = describeNeeding(["kube-apiserver", "kube-controller-manager", "etcd", "kubectl", "openssl", "pulumi"]);

// As in deploy.test.ts: no kubelets, so no node-lifecycle controller tainting the Nodes meanwhile.
process.env.OCEANID_TEST_CLUSTER_CONTROLLERS = "*,-node-lifecycle-controller";
const cluster = useTestCluster();

const GATEWAY_NS = "egress-gateway";
const devNodes = readStackFile("dev")["oceanid:nodes"] as Array<{ name: string; taints?: unknown[] }>;
const egress = readStackFile("dev")["oceanid:egress"] as { namespaces: string[] };
const URN = "urn:pulumi:e2e::oceanid-infra::oceanid:network:EgressGateway$kubernetes:networking.k8s.io/v1:NetworkPolicy::egress-gateway-default-deny";

function mustKubectl(args: string[], stdin?: string): string {
    const r = cluster.kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.output}`);
    return r.stdout;
}

suite("scripts/ci/drift against a deployed stack", () => {
    let ws: Workspace;
    let kubelet: StandInKubelet;
    const drift = () => runStep("drift", ["e2e", "--config-file", ws.configFile], { env: ws.env() });

    beforeAll(async () => {
        // Labelled as k3s registers them, as deploy.test.ts does.
        for (const n of devNodes) {
            const node = { apiVersion: "v1", kind: "Node", metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name } } };
            mustKubectl(["create", "-f", "-"], JSON.stringify(node));
        }
        for (const ns of egress.namespaces) mustKubectl(["create", "namespace", ns]);
        ws = await e2eWorkspace(readFileSync(cluster.kubeconfig, "utf8"));
        kubelet = standInKubelet(
            cluster,
            GATEWAY_NS,
            devNodes.filter((n) => (n.taints ?? []).length === 0).map((n) => n.name),
        );
        const up = await pulumiAsync(ws, ["up", "--yes", "--skip-preview", "--policy-pack", join(ROOT, "policies")]);
        if (up.code !== 0) throw new Error(`pulumi up failed: ${up.output}`);
    }, 400_000);

    afterAll(async () => {
        await kubelet?.stop();
    });

    it("nothing changed outside Pulumi: exit 0, no drift", () => {
        const r = drift();
        expect(r.code, r.output).toBe(0);
        expect(r.summary).toBe("### No drift\n\nThe refreshed preview changes nothing.\n\n");
        expect(r.outputs).toEqual(["changes=0"]);
    }, 300_000);

    it("a NetworkPolicy weakened by hand: non-zero, and the summary names it", () => {
        // Someone drops the gateway's default egress deny with kubectl.
        mustKubectl([
            "patch",
            "networkpolicy",
            "egress-gateway-default-deny",
            "-n",
            GATEWAY_NS,
            "--type",
            "merge",
            "-p",
            '{"spec":{"policyTypes":["Ingress"]}}',
        ]);
        const r = drift();
        expect(r.code, r.output).not.toBe(0);
        expect(r.summary).toMatch(
            new RegExp(
                "^### Drift: changed outside Pulumi\n\n\\| operation \\| resource \\|\n\\|---\\|---\\|\n\\| update \\| `" +
                    URN.replace(/[$.]/g, "\\$&") +
                    "` \\|\n\n<details><summary>Preview output</summary>\n",
            ),
        );
        expect(r.outputs).toEqual(["changes=1"]);
    }, 300_000);

    it("scripts/ci/health: Nodes without kubelets are unhealthy: exit 1, every node and reason in the summary", () => {
        // The dev stack file names the same nodes; its addresses are documentation ones, so SSH and /ping fail too.
        const r = runStep("health", ["dev"], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
        expect(r.code, r.output).toBe(1);
        const addresses: Record<string, string> = { srv712429: "192.0.2.10", srv712695: "192.0.2.20", calypso: "198.51.100.30" };
        const rows = Object.entries(addresses).flatMap(([node, address]) => [
            `| ${node} | Ready is Unknown (no Ready condition reported) |`,
            `| ${node} | no Lease in kube-node-lease |`,
            `| ${node} | kubelet  but config says v1.33.5+k3s1 |`,
            new RegExp(`^\\| ${node} \\| ssh ${address.replace(/\./g, "\\.")}:22 unreachable \\(.+\\) \\|$`),
        ]);
        const lines = r.summary.split("\n");
        expect(lines.slice(0, 4)).toEqual(["### Health check failed", "", "| node | reason |", "|---|---|"]);
        rows.forEach((row, i) => (typeof row === "string" ? expect(lines[4 + i]).toBe(row) : expect(lines[4 + i]).toMatch(row)));
        expect(lines.slice(4 + rows.length)).toEqual([
            expect.stringMatching(/^\| srv712429 \| server ping https:\/\/192\.0\.2\.10:6443 failed \(.+\) \|$/),
            "",
            "",
        ]);
        expect(r.outputs).toEqual(["node=srv712429", "reason=Ready is Unknown (no Ready condition reported)"]);
    }, 120_000);
});
