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

const SECRETS = {
    ...NODE_ACCESS_TEST_SECRETS,
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
        { secrets: SECRETS, handle: (args) => (args.type.startsWith("command:") ? { stdout: "", stderr: "" } : undefined) },
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
        expect(lines.map((l) => Buffer.from(l, "base64").toString("utf8"))).toEqual([
            SECRETS["oceanid:kubeconfig"],
            SECRETS["oceanid:monitoringPagerUrl"],
            SECRETS["oceanid:monitoringHeartbeatUrl"],
            "",
            "",
        ]);
        expect(STDIN_SECRETS).toEqual(["kubeconfig", "pager-url", "heartbeat-url", "tailnet-api-key"]);
        for (const r of resources) {
            for (const [key, value] of Object.entries(r.inputs)) {
                if (isSecretValue(value)) continue;
                const text = JSON.stringify(plain(value)) ?? "";
                for (const secret of [SECRETS["oceanid:monitoringPagerUrl"], SECRETS["oceanid:monitoringHeartbeatUrl"], "test-only-kubeconfig"])
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
});
