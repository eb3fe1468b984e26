// The whole alert path with real parts: `oceanid-health serve` (the built command) probing the node
// lab (real systemd machines, real sshd, the real API server and node-lifecycle controller), a real
// Prometheus scraping it with the shipped rules file, a real Alertmanager, and a webhook receiver on
// loopback. A node is cut off: the NotReady alert reaches the receiver within the rules' bound; the
// node comes back: the alert resolves. The dead man's switch arrives from the start.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "../lab/node-lab";
import { until } from "../lab/processes";
import { describeNeeding } from "../helpers/needs";
import { startMonitoring, startWebhookSink, type Monitoring, type WebhookSink } from "../helpers/prometheus";
import { ROOT } from "../helpers/stack-file";
import { LAB_NODES, writeLabStackFile } from "../nodes/lab-stack";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver", "prometheus", "alertmanager"]);

const VERSION = "v1.33.5+k3s1";
const CANARY = LAB_NODES[1].name;
const GRACE = 5;
const LIFETIME = 600;
/** The NotReady rule's `for` (components/monitoring/oceanid.rules.yaml). */
const FOR_SECONDS = 60;

let lab: NodeLab;
let exporter: ChildProcess | undefined;
let monitoring: Monitoring | undefined;
let sink: WebhookSink | undefined;
let exporterLog = "";

beforeAll(async () => {
    lab = await NodeLab.start({ nodes: LAB_NODES.map((n) => ({ ...n, version: VERSION })), subnet: 11, graceSeconds: GRACE });
    const stackFile = writeLabStackFile(lab, VERSION);
    const kubeconfig = join(lab.dir, "exporter.kubeconfig");
    writeFileSync(kubeconfig, lab.kubeconfig, { mode: 0o600 });
    // The built command, as `npx oceanid-health serve` runs it; killed by `timeout` if the test dies.
    exporter = spawn(
        "timeout",
        ["-s", "KILL", String(LIFETIME), process.execPath, join(ROOT, "components", "health", "oceanid-health.cjs"), "serve"].concat([
            "--config-file",
            stackFile,
            "--kubeconfig",
            kubeconfig,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1",
        ]),
        { cwd: lab.dir, env: { PATH: process.env.PATH, HOME: lab.dir }, stdio: ["ignore", "ignore", "pipe"] },
    );
    const target = await new Promise<string>((resolve, reject) => {
        exporter!.stderr!.on("data", (d: Buffer) => {
            exporterLog += d.toString();
            const m = /http:\/\/(\S+)\/metrics/.exec(exporterLog);
            if (m) resolve(m[1]);
        });
        exporter!.on("exit", (code) => reject(new Error(`oceanid-health serve exited ${code}: ${exporterLog}`)));
    });
    sink = await startWebhookSink();
    monitoring = await startMonitoring({
        scrapeTargets: [target],
        jobName: "oceanid-health",
        scrapeIntervalSeconds: 1,
        evaluationIntervalSeconds: 1,
        ruleFiles: [join(ROOT, "components", "monitoring", "oceanid.rules.yaml")],
        webhookUrl: sink.url,
        alertmanager: { groupWaitSeconds: 1, groupIntervalSeconds: 1, repeatIntervalSeconds: 3600, resolveTimeoutSeconds: 60 },
        lifetimeSeconds: LIFETIME,
    });
}, 180_000);
afterAll(async () => {
    await monitoring?.stop();
    await sink?.stop();
    exporter?.kill("SIGTERM");
    await lab?.stop();
});

/** The first notification at or after `since` about `alertname` (for `node`, if given) with `status`; its arrival time. */
function arrived(alertname: string, status: "firing" | "resolved", since: number, node?: string): number | undefined {
    return sink!
        .received()
        .find(
            (n) =>
                n.at >= since &&
                n.payload.alerts.some((a) => a.labels.alertname === alertname && a.status === status && (node === undefined || a.labels.node === node)),
        )?.at;
}
const nodeAlerts = () =>
    sink!
        .received()
        .flatMap((n) => n.payload.alerts)
        .filter((a) => a.labels.alertname !== "Watchdog");

suite("alerts from oceanid-health through Prometheus and Alertmanager", () => {
    it("a node cut off pages within the rules' bound and resolves when it is back; the dead man's switch fires throughout", async () => {
        const t0 = Date.now();
        await until("the dead man's switch at the receiver", 30_000, async () => arrived("Watchdog", "firing", 0));
        // Healthy: every node Ready as Prometheus sees it, and nothing but the watchdog at the receiver.
        await until("every node Ready in Prometheus", 30_000, async () => {
            const data = await monitoring!.query("sum(oceanid_node_ready)");
            return data.resultType === "vector" && data.result[0]?.value[1] === "3" ? true : undefined;
        });
        expect(nodeAlerts()).toEqual([]);

        const cut = Date.now();
        lab.cutNetwork(CANARY);
        // The controller's grace, the rule's minute, then one probe round, scrape, evaluation and group wait each.
        const bound = GRACE + FOR_SECONDS + 25;
        const fired = (await until("OceanidNodeNotReady at the receiver", bound * 1000, async () => arrived("OceanidNodeNotReady", "firing", cut, CANARY)))
            .value;
        const firing = nodeAlerts().filter((a) => a.status === "firing");
        expect(firing.map((a) => [a.labels.alertname, a.labels.node, a.labels.severity, a.annotations.runbook_url])).toContainEqual([
            "OceanidNodeNotReady",
            CANARY,
            "critical",
            "docs/runbooks/monitoring.md#oceanidnodenotready",
        ]);
        // Only the node that was cut off.
        expect(new Set(firing.map((a) => a.labels.node))).toEqual(new Set([CANARY]));

        const back = Date.now();
        lab.restoreNetwork(CANARY);
        const resolved = (
            await until("OceanidNodeNotReady resolved at the receiver", 60_000, async () => arrived("OceanidNodeNotReady", "resolved", back, CANARY))
        ).value;
        console.log(
            `alert path: dead man's switch after ${((arrived("Watchdog", "firing", 0)! - t0) / 1000).toFixed(1)}s; ` +
                `node cut → OceanidNodeNotReady at the receiver ${((fired - cut) / 1000).toFixed(1)}s (bound ${bound}s: grace ${GRACE}s + for ${FOR_SECONDS}s + 25s); ` +
                `node back → resolved ${((resolved - back) / 1000).toFixed(1)}s`,
        );
        expect((fired - cut) / 1000).toBeGreaterThanOrEqual(FOR_SECONDS);
        // Still firing: the dead man's switch was never resolved.
        expect(arrived("Watchdog", "resolved", 0)).toBeUndefined();
    });
});
