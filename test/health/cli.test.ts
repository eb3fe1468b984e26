// oceanid-health's check mode as a user runs it: flags, stack files, kubeconfigs, exit codes, and a
// whole cluster played on loopback by a k3s-like HTTPS server and a real sshd.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { USAGE } from "../../components/health/cli";
import { ROOT } from "../helpers/stack-file";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["/usr/sbin/sshd", "ssh-keygen"]);
import {
    closedPort,
    fakeApiServer,
    kubeconfigText,
    leaseObject,
    LOOPBACK,
    NOW,
    nodeObject,
    run,
    selfSignedCert,
    startSshd,
    tmpDir,
    writeStackFile,
    type FakeApi,
    type Run,
    type Sshd,
    type StackNode,
} from "./fixtures";

const TOKEN = "kubeconfig-token-DO-NOT-PRINT-0123456789";
const secondsBefore = (s: number) => new Date(NOW.getTime() - s * 1000);

/** Exit 2 with one `cannot check:` line on stderr, nothing on stdout, and no stack trace. */
function expectCannotCheck(r: Run, reason: string | RegExp): void {
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    expect(lines.at(-1)).toBe("");
    if (typeof reason === "string") expect(r.stderr).toBe(`oceanid-health: cannot check: ${reason}\n`);
    else expect(r.stderr).toMatch(reason);
    expect(r.stderr).not.toMatch(/^\s+at /m);
}

suite("flags", () => {
    it("--help documents both modes, the outputs, the exit codes and a schedule", async () => {
        const r = await run(["--help"]);
        expect(r).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: "" });
        for (const text of [
            "oceanid-health gate --node",
            "--format text|json",
            "leaseAgeSeconds",
            "GATE PASSED",
            "GATE FAILED",
            "--settle SECONDS",
            "oceanid-health drain --node NAME --change KIND --timeout SECONDS",
            "DRAIN FAILED",
            "PREFLIGHT FAILED",
            "oceanid-health uncordon --node NAME",
            "UNCORDON FAILED",
            "nodeChange: { reason, message, since } | null",
            "cordoned: { byOceanid, since } | null",
            "docs/runbooks/node-changes.md",
            "exit: 0",
            "cron",
            "systemd",
            "OnCalendar",
        ]) {
            expect(USAGE).toContain(text);
        }
        expect((await run(["gate", "--help"])).stdout).toBe(`${USAGE}\n`);
        expect((await run(["drain", "--help"])).stdout).toBe(`${USAGE}\n`);
        expect((await run(["uncordon", "-h"])).stdout).toBe(`${USAGE}\n`);
    });

    it.each([
        [["--stack"], "oceanid-health: Option '--stack <value>' argument missing"],
        [["--bogus"], "oceanid-health: Unknown option '--bogus'"],
        [["--stack", "dev", "extra"], "oceanid-health: Unexpected argument 'extra'"],
        [["--stack", "dev", "--format", "yaml"], 'oceanid-health: --format must be one of text, json, got "yaml"'],
        [["--stack", "dev", "--max-lease-age", "soon"], 'oceanid-health: --max-lease-age must be a positive whole number of seconds, got "soon"'],
        [[], "oceanid-health: give exactly one of --stack NAME and --config-file PATH"],
        [["--stack", "dev", "--config-file", "x.yaml"], "oceanid-health: give exactly one of --stack NAME and --config-file PATH"],
        [
            ["gate", "--node", "n"],
            "oceanid-health: gate: --version is required; --ssh is required; --host-key is required; --since is required; --timeout is required",
        ],
    ])("%j exits 2 with the problem and the usage", async (args, message) => {
        const r = await run(args);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr).toBe(`${message}\n${USAGE}\n`);
    });
});

