// The monitoring host under Pulumi's mock runtime: the bundled exporter copied, then one install
// step, every secret on its stdin and none in any plain input; the exporter's stack file holds the
// plain settings and only marks the secrets as set.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isSecretValue, plain, runProgram, type Registered } from "../helpers/mock-runtime";
import { NODE_ACCESS_TEST_SECRETS, pulumiHomeWithCommandPlugin, withNodeAccess } from "../helpers/ssh-stack";
import { ROOT } from "../helpers/stack-file";
import { STDIN_SECRETS } from "../../components/monitoring/host-scripts";

const ADMIN_KUBECONFIG = `apiVersion: v1
kind: Config
current-context: admin@oceanid
contexts: [{ name: admin@oceanid, context: { cluster: oceanid, user: admin } }]
clusters: [{ name: oceanid, cluster: { server: "https://157.173.210.123:6443", certificate-authority-data: Q0E= } }]
users: [{ name: admin, user: { client-certificate-data: dGVzdC1vbmx5LWFkbWluLWNlcnQ=, client-key-data: dGVzdC1vbmx5LWFkbWluLWtleQ== } }]
`;
const EXPORTER_TOKEN = "test-only-exporter-token";
const SECRETS = {
    ...NODE_ACCESS_TEST_SECRETS,
    "oceanid:kubeconfig": ADMIN_KUBECONFIG,
    "oceanid:monitoringPagerUrl": "https://pager.example.test/hooks/test-only-pager-token",
    "oceanid:monitoringHeartbeatUrl": "https://heartbeat.example.test/ping/test-only-heartbeat-uuid",
};
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q";
const release = (name: string, version: string) => ({ version, url: `https://example.test/${name}-${version}.linux-amd64.tar.gz`, sha256: "b".repeat(64) });
let resources: Registered[];

beforeAll(async () => {
    process.env.PULUMI_HOME = pulumiHomeWithCommandPlugin();
    ({ resources } = await runProgram(
        "dev",
        (config) => {
            // Only the monitoring host is reached over SSH: no node change runs.
            withNodeAccess(config);
            config["oceanid:nodeAccess"] = "none";
            config["oceanid:monitoringPagerUrl"] = { secure: "set by the test" };
            config["oceanid:monitoringHeartbeatUrl"] = { secure: "set by the test" };
            config["oceanid:monitoringHost"] = {
                address: "203.0.113.9",
                ssh: { user: "oceanid", hostKey: HOST_KEY },
                releases: { node: release("node", "24.9.0"), prometheus: release("prometheus", "3.16.0"), alertmanager: release("alertmanager", "0.28.1") },
            };
        },
        {
            secrets: SECRETS,
            handle: (args) => {
                if (args.type.startsWith("command:")) return { stdout: "", stderr: "" };
                // What the provider hands back once the token controller has filled the Secret in.
                if (args.type === "kubernetes:core/v1:Secret" && args.inputs.type === "kubernetes.io/service-account-token") {
                    const b64 = (t: string) => Buffer.from(t).toString("base64");
                    return {
                        ...args.inputs,
                        data: { token: b64(EXPORTER_TOKEN), "ca.crt": b64("test-only-cluster-ca"), namespace: b64("oceanid-monitoring") },
                    };
                }
                return undefined;
            },
        },
    ));
});

const named = (name: string) => resources.find((r) => r.name === name)!;

