// The monitoring host as the program installs it, on a real systemd machine of the node lab that is
// none of the cluster's nodes: the program (under the mock runtime, its commands over real SSH)
// copies the bundled exporter and runs the install with release tarballs from the lab's release
// server (the project's own Node.js, Prometheus and Alertmanager binaries in their upstream
// releases' layout). Proven: the services run as systemd units with dynamic users and no secret in
// any file or command line they show; the dead man's switch reaches the heartbeat receiver; a node
// cut off pages through the pager receiver and resolves; a release whose checksum is wrong is refused
// before anything changes; an install whose exporter never starts puts the last install back.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { describeNeeding } from "../helpers/needs";
import { startWebhookSink, type WebhookSink } from "../helpers/prometheus";
import { TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";
import { LAB_NODES, labConfig, lastStep, newState, rollout, secretValues, until } from "../nodes/lab-stack";
import { removeScript, UNITS } from "../../components/monitoring/host-scripts";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver", "prometheus", "alertmanager"]);

const VERSION = "v1.33.5+k3s1";
const MONITOR = "monitor";
const CANARY = LAB_NODES[1].name;
const GRACE = 5;
const PAGER_PATH = "/pager-8c1f2e";
const HEARTBEAT_PATH = "/heartbeat-5d7a90";

let lab: NodeLab;
let sink: WebhookSink;
let state: string;
/** The lab's admin kubeconfig, as a file. */
let kubeconfig: string;
let releases: Record<"node" | "prometheus" | "alertmanager", { version: string; url: string; sha256: string }>;

/** A tarball laid out as the upstream release is: one top directory holding `files` (name → source). */
function tarball(name: string, files: Record<string, string>): string {
    const dir = join(lab.dir, "releases", name);
    for (const [path, source] of Object.entries(files)) {
        mkdirSync(join(dir, path, ".."), { recursive: true });
        copyFileSync(realpathSync(source), join(dir, path));
    }
    const out = join(lab.dir, "releases", `${name}.tar.gz`);
    const r = spawnSync("tar", ["-czf", out, "-C", join(lab.dir, "releases"), name], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tar ${name}: ${r.stderr}`);
    return out;
}

function hostConfig(overrides: { releases?: Partial<typeof releases>; readyTimeoutSeconds?: number } = {}) {
    const base = labConfig(lab, VERSION);
    return {
        ...base,
        // Only the monitoring host is changed over SSH: the cluster's nodes stay as the lab made them.
        "oceanid:nodeAccess": "none",
        "oceanid:monitoringHost": {
            address: lab.node(MONITOR).address,
            ssh: { user: "root", hostKey: lab.node(MONITOR).hostKey },
            releases: { ...releases, ...overrides.releases },
            intervalSeconds: 1,
            readyTimeoutSeconds: overrides.readyTimeoutSeconds ?? 60,
        },
        "oceanid:monitoringPagerUrl": { secure: "lab" },
        "oceanid:monitoringHeartbeatUrl": { secure: "lab" },
    };
}
const secrets = () => ({
    "oceanid:monitoringPagerUrl": sink.url.replace(/\/alerts$/, PAGER_PATH),
    "oceanid:monitoringHeartbeatUrl": sink.url.replace(/\/alerts$/, HEARTBEAT_PATH),
});

/** The program over the lab with this config: its commands over SSH, the exporter's identity applied to the lab's API server. */
const installWith = (config: Record<string, unknown>) =>
    rollout(lab, config, { secrets: secrets(), state, kubernetes: { kubeconfig, names: "^monitoring-identity-" } });

/** A command on the monitoring host as root: exit code and output (stdout and stderr together). */
const onHost = (script: string) => lab.inNodeAsync(MONITOR, script);
/** The first notification at `path` at or after `since` with an alert `alertname` in `status` (for `node`, if given). */
const arrived = (path: string, alertname: string, status: "firing" | "resolved", since: number, node?: string) =>
    sink
        .received()
        .find(
            (n) =>
                n.path === path &&
                n.at >= since &&
                n.payload.alerts.some((a) => a.labels.alertname === alertname && a.status === status && (node === undefined || a.labels.node === node)),
        );

beforeAll(async () => {
    const b = spawnSync("bash", ["scripts/with-tools", "node", "scripts/build.mjs"], { cwd: ROOT, encoding: "utf8" });
    if (b.status !== 0) throw new Error(`npm run build failed: ${b.stdout}${b.stderr}`);
    lab = await NodeLab.start({
        nodes: [...LAB_NODES.map((n) => ({ ...n, version: VERSION })), { name: MONITOR, role: "agent" as const }],
        subnet: 12,
        graceSeconds: GRACE,
    });
    sink = await startWebhookSink(`10.198.12.254`);
    const nodeVersion = process.versions.node;
    const serve = (name: string, path: string, version: string) => ({ version, ...lab.serveFile(name, path) });
    releases = {
        node: serve(`node-v${nodeVersion}-linux-x64.tar.gz`, tarball(`node-v${nodeVersion}-linux-x64`, { "bin/node": process.execPath }), nodeVersion),
        prometheus: serve(
            "prometheus-3.16.0.linux-amd64.tar.gz",
            tarball("prometheus-3.16.0.linux-amd64", { prometheus: join(TOOLS_BIN, "prometheus"), promtool: join(TOOLS_BIN, "promtool") }),
            "3.16.0",
        ),
        alertmanager: serve(
            "alertmanager-0.28.1.linux-amd64.tar.gz",
            tarball("alertmanager-0.28.1.linux-amd64", { alertmanager: join(TOOLS_BIN, "alertmanager") }),
            "0.28.1",
        ),
    };
    state = newState(lab);
    kubeconfig = join(lab.dir, "admin.kubeconfig");
    writeFileSync(kubeconfig, lab.kubeconfig, { mode: 0o600 });
}, 240_000);
afterAll(async () => {
    await sink?.stop();
    await lab?.stop();
});

/** An install whose Prometheus release has the wrong checksum: refused, nothing running changed, nothing left behind. */
async function refusedChecksum(): Promise<void> {
    const before = await onHost("systemctl show -p MainPID --value oceanid-prometheus");
    const wrong = "0".repeat(64);
    const run = await installWith(hostConfig({ releases: { prometheus: { ...releases.prometheus, sha256: wrong } } }));
    const step = lastStep(run);
    expect([step.name, step.code]).toEqual(["monitoring-host-install", 1]);
    expect(step.line).toBe(
        `MONITORING HOST FAILED host=${lab.node(MONITOR).address} reason=${releases.prometheus.url} has sha256 ${releases.prometheus.sha256}, ` +
            `monitoringHost.releases.prometheus.sha256 says ${wrong}: check the URL and the published checksum`,
    );
    expect((await onHost("systemctl show -p MainPID --value oceanid-prometheus")).out).toBe(before.out);
    // Nothing of the refused download is left.
    expect((await onHost(`ls /opt/oceanid-monitoring/releases | grep -c '^prometheus-' || true`)).out.trim()).toBe("1");
}

suite("the monitoring host, installed by the program over SSH", () => {
    it("installs the three services as hardened units; the dead man's switch reaches the heartbeat receiver", async () => {
        const t0 = Date.now();
        const run = await installWith(hostConfig());
        expect(run.error, `${run.output}\n${lastStep(run).step.stderr}`).toBeUndefined();
        expect(run.steps.map((s) => s.name)).toEqual(["monitoring-host-exporter", "monitoring-host-install"]);
        const install = lastStep(run);
        expect(install.step.stdout.trim()).toBe(
            `monitoring host ${lab.node(MONITOR).address}: ready: Prometheus 3.16.0 on 127.0.0.1:9090, Alertmanager 0.28.1 on 127.0.0.1:9093, ` +
                `oceanid-health serve on 127.0.0.1:9464 (Node.js ${process.versions.node}), every 1s`,
        );
        // Usually before the install step ends; a first send Alertmanager missed is repeated after Prometheus's 1-min resend delay.
        const heartbeat = await until("Watchdog at the heartbeat receiver", () => arrived(HEARTBEAT_PATH, "Watchdog", "firing", t0) !== undefined, 90).catch(
            async (err: Error) => {
                const why = await onHost(
                    "journalctl -u oceanid-alertmanager -u oceanid-prometheus -n 40 --no-pager -o cat; curl -s http://127.0.0.1:9093/api/v2/alerts",
                );
                throw new Error(`${err.message}\n${why.out}\nreceived: ${JSON.stringify(sink.received().map((n) => [n.path, n.at]))}`);
            },
        );
        console.log(
            `monitoring host: installed in ${((install.step.endedAt - t0) / 1000).toFixed(1)}s; Watchdog at the heartbeat receiver ${heartbeat.toFixed(1)}s after`,
        );

        // Each service runs as a user of its own, never root, and is enabled for boot.
        for (const unit of Object.values(UNITS)) {
            const r = await onHost(
                `systemctl is-enabled ${unit} && systemctl is-active ${unit} && ps -o user= -p "$(systemctl show -p MainPID --value ${unit})"`,
            );
            const [enabled, active, user] = r.out.trim().split("\n");
            expect([unit, enabled, active], r.out).toEqual([unit, "enabled", "active"]);
            expect(user, unit).not.toBe("root");
        }
        // No secret in any file the services read in plain view, on any command line, or in what the program kept.
        const shown = await onHost(
            "cat /etc/oceanid-monitoring/*.yml /etc/oceanid-monitoring/stack.yaml /etc/systemd/system/oceanid-*.service; ps -eo args; stat -c '%a %U' /etc/oceanid-monitoring/credentials",
        );
        expect(shown.out).toContain("700 root\n");
        for (const secret of [...Object.values(secrets()), ...secretValues(lab)]) {
            expect(shown.out).not.toContain(secret);
            expect(JSON.stringify(run.steps)).not.toContain(secret);
        }
        // The exporter holds its own read-only identity's token, not the admin's credentials.
        const exporterKubeconfig = await onHost("cat /etc/oceanid-monitoring/credentials/kubeconfig");
        expect(exporterKubeconfig.out).toMatch(/^ {4}user:\n {6}token: \S+$/m);
        expect(exporterKubeconfig.out).not.toMatch(/client-key-data|client-certificate/);
        const can = (verb: string, resource: string, ns?: string) =>
            spawnSync(
                "kubectl",
                [
                    "--kubeconfig",
                    kubeconfig,
                    "auth",
                    "can-i",
                    verb,
                    resource,
                    "--as",
                    "system:serviceaccount:oceanid-monitoring:oceanid-health",
                    ...(ns ? ["-n", ns] : []),
                ],
                { encoding: "utf8" },
            ).stdout.trim();
        expect([
            can("list", "nodes"),
            can("list", "leases", "kube-node-lease"),
            can("patch", "nodes"),
            can("list", "secrets", "kube-system"),
            can("create", "pods", "default"),
        ]).toEqual(["yes", "yes", "no", "no", "no"]);
        // Nothing but the heartbeat so far: the cluster is healthy.
        expect(sink.received().filter((n) => n.path === PAGER_PATH)).toEqual([]);
    }, 240_000);

    it("an install whose exporter never gets ready puts the last install back", async () => {
        // A Node.js "release" whose node exits at once: the exporter never answers.
        const broken = join(lab.dir, "releases", "broken-node");
        mkdirSync(broken, { recursive: true });
        const script = join(broken, "node");
        spawnSync("sh", ["-c", `printf '#!/bin/sh\\necho "this node is broken" >&2\\nexit 1\\n' > ${script} && chmod +x ${script}`]);
        const bad = { version: "24.99.0", ...lab.serveFile("node-v24.99.0-linux-x64.tar.gz", tarball("node-v24.99.0-linux-x64", { "bin/node": script })) };
        const run = await installWith(hostConfig({ releases: { node: bad }, readyTimeoutSeconds: 10 }));
        const step = lastStep(run);
        expect([step.name, step.code]).toEqual(["monitoring-host-install", 1]);
        expect(step.line).toBe(
            `MONITORING HOST FAILED host=${lab.node(MONITOR).address} reason=the services were not ready within 10s (Prometheus on 127.0.0.1:9090, ` +
                "Alertmanager on 127.0.0.1:9093, oceanid-health serve on 127.0.0.1:9464, scraped); the last install is back",
        );
        expect(step.step.stderr).toContain("this node is broken");
        // The last install runs again: its unit names the working Node.js, and it answers (the next test's page comes from it).
        const unit = await onHost(`systemctl show -p ExecStart --value ${UNITS.exporter}`);
        expect(unit.out).toContain(`/releases/node-${releases.node.version}-${releases.node.sha256.slice(0, 12)}/bin/node`);
        await until("the exporter answering again", async () => (await onHost("curl -fsS -o /dev/null http://127.0.0.1:9464/metrics")).code === 0, 30);
    }, 240_000);

    it("a node cut off pages through the pager receiver (a release refused meanwhile changes nothing); the heartbeat receiver gets nothing but the dead man's switch", async () => {
        const cut = Date.now();
        lab.cutNetwork(CANARY);
        let fired: number;
        try {
            // While the rule's minute runs: an install with a wrong checksum is refused before anything running changes.
            await refusedChecksum();
            // The controller's grace, the rule's minute, the pager route's 30-s group wait, then seconds of pipeline.
            fired = await until(
                "OceanidNodeNotReady at the pager",
                () => arrived(PAGER_PATH, "OceanidNodeNotReady", "firing", cut, CANARY) !== undefined,
                GRACE + 60 + 30 + 30,
            );
        } finally {
            lab.restoreNetwork(CANARY);
        }
        // Resolution goes out with the group's next flush (group_interval 5m): test/monitoring/alerts-lab.test.ts times it with short intervals.
        console.log(
            `monitoring host: node cut → OceanidNodeNotReady at the pager ${fired.toFixed(1)}s (grace ${GRACE}s + for 60s + group_wait 30s + pipeline)`,
        );
        expect(fired).toBeGreaterThanOrEqual(GRACE + 60 + 30 - 5);
        // The heartbeat never went to the pager, and no page went to the heartbeat.
        expect(
            sink
                .received()
                .filter((n) => n.path === PAGER_PATH)
                .flatMap((n) => n.payload.alerts.map((a) => a.labels.alertname)),
        ).not.toContain("Watchdog");
        expect(
            sink
                .received()
                .filter((n) => n.path === HEARTBEAT_PATH)
                .flatMap((n) => n.payload.alerts.map((a) => a.labels.alertname)),
        ).toEqual(expect.arrayContaining(["Watchdog"]));
        expect(
            new Set(
                sink
                    .received()
                    .filter((n) => n.path === HEARTBEAT_PATH)
                    .flatMap((n) => n.payload.alerts.map((a) => a.labels.alertname)),
            ),
        ).toEqual(new Set(["Watchdog"]));
    }, 240_000);

    it("removed from config: the delete step stops and removes the units and the credentials; releases and data stay", async () => {
        // What the engine runs as the install step's delete when monitoringHost leaves the config.
        const r = await onHost(removeScript());
        expect(r.code, r.out).toBe(0);
        const after = await onHost(
            `for u in ${Object.values(UNITS).join(" ")}; do systemctl is-active $u; done; ls /etc/systemd/system | grep -c '^oceanid-' ; ` +
                "test -e /etc/oceanid-monitoring/credentials && echo credentials; ls -d /opt/oceanid-monitoring/releases/{node-24.9.0,prometheus-3.16.0,alertmanager-0.28.1}-* | wc -l; test -d /var/lib/private/oceanid-prometheus && echo data",
        );
        expect(after.out.trim().split("\n"), after.out).toEqual(["inactive", "inactive", "inactive", "0", "3", "data"]);
    }, 60_000);
});
