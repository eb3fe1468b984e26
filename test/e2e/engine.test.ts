// Drives the real Pulumi CLI (built by scripts/setup) over the bundled dev stack.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { parse } from "yaml";
import { renderingDevWorkspace, Workspace } from "../helpers/pulumi-cli";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["pulumi"]);

suite("real engine: the dev stack", () => {
    let ws: Workspace;
    beforeAll(() => {
        ws = renderingDevWorkspace();
    });

    it("previews with no cluster and no network", () => {
        const r = ws.pulumi(["preview"]);
        expect(r.output).toContain("+  oceanid:nodes:ClusterNode calypso create");
        expect(r.output).toContain("+  kubernetes:core/v1:NodePatch calypso-labels create");
        expect(r.output).toMatch(/Resources:\s+\+ 20 to create/);
        expect(r.code).toBe(0);
    });

    it("`up` writes the manifests to the render directory", () => {
        const r = ws.pulumi(["up", "--yes", "--skip-preview"]);
        expect(r.code, r.output).toBe(0);
        const calypso = join(ws.dir, "rendered", "1-manifest", "v1-node-default-calypso.yaml");
        expect(existsSync(calypso)).toBe(true);
        const text = readFileSync(calypso, "utf8");
        expect(text).toContain('oceanid.io/gpu: "true"');
        expect(text).toContain("key: nvidia.com/gpu");
        expect(text).toContain("effect: NoSchedule");
        const vap = join(ws.dir, "rendered", "1-manifest", "admissionregistration.k8s.io_v1-validatingadmissionpolicy-default-oceanid-guardrails.yaml");
        const rendered = parse(readFileSync(vap, "utf8"));
        expect(rendered.kind).toBe("ValidatingAdmissionPolicy");
        expect(rendered.spec.validations[0].message).toMatch(/^daemonset-no-host-network: DaemonSet pods must not use hostNetwork: true/);
    });
});

suite("real engine: secrets", () => {
    it("the dev stack's secret is in neither the rendered files, the state nor the output", () => {
        const ws = renderingDevWorkspace();
        const up = ws.pulumi(["up", "--yes", "--skip-preview"]);
        expect(up.code, up.output).toBe(0);
        const secret = ws.pulumi(["config", "get", "oceanid:tailscaleAuthKey", "--stack", "dev", "--config-file", ws.configFile]).stdout.trim();
        expect(secret).toBe("dev-dummy-auth-key-not-a-real-credential");
        const exported = ws.pulumi(["stack", "export", "--stack", "dev"]).stdout;
        const files = readdirSync(join(ws.dir, "rendered"), { recursive: true })
            .map(String)
            .filter((f) => f.endsWith(".yaml"))
            .map((f) => readFileSync(join(ws.dir, "rendered", f), "utf8"));
        for (const text of [up.output, exported, ...files]) expect(text).not.toContain(secret);
        expect(files.length).toBeGreaterThan(10);
    });
});

suite("real engine: a broken stack config", () => {
    it("fails with the validation message, a non-zero exit and no stack trace", () => {
        const ws = new Workspace("dev");
        ws.editConfig(["oceanid:egress", "exitNode"], "srv712429");
        ws.editConfig(["oceanid:nodes", 1, "k3sVersion"], "v1.34.0+k3s1");
        const r = ws.pulumi(["preview"]);
        expect(r.code).not.toBe(0);
        expect(r.output).toContain('stack "dev" config has 2 problems');
        expect(r.output).toContain(
            "nodes[1].k3sVersion: v1.34.0+k3s1 is newer than the server's v1.33.5+k3s1 (srv712429); agents must not be newer than the server",
        );
        expect(r.output).toContain('egress.exitNode: got "srv712429"; use the Tailscale IP (100.x.y.z) of the exit node');
        expect(r.output).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
        expect(r.output).not.toContain("unhandled exception");
    });

    it("with nodeAccess ssh and no command provider plugin, stops with one line saying how to install it", () => {
        const ws = new Workspace("dev");
        ws.editConfig(["oceanid:nodeAccess"], "ssh");
        ws.editConfig(["oceanid:kubernetes"], { mode: "cluster" });
        // Obviously fake values: the program stops before it would use them.
        for (const name of ["sshPrivateKey", "k3sToken", "kubeconfig"]) {
            const set = ws.pulumi(["config", "set", "--secret", `oceanid:${name}`, `fake-${name}`, "--stack", "dev", "--config-file", ws.configFile]);
            expect(set.code, set.output).toBe(0);
        }
        const r = ws.pulumi(["preview"]);
        expect(r.code).not.toBe(0);
        expect(r.output).toContain(
            'nodeAccess "ssh" runs node changes with the command provider plugin 1.2.1, which is not installed: ' +
                "run 'pulumi plugin install resource command 1.2.1' (stacks with nodeAccess \"none\", like dev, do not need it)",
        );
        expect(r.output).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
        expect(r.output).not.toContain("fake-");
    });

    it("refuses the wrong passphrase for the stack's secrets", () => {
        const ws = new Workspace("dev");
        const r = ws.pulumi(["preview"], { PULUMI_CONFIG_PASSPHRASE: "wrong" });
        expect(r.code).not.toBe(0);
        expect(r.output).toContain("incorrect passphrase");
    });
});