describe("the monitoring host under the mock runtime", () => {
    it("copies the bundled exporter, then installs, as the configured login with the pinned host key", () => {
        const copy = named("monitoring-host-exporter");
        const install = named("monitoring-host-install");
        expect([copy.type, install.type]).toEqual(["command:remote:CopyToRemote", "command:remote:Command"]);
        expect(install.dependsOn).toContain("monitoring-host-exporter");
        const sha = createHash("sha256")
            .update(readFileSync(join(ROOT, "dist", "oceanid-health.bundle.cjs")))
            .digest("hex");
        expect(plain(copy.inputs.remotePath)).toBe(`/tmp/oceanid-health-${sha.slice(0, 16)}.cjs`);
        expect(plain(copy.inputs.triggers)).toEqual([sha]);
        const connection = plain(install.inputs.connection);
        expect(connection).toMatchObject({ host: "203.0.113.9", port: 22, user: "oceanid", hostKey: HOST_KEY, privateKey: SECRETS["oceanid:sshPrivateKey"] });
        expect(isSecretValue(install.inputs.connection) || isSecretValue(install.inputs.connection.privateKey)).toBe(true);
        expect(plain(install.inputs.create)).toMatch(/^sudo -n timeout -k 10 600 bash -c '/);
        expect(resources.filter((r) => r.type.startsWith("command:")).map((r) => r.name)).toEqual(["monitoring-host-exporter", "monitoring-host-install"]);
    });

    it("sends the kubeconfig and the receivers' URLs on stdin, secret, one base64 line each; none in any plain input", () => {
        const install = named("monitoring-host-install");
        expect(isSecretValue(install.inputs.stdin)).toBe(true);
        const lines = (plain(install.inputs.stdin) as string).split("\n");
        const decoded = lines.map((l) => Buffer.from(l, "base64").toString("utf8"));
        // The exporter's own identity: the admin's API server, the token's CA and token, nothing of the admin's.
        expect(parse(decoded[0])).toEqual({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
                {
                    name: "oceanid",
                    cluster: { server: "https://157.173.210.123:6443", "certificate-authority-data": Buffer.from("test-only-cluster-ca").toString("base64") },
                },
            ],
            users: [{ name: "oceanid-health", user: { token: EXPORTER_TOKEN } }],
            contexts: [{ name: "oceanid", context: { cluster: "oceanid", user: "oceanid-health" } }],
            "current-context": "oceanid",
        });
        expect(decoded.slice(1)).toEqual([SECRETS["oceanid:monitoringPagerUrl"], SECRETS["oceanid:monitoringHeartbeatUrl"], "", ""]);
        expect(STDIN_SECRETS).toEqual(["kubeconfig", "pager-url", "heartbeat-url", "tailnet-api-key"]);
        for (const r of resources) {
            for (const [key, value] of Object.entries(r.inputs)) {
                if (isSecretValue(value)) continue;
                const text = JSON.stringify(plain(value)) ?? "";
                for (const secret of [
                    SECRETS["oceanid:monitoringPagerUrl"],
                    SECRETS["oceanid:monitoringHeartbeatUrl"],
                    "dGVzdC1vbmx5LWFkbWluLWtleQ==",
                    EXPORTER_TOKEN,
                ])
                    expect(text, `${r.name}.${key}`).not.toContain(secret);
            }
        }
    });

    it("gives the exporter the stack's plain settings, the secrets only marked as set", () => {
        const script = plain(named("monitoring-host-install").inputs.create) as string;
        const m = /cat > "\$stage\/stack\.yaml" <<'\\''OCEANID_MONITORING_EOF'\\''\n([\s\S]*?)\nOCEANID_MONITORING_EOF/.exec(script);
        expect(m, "the stack file in the install script").not.toBeNull();
        const config = (parse(m![1].replace(/'\\''/g, "'")) as { config: Record<string, unknown> }).config;
        expect(config["oceanid:nodeAccess"]).toBe("none");
        expect((config["oceanid:nodes"] as Array<{ name: string }>).map((n) => n.name)).toEqual(["srv712429", "srv712695", "calypso"]);
        expect(config["oceanid:kubeconfig"]).toEqual({ secure: "kept in the Pulumi stack" });
        expect(config["oceanid:monitoringPagerUrl"]).toEqual({ secure: "kept in the Pulumi stack" });
    });

    it("makes the exporter a read-only identity: Nodes and Leases read, nothing written", () => {
        const names = resources.filter((r) => r.name.startsWith("monitoring-identity-")).map((r) => r.name);
        expect(names.sort()).toEqual([
            "monitoring-identity-clusterrole",
            "monitoring-identity-clusterrolebinding",
            "monitoring-identity-namespace",
            // The gateway's Deployment, in dev's egress.gatewayNamespace.
            "monitoring-identity-role-egress-gateway",
            "monitoring-identity-role-kube-node-lease",
            "monitoring-identity-rolebinding-egress-gateway",
            "monitoring-identity-rolebinding-kube-node-lease",
            "monitoring-identity-secret-oceanid-monitoring",
            "monitoring-identity-serviceaccount-oceanid-monitoring",
        ]);
        expect(plain(named("monitoring-identity-role-egress-gateway").inputs.rules)).toEqual([
            { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["egress-gateway"], verbs: ["get"] },
        ]);
        const verbs = resources
            .filter((r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole" || r.type === "kubernetes:rbac.authorization.k8s.io/v1:Role")
            .flatMap((r) => (plain(r.inputs.rules) as Array<{ verbs: string[] }>).flatMap((rule) => rule.verbs));
        expect([...new Set(verbs)].sort()).toEqual(["get", "list"]);
        expect(named("monitoring-identity-secret-oceanid-monitoring").dependsOn).toContain("monitoring-identity-serviceaccount-oceanid-monitoring");
    });
});