suite("stack files", () => {
    it("names the stack file it could not find, and where it looked", async () => {
        const dir = tmpDir();
        expectCannotCheck(
            await run(["--stack", "nope"], { cwd: dir }),
            `cannot read stack file ${join(dir, "Pulumi.nope.yaml")}: no such file (run in the project directory, or give --config-file PATH)`,
        );
        expectCannotCheck(await run(["--config-file", "missing.yaml"], { cwd: dir }), `cannot read stack file ${join(dir, "missing.yaml")}: no such file`);
    });

    it("prints the config's own message, every problem listed", async () => {
        const dir = tmpDir();
        const file = writeStackFile(dir, "broken", [{ name: "srv", role: "server", sshPort: 22, hostKey: "AAAAC3NzaC1lZDI1NTE5", k3sVersion: "1.33" }], {
            serverUrl: "https://127.0.0.1:6443",
        });
        const r = await run(["--config-file", file]);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        // The message names the file it read, as given with --config-file.
        expect(r.stderr.startsWith(`oceanid-health: cannot check: stack "broken" config has 2 problems (keys under "oceanid:" in ${file}):\n`)).toBe(true);
        expect(r.stderr).toContain(`  - nodes[0].k3sVersion: "1.33" is not a k3s release version: use the form v1.33.4+k3s1`);
        expect(r.stderr).toContain("  - nodes[0].ssh.hostKey:");
        expect(r.stderr).not.toMatch(/^\s+at /m);
    });

    it("refuses a stack file that is not YAML", async () => {
        const dir = tmpDir();
        writeFileSync(join(dir, "Pulumi.junk.yaml"), "config: [unclosed\n");
        expectCannotCheck(await run(["--stack", "junk"], { cwd: dir }), /^oceanid-health: cannot check: cannot read stack file .*Pulumi\.junk\.yaml: .+\n$/);
    });

    it("refuses the repository's prod stack until its FILL-IN values are replaced", async () => {
        const r = await run(["--stack", "prod"], { cwd: ROOT });
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/^oceanid-health: cannot check: stack "prod" config has \d+ problems/);
        expect(r.stderr).toContain("FILL-IN");
    });

    it("refuses a --node the stack does not have", async () => {
        const dir = tmpDir();
        const file = writeStackFile(
            dir,
            "lab",
            [{ name: "srv", role: "server", sshPort: 22, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q" }],
            {
                serverUrl: "https://127.0.0.1:6443",
            },
        );
        const r = await run(["--config-file", file, "--node", "calypso"]);
        expect(r.code).toBe(2);
        expect(r.stderr.split("\n")[0]).toBe('oceanid-health: --node: stack "lab" has no node "calypso"; its nodes are srv');
    });
});

suite("kubeconfigs", () => {
    const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q";
    let dir: string;
    let stack: string;
    let apiPort: number;
    beforeAll(async () => {
        dir = tmpDir();
        apiPort = await closedPort();
        // Every address is loopback; the API check fails first, so SSH is never dialled.
        stack = writeStackFile(dir, "lab", [{ name: "srv", role: "server", sshPort: await closedPort(), hostKey: KEY }], {
            serverUrl: `https://${LOOPBACK}:${apiPort}`,
        });
    });

    it("API server unreachable: exit 2, one line, no part of the kubeconfig", async () => {
        const kc = join(dir, "kubeconfig");
        writeFileSync(kc, kubeconfigText(`https://${LOOPBACK}:${apiPort}`));
        const r = await run(["--config-file", stack, "--kubeconfig", kc]);
        expectCannotCheck(r, "API server unreachable (connect ECONNREFUSED)");
        expect(r.stderr).not.toContain(TOKEN);
    });

    it("reads the kubeconfig from stdin with --kubeconfig -", async () => {
        const r = await run(["--config-file", stack, "--kubeconfig", "-"], { readStdin: () => kubeconfigText(`https://${LOOPBACK}:${apiPort}`) });
        expectCannotCheck(r, "API server unreachable (connect ECONNREFUSED)");
    });

    it("never repeats a kubeconfig it cannot parse", async () => {
        const text = `${kubeconfigText(`https://${LOOPBACK}:${apiPort}`)}\n  token: [${TOKEN}\n`;
        const r = await run(["--config-file", stack, "--kubeconfig", "-"], { readStdin: () => text });
        expectCannotCheck(r, "the kubeconfig on stdin is not a valid kubeconfig");
        expectCannotCheck(
            await run(["--config-file", stack, "--kubeconfig", "-"], { readStdin: () => "" }),
            "the kubeconfig on stdin is not a valid kubeconfig",
        );
    });

    it("falls back to $KUBECONFIG, then ~/.kube/config, and says which file is missing", async () => {
        const home = tmpDir();
        expectCannotCheck(
            await run(["--config-file", stack], { env: { HOME: home } }),
            `cannot read kubeconfig ${join(home, ".kube", "config")}: no such file; give --kubeconfig PATH or set KUBECONFIG`,
        );
        mkdirSync(join(home, ".kube"));
        writeFileSync(join(home, ".kube", "config"), kubeconfigText(`https://${LOOPBACK}:${apiPort}`));
        expectCannotCheck(await run(["--config-file", stack], { env: { HOME: home } }), "API server unreachable (connect ECONNREFUSED)");
        expectCannotCheck(
            await run(["--config-file", stack], { env: { HOME: home, KUBECONFIG: join(dir, "none") } }),
            `cannot read kubeconfig ${join(dir, "none")}: no such file`,
        );
    });

    it("wants the context it is given", async () => {
        const r = await run(["--config-file", stack, "--kubeconfig", "-", "--context", "elsewhere"], {
            readStdin: () => kubeconfigText(`https://${LOOPBACK}:${apiPort}`),
        });
        expectCannotCheck(r, 'the kubeconfig has no context "elsewhere"');
    });

    it("says when the credentials are refused", async () => {
        const tls = selfSignedCert(tmpDir());
        const refusing = await fakeApiServer(tls, () => "unauthorized");
        try {
            const r = await run(["--config-file", stack, "--kubeconfig", "-"], { readStdin: () => kubeconfigText(refusing.url, { caPem: tls.cert }) });
            expectCannotCheck(r, "API server refused the credentials (HTTP 401 Unauthorized)");
        } finally {
            await refusing.close();
        }
    });

    it("the installed command: exit 2 and exactly one line, from a real process", () => {
        const kc = join(dir, "kubeconfig-bin");
        writeFileSync(kc, kubeconfigText(`https://${LOOPBACK}:${apiPort}`));
        const p = spawnSync(process.execPath, [join(ROOT, "components", "health", "oceanid-health.cjs"), "--config-file", stack, "--kubeconfig", kc], {
            encoding: "utf8",
            timeout: 60_000,
            env: { PATH: process.env.PATH, HOME: dir },
        });
        expect({ status: p.status, stdout: p.stdout, stderr: p.stderr }).toEqual({
            status: 2,
            stdout: "",
            stderr: "oceanid-health: cannot check: API server unreachable (connect ECONNREFUSED)\n",
        });
    });
});

suite("a cluster on loopback", () => {
    let sshd: Sshd;
    let api: FakeApi;
    let dir: string;
    let kubeconfig: string;
    let cluster: { nodes: object[]; leases: object[] };
    const tls = selfSignedCert(tmpDir());
    const stackNodes = (): StackNode[] => [
        { name: "srv712429", role: "server", sshPort: sshd.port, hostKey: sshd.hostKeys["ssh-ed25519"] },
        { name: "srv712695", role: "agent", sshPort: sshd.port, hostKey: sshd.hostKeys["ssh-ed25519"] },
        { name: "calypso", role: "agent", sshPort: sshd.port, hostKey: sshd.hostKeys["ecdsa-sha2-nistp256"] },
    ];
    const healthyCluster = () => ({
        nodes: ["srv712429", "srv712695", "calypso"].map((n) => nodeObject(n)),
        leases: [leaseObject("srv712429", secondsBefore(3)), leaseObject("srv712695", secondsBefore(7)), leaseObject("calypso", secondsBefore(12))],
    });

    beforeAll(async () => {
        sshd = await startSshd();
        api = await fakeApiServer(tls, () => cluster);
        dir = tmpDir();
        kubeconfig = join(dir, "kubeconfig");
        writeFileSync(kubeconfig, kubeconfigText(api.url, { caPem: tls.cert }));
    });
    afterAll(async () => {
        sshd?.stop();
        await api?.close();
    });

    const check = (args: string[], nodes = stackNodes()) => {
        writeStackFile(dir, "lab", nodes, { serverUrl: api.url });
        return run(["--stack", "lab", "--kubeconfig", kubeconfig, ...args], { cwd: dir, now: () => NOW });
    };

    it("healthy: a table, the ping, and the node count; exit 0", async () => {
        cluster = healthyCluster();
        const r = await check([]);
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe(
            [
                "NODE       READY  LEASE  KUBELET       SSH",
                "srv712429  True   3s     v1.33.5+k3s1  ok",
                "srv712695  True   7s     v1.33.5+k3s1  ok",
                "calypso    True   12s    v1.33.5+k3s1  ok",
                `server ping ${api.url}: pong`,
                "healthy: 3 nodes",
                "",
            ].join("\n"),
        );
        expect(r.code).toBe(0);
    });

    it("healthy as JSON", async () => {
        cluster = healthyCluster();
        const r = await check(["--format", "json"]);
        expect(r.code).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out).toEqual({
            healthy: true,
            nodes: [
                {
                    name: "srv712429",
                    ready: "True",
                    leaseAgeSeconds: 3,
                    kubeletVersion: "v1.33.5+k3s1",
                    expectedVersion: "v1.33.5+k3s1",
                    ssh: { ok: true },
                    nodeChange: null,
                    cordoned: null,
                    problems: [],
                },
                {
                    name: "srv712695",
                    ready: "True",
                    leaseAgeSeconds: 7,
                    kubeletVersion: "v1.33.5+k3s1",
                    expectedVersion: "v1.33.5+k3s1",
                    ssh: { ok: true },
                    nodeChange: null,
                    cordoned: null,
                    problems: [],
                },
                {
                    name: "calypso",
                    ready: "True",
                    leaseAgeSeconds: 12,
                    kubeletVersion: "v1.33.5+k3s1",
                    expectedVersion: "v1.33.5+k3s1",
                    ssh: { ok: true },
                    nodeChange: null,
                    cordoned: null,
                    problems: [],
                },
            ],
            server: { url: api.url, ping: { ok: true } },
            problems: [],
        });
    });

    it("unhealthy: every problem as <node>: <reason>; exit 1", async () => {
        cluster = {
            nodes: [
                nodeObject("srv712429"),
                nodeObject("srv712695", {
                    ready: "Unknown",
                    reason: "NodeStatusUnknown",
                    message: "Kubelet stopped posting node status.",
                    kubelet: "v1.33.4+k3s1",
                }),
            ],
            leases: [leaseObject("srv712429", secondsBefore(3)), leaseObject("srv712695", secondsBefore(95))],
        };
        const closed = await closedPort();
        const nodes = stackNodes();
        nodes[2] = { ...nodes[2], sshPort: closed };
        const r = await check([], nodes);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe(
            [
                "NODE       READY    LEASE  KUBELET       SSH",
                "srv712429  True     3s     v1.33.5+k3s1  ok",
                "srv712695  Unknown  95s    v1.33.4+k3s1  ok",
                "calypso    -        -      -             failed",
                `server ping ${api.url}: pong`,
                "srv712695: Ready is Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)",
                "srv712695: Lease last renewed 95s ago (limit 40s)",
                "srv712695: kubelet v1.33.4+k3s1 but config says v1.33.5+k3s1",
                "calypso: not registered in the API server",
                `calypso: ssh ${LOOPBACK}:${closed} unreachable (connect ECONNREFUSED)`,
                "",
            ].join("\n"),
        );
        const json = JSON.parse((await check(["--format", "json"], nodes)).stdout);
        expect(json.healthy).toBe(false);
        expect(json.nodes[2]).toEqual({
            name: "calypso",
            ready: null,
            leaseAgeSeconds: null,
            kubeletVersion: null,
            expectedVersion: "v1.33.5+k3s1",
            ssh: { ok: false, reason: `ssh ${LOOPBACK}:${closed} unreachable (connect ECONNREFUSED)` },
            nodeChange: null,
            cordoned: null,
            problems: ["not registered in the API server", `ssh ${LOOPBACK}:${closed} unreachable (connect ECONNREFUSED)`],
        });
        expect(json.problems).toHaveLength(5);
    });

    it("reports a node change that failed to revert and a cordon a change left, as problems and in JSON", async () => {
        const failed = `k3s change 20260302T0930Z-1a2b: revert failed at 2026-03-02T09:40:00Z: k3s did not start`;
        cluster = healthyCluster();
        cluster.nodes = [
            nodeObject("srv712429", { unschedulable: true }),
            nodeObject("srv712695", {
                unschedulable: true,
                annotations: { "oceanid.io/cordoned-by": "node-change/k3s", "oceanid.io/cordoned-at": "2026-03-02T09:30:00Z" },
                conditions: [
                    { type: "OceanidNodeChange", status: "True", reason: "RevertFailed", message: failed, lastTransitionTime: "2026-03-02T09:40:00Z" },
                ],
            }),
            nodeObject("calypso", {
                conditions: [
                    {
                        type: "OceanidNodeChange",
                        status: "False",
                        reason: "Confirmed",
                        message: "k3s change 20260301T0800Z-9f9f: confirmed at 2026-03-01T08:05:00Z",
                        lastTransitionTime: "2026-03-01T08:05:00Z",
                    },
                ],
            }),
        ];
        const r = await check([]);
        expect(r.code).toBe(1);
        // No new column: the problems say it.
        expect(r.stdout.split("\n")[0]).toBe("NODE       READY  LEASE  KUBELET       SSH");
        expect(r.stdout.split("\n").slice(5)).toEqual([
            `srv712695: node change failed to revert: ${failed}; see docs/runbooks/node-changes.md`,
            "srv712695: cordoned by a k3s node change since 2026-03-02T09:30:00Z: once the node is healthy, kubectl uncordon srv712695 (docs/runbooks/node-changes.md)",
            "",
        ]);
        const json = JSON.parse((await check(["--format", "json"])).stdout);
        expect(json.nodes.map((n: any) => [n.name, n.nodeChange, n.cordoned])).toEqual([
            // Cordoned by someone else: shown, no problem.
            ["srv712429", null, { byOceanid: false, since: null }],
            ["srv712695", { reason: "RevertFailed", message: failed, since: "2026-03-02T09:40:00Z" }, { byOceanid: true, since: "2026-03-02T09:30:00Z" }],
            [
                "calypso",
                { reason: "Confirmed", message: "k3s change 20260301T0800Z-9f9f: confirmed at 2026-03-01T08:05:00Z", since: "2026-03-01T08:05:00Z" },
                null,
            ],
        ]);
        expect(json.problems).toHaveLength(2);
    });

    it("--max-lease-age sets the limit", async () => {
        cluster = healthyCluster();
        const r = await check(["--max-lease-age", "10"]);
        expect(r.code).toBe(1);
        expect(r.stdout.split("\n").at(-2)).toBe("calypso: Lease last renewed 12s ago (limit 10s)");
    });

    it("--node checks that node alone (and the server's ping)", async () => {
        cluster = healthyCluster();
        const r = await check(["--node", "calypso"]);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("\ncalypso  True   12s    v1.33.5+k3s1  ok\n");
        expect(r.stdout).not.toContain("srv712695");
        expect(r.stdout.endsWith("healthy: 1 node\n")).toBe(true);
    });

    it("a failed ping is the server node's problem", async () => {
        cluster = healthyCluster();
        const closed = await closedPort();
        writeStackFile(dir, "lab", stackNodes(), { serverUrl: `https://${LOOPBACK}:${closed}` });
        const r = await run(["--stack", "lab", "--kubeconfig", kubeconfig], { cwd: dir, now: () => NOW });
        expect(r.code).toBe(1);
        expect(r.stdout).toContain(`server ping https://${LOOPBACK}:${closed}: failed\n`);
        expect(r.stdout.endsWith(`srv712429: server ping https://${LOOPBACK}:${closed} failed (connect ECONNREFUSED)\n`)).toBe(true);
    });

    it("uses the stack's kubernetes.context over the kubeconfig's current one", async () => {
        cluster = healthyCluster();
        const closed = await closedPort();
        const text = stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
                { name: "lab", cluster: { server: api.url, "certificate-authority-data": Buffer.from(tls.cert).toString("base64") } },
                { name: "gone", cluster: { server: `https://${LOOPBACK}:${closed}` } },
            ],
            users: [{ name: "u", user: { token: TOKEN } }],
            contexts: [
                { name: "lab", context: { cluster: "lab", user: "u" } },
                { name: "gone", context: { cluster: "gone", user: "u" } },
            ],
            "current-context": "gone",
        });
        writeStackFile(dir, "ctx", stackNodes(), { serverUrl: api.url, context: "lab" });
        const r = await run(["--stack", "ctx", "--kubeconfig", "-"], { cwd: dir, now: () => NOW, readStdin: () => text });
        expect(r.code).toBe(0);
        // --context still wins over the stack's.
        const r2 = await run(["--stack", "ctx", "--kubeconfig", "-", "--context", "gone"], { cwd: dir, now: () => NOW, readStdin: () => text });
        expectCannotCheck(r2, "API server unreachable (connect ECONNREFUSED)");
    });
});
