// The monitoring harness itself (test/helpers/prometheus.ts): real Prometheus and Alertmanager on
// loopback, a rule file written here, a tiny exporter whose one metric the test flips 1 → 0 → 1,
// and a webhook sink. It shows an alert reaching the webhook firing, then resolved, then firing
// again, with the seconds each took; and promtool judging a rule file as the rules' tests rely on.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeNeeding } from "../helpers/needs";
import { startMonitoring, startWebhookSink, type Monitoring, type ReceivedNotification, type WebhookSink } from "../helpers/prometheus";

const describeMonitoring = describeNeeding(["prometheus", "promtool", "alertmanager"]);

const RULES = `groups:
  - name: harness
    rules:
      - alert: HarnessAlwaysFiring
        expr: vector(1)
        labels:
          severity: test
        annotations:
          summary: always firing
      - alert: HarnessFlagUp
        expr: harness_flag == 1
        labels:
          severity: test
        annotations:
          summary: the exporter's flag is 1
`;
const BROKEN_RULES = `groups:
  - name: broken
    rules:
      - alert: Broken
        expr: sum(rate(harness_flag[1m])
`;

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** Polls `find` every 100 ms until it returns something, or fails after `timeoutMs` with `what` and the servers' logs. */
async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs: number, logs: () => string): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const found = find();
        if (found !== undefined) return found;
        if (Date.now() > end) throw new Error(`no ${what} after ${timeoutMs / 1000}s\n${logs().slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

describeMonitoring("monitoring harness: Prometheus, Alertmanager and a webhook on loopback", () => {
    const dir = mkdtempSync(join(tmpdir(), "oceanid-harness-"));
    const rules = join(dir, "rules.yml");
    const broken = join(dir, "broken.yml");
    writeFileSync(rules, RULES);
    writeFileSync(broken, BROKEN_RULES);

    let flag = 1;
    let exporter: Server;
    let sink: WebhookSink;
    let mon: Monitoring;

    beforeAll(async () => {
        exporter = createServer((req, res) => {
            if (req.url !== "/metrics") return res.writeHead(404).end();
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            res.end(`# HELP harness_flag What the test sets.\n# TYPE harness_flag gauge\nharness_flag ${flag}\n`);
        });
        await new Promise<void>((resolve) => exporter.listen(0, "127.0.0.1", resolve));
        const port = (exporter.address() as AddressInfo).port;
        sink = await startWebhookSink();
        const t0 = Date.now();
        mon = await startMonitoring({
            scrapeTargets: [`127.0.0.1:${port}`],
            scrapeIntervalSeconds: 1,
            evaluationIntervalSeconds: 1,
            ruleFiles: [rules],
            webhookUrl: sink.url,
            alertmanager: { groupWaitSeconds: 1, groupIntervalSeconds: 1, repeatIntervalSeconds: 3600, resolveTimeoutSeconds: 60 },
            lifetimeSeconds: 300,
        });
        console.log(`monitoring harness: Prometheus and Alertmanager ready in ${seconds(Date.now() - t0)}s`);
    }, 120_000);

    afterAll(async () => {
        await mon?.stop();
        await sink?.stop();
        await new Promise((r) => (exporter ? exporter.close(r) : r(undefined)));
        rmSync(dir, { recursive: true, force: true });
    });

    /** The first notification after `since` that carries alert `name` with `status`. */
    const notification = (name: string, status: "firing" | "resolved", since: number) => () =>
        sink.received().find((n: ReceivedNotification) => n.at >= since && n.payload.alerts.some((a) => a.labels.alertname === name && a.status === status));

    it("delivers firing alerts, then the resolved notification, then the alert again", async () => {
        const start = Date.now();
        const always = await waitFor("firing HarnessAlwaysFiring notification", notification("HarnessAlwaysFiring", "firing", start), 30_000, mon.logs);
        const up = await waitFor("firing HarnessFlagUp notification", notification("HarnessFlagUp", "firing", start), 30_000, mon.logs);
        expect(always.payload.receiver).toBe("webhook");
        expect(always.payload.alerts[0].labels.severity).toBe("test");
        expect(always.payload.alerts[0].annotations.summary).toBe("always firing");
        expect(await mon.query("harness_flag")).toMatchObject({ resultType: "vector", result: [{ value: [expect.any(Number), "1"] }] });
        expect(await mon.query('up{job="targets"}')).toMatchObject({ result: [{ value: [expect.any(Number), "1"] }] });

        flag = 0;
        const flippedDown = Date.now();
        const resolved = await waitFor("resolved HarnessFlagUp notification", notification("HarnessFlagUp", "resolved", flippedDown), 30_000, mon.logs);
        expect(resolved.payload.status).toBe("resolved");
        expect(resolved.payload.alerts[0].endsAt).not.toMatch(/^0001-/);

        flag = 1;
        const flippedUp = Date.now();
        const again = await waitFor(
            "firing HarnessFlagUp notification after the flag went back to 1",
            notification("HarnessFlagUp", "firing", flippedUp),
            30_000,
            mon.logs,
        );
        expect(again.payload.alerts[0].startsAt > up.payload.alerts[0].startsAt).toBe(true);

        // The always-firing alert never resolved, and with a repeat interval of an hour it was sent once.
        expect(
            sink
                .received()
                .filter((n) => n.payload.groupLabels.alertname === "HarnessAlwaysFiring")
                .map((n) => n.payload.status),
        ).toEqual(["firing"]);
        console.log(
            `monitoring harness: always-firing alert at the webhook ${seconds(always.at - start)}s after start, HarnessFlagUp firing ${seconds(up.at - start)}s; ` +
                `flag 1→0: resolved notification after ${seconds(resolved.at - flippedDown)}s; flag 0→1: firing again after ${seconds(again.at - flippedUp)}s`,
        );
    }, 120_000);

    it("promtool check rules passes the rule file and names the error of a broken one", () => {
        const ok = spawnSync("promtool", ["check", "rules", rules], { encoding: "utf8", timeout: 30_000 });
        expect(ok.status, ok.stdout + ok.stderr).toBe(0);
        expect(ok.stdout + ok.stderr).toMatch(/SUCCESS: 2 rules found/);
        const bad = spawnSync("promtool", ["check", "rules", broken], { encoding: "utf8", timeout: 30_000 });
        expect(bad.status).toBe(1);
        expect(bad.stdout + bad.stderr).toMatch(/FAILED/);
        expect(bad.stdout + bad.stderr).toMatch(/parse error.*unclosed left parenthesis/);
    });
});
