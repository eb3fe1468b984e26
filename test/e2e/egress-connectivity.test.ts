// The egress gateway as rendered by `pulumi up --stack dev`, checked by tools
// that are not ours: np-guard's netpol-analyzer for connectivity, and the
// Kubernetes pod-security-admission library for Pod Security "restricted".
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { cliVerdict } from "../helpers/gates";
import { renderingDevWorkspace, TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["pulumi", "netpolicy", "psa-check"]);

interface Conn {
    src: string;
    dst: string;
    conn: string;
}

let rendered: string;
let conns: Conn[];

const from = (src: string) =>
    conns
        .filter((c) => c.src === src)
        .map((c) => `${c.dst} ${c.conn}`)
        .sort();
const to = (dst: string) =>
    conns
        .filter((c) => c.dst === dst)
        .map((c) => `${c.src} ${c.conn}`)
        .sort();

beforeAll(() => {
    const ws = renderingDevWorkspace();
    rendered = join(ws.dir, "rendered");
    const up = ws.pulumi(["up", "--yes", "--skip-preview"]);
    if (up.code !== 0) throw new Error(up.output);
    const analysis = join(ws.dir, "analysis");
    mkdirSync(analysis);
    cpSync(join(rendered, "1-manifest"), analysis, { recursive: true });
    cpSync(join(ROOT, "test", "fixtures", "netpol", "workloads.yaml"), join(analysis, "workloads.yaml"));
    const r = spawnSync(join(TOOLS_BIN, "netpolicy"), ["list", "--dirpath", analysis, "-o", "json", "-q"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`netpolicy failed: ${r.stderr}`);
    conns = JSON.parse(r.stdout);
});

suite("connectivity of the rendered dev stack (netpol-analyzer)", () => {
    it("a pod in an opted-in namespace reaches kube-dns on 53 and the gateway's proxy port, and nothing else", () => {
        expect(from("apps/client[Deployment]")).toEqual([
            "egress-gateway/egress-gateway[Deployment] TCP 1055",
            "kube-system/coredns[Deployment] TCP 53,UDP 53",
        ]);
    });

    it("the gateway reaches public addresses on Tailscale's ports, DNS, and not 10.42.0.0/16 or 10.43.0.0/16", () => {
        expect(from("egress-gateway/egress-gateway[Deployment]")).toEqual([
            "0.0.0.0-10.41.255.255 TCP 443,UDP 3478,41641",
            "10.44.0.0-255.255.255.255 TCP 443,UDP 3478,41641",
            "kube-system/coredns[Deployment] TCP 53,UDP 53",
        ]);
    });

    it("the gateway takes proxy traffic only from opted-in namespaces, and probes only from the nodes", () => {
        expect(to("egress-gateway/egress-gateway[Deployment]")).toEqual([
            "192.0.2.10-192.0.2.10 TCP 9002",
            "192.0.2.20-192.0.2.20 TCP 9002",
            "198.51.100.30-198.51.100.30 TCP 9002",
            "apps/client[Deployment] TCP 1055",
        ]);
    });

    it("a namespace that is not opted in keeps its connectivity", () => {
        expect(from("other/client[Deployment]")).toEqual([
            "0.0.0.0-10.41.255.255 All Connections",
            "10.42.0.0-10.43.255.255 All Connections",
            "10.44.0.0-255.255.255.255 All Connections",
            "apps/client[Deployment] All Connections",
            "kube-system/coredns[Deployment] All Connections",
        ]);
    });
});

suite("the rendered gateway Deployment", () => {
    const deploymentFile = () =>
        join(
            rendered,
            "1-manifest",
            readdirSync(join(rendered, "1-manifest")).find((f) => f.startsWith("apps_v1-deployment-"))!,
        );

    it("passes Pod Security restricted (k8s.io/pod-security-admission)", () => {
        const r = spawnSync(join(TOOLS_BIN, "psa-check"), ["-level", "restricted", deploymentFile()], { encoding: "utf8" });
        expect(r.status, r.stdout + r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ kind: "Deployment", name: "egress-gateway", allowed: true, forbidden: [] });
    });

    it("while the incident's DaemonSet fails it (the check is live)", () => {
        const r = spawnSync(join(TOOLS_BIN, "psa-check"), [join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml")], { encoding: "utf8" });
        expect(r.status).toBe(1);
        expect(JSON.parse(r.stdout).forbidden[0]).toBe("host namespaces: hostNetwork=true, hostPID=true");
    });

    it("passes the project's own guardrails", () => {
        const v = cliVerdict([parse(readFileSync(deploymentFile(), "utf8"))]);
        expect(v.mandatory).toEqual([]);
    });
});
