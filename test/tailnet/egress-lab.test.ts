// The egress gateway on a real tailnet (test/tailnet/lab.ts): headscale, derper, a
// userspace exit node, and containerboot with the environment the program renders
// (gatewaySettings + gatewayDeployment, the real builders). A client in its own
// namespace uses the gateway's HTTP and SOCKS5 proxy; the "internet" is reachable
// only from the exit node and answers with the caller's address. Needs root, `ip
// netns` and the tailnet lab toolchain (scripts/toolchain/tailscale, .../headscale).
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { describeNeeding } from "../helpers/needs";

import { gatewaySettings } from "../../components/network/egress-gateway";
import { authKeySecretName, gatewayDeployment, READINESS_TIMING, type TailscaleLogs } from "../../components/network/gateway-workload";
import { evaluate } from "../../policies/engine/evaluate";
import { loadGuardConfig } from "../../policies/engine/guard-config";
import { fromManifest } from "../../policies/engine/kube-object";
import { RULES } from "../../policies/rules";
import { problemsOf, validRaw } from "../fixtures/stack-config";
import { LAB_PATH } from "../lab/processes";
import { KubeletReadiness } from "./kubelet-probe";
import { LAB_ADDRESSES as A, LAB_INTERNET_NAME, TailnetLab, toolDir, type EnvVar, type LabProcess } from "./lab";

const suite = describeNeeding(["root", "netns", "tailscaled", "tailscale", "containerboot", "derper", "headscale"]);

const ROOT = join(__dirname, "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The gateway's Deployment as the program renders it for this exit node. */
function renderedDeployment(exitNode: string, tailscaleLogs?: TailscaleLogs) {
    return gatewayDeployment(gatewaySettings("egress-gateway", { exitNode, ...(tailscaleLogs ? { tailscaleLogs } : {}) }));
}

/** The rendered readiness probe for this exit node. */
const readinessProbe = (exitNode: string) => renderedDeployment(exitNode).spec.template.spec.containers[0].readinessProbe;

/** busybox, when installed: the probe then also runs with busybox's sh, tr and grep, the image's (Alpine) userland. */
const BUSYBOX = toolDir("busybox", `${process.env.PATH ?? ""}:${LAB_PATH}`);

/**
 * The container's environment as the kubelet would give it: every literal value as rendered
 * (TS_NO_LOGS_NO_SUPPORT=true among them unless `tailscaleLogs: "upload"`), the auth key from
 * "the Secret" (the only valueFrom), plus the lab's control server on TS_EXTRA_ARGS
 * (`--login-server`; containerboot has no variable for it).
 */
function containerEnv(exitNode: string, authKey: string, loginServer: string, tailscaleLogs?: TailscaleLogs): EnvVar[] {
    const c = renderedDeployment(exitNode, tailscaleLogs).spec.template.spec.containers[0];
    const env = c.env.map((e): EnvVar => {
        if ("value" in e && typeof e.value === "string") return { name: e.name, value: e.value };
        const ref = (e as { valueFrom?: { secretKeyRef?: { name: string; key: string } } }).valueFrom?.secretKeyRef;
        if (e.name === "TS_AUTHKEY" && ref?.name === authKeySecretName("egress-gateway") && ref.key === "authkey") return { name: e.name, value: authKey };
        throw new Error(`unexpected env entry ${JSON.stringify(e)}`);
    });
    const extra = env.find((e) => e.name === "TS_EXTRA_ARGS")!;
    extra.value = `${extra.value} --login-server=${loginServer}`;
    return env;
}

/** The liveness probe's URL on the gateway's pod address: path and named port from the Deployment. */
function probeUrl(): string {
    const c = renderedDeployment("100.64.0.1").spec.template.spec.containers[0];
    const get = c.livenessProbe.httpGet;
    const port = c.ports.find((p) => p.name === get.port)!.containerPort;
    return `http://${A.gatewayTailnetSide}:${port}${get.path}`;
}

/** Host paths where a Tailscale run outside the lab would leave something. */
const HOST_PATHS = [
    "/var/lib/tailscale",
    "/var/run/tailscale",
    "/run/tailscale",
    "/tmp/tailscaled.sock",
    "/tmp/tailscaled.state",
    "/var/lib/headscale",
    "/var/run/headscale",
    "/var/lib/derper",
    "/root/.local/share/tailscale",
    "/root/.cache/Tailscale",
];

suite("egress gateway on a real tailnet (headscale, derper, userspace exit node, containerboot)", () => {
    let lab: TailnetLab;
    let exitIp = "";
    let authKey = "";
    let gateway: LabProcess | undefined;
    const hostBefore = new Map<string, boolean>();
    const timings: string[] = [];

    async function startGateway(name: string, exitNode: string, tailscaleLogs?: TailscaleLogs): Promise<LabProcess> {
        gateway = lab.startGateway(name, containerEnv(exitNode, authKey, lab.loginServer, tailscaleLogs));
        return gateway;
    }

    /** Where the host's and busybox's userland disagreed on a probe (expected: never). */
    const userlandMismatches: string[] = [];

    /**
     * Runs the rendered readiness probe of gateway `name` (configured with `exitNode`) once, as the
     * kubelet does (in the container, uid 1000, its environment, killed after timeoutSeconds):
     * its exit code. With busybox installed, also with busybox's sh, tr and grep; a disagreement
     * that repeats is recorded and counts as a failure.
     */
    async function probeCode(name: string, exitNode: string): Promise<number> {
        const p = readinessProbe(exitNode);
        const host = () => lab.gatewayExec(name, p.exec.command, { timeoutSeconds: p.timeoutSeconds });
        if (!BUSYBOX) return (await host()).code;
        const busybox = () => lab.gatewayExec(name, p.exec.command, { timeoutSeconds: p.timeoutSeconds, userland: { busybox: join(BUSYBOX, "busybox") } });
        // The two runs are a few ms apart: when tailscaled's state changes in between they differ
        // for that reason alone, so a disagreement counts only when it repeats.
        let last = "";
        for (let attempt = 0; attempt < 3; attempt++) {
            const [r, b] = [await host(), await busybox()];
            if ((b.code === 0) === (r.code === 0)) return r.code;
            last = `${name}: host exit ${r.code}, busybox exit ${b.code} ${b.stderr}`;
        }
        userlandMismatches.push(last);
        return 255;
    }

    /** The kubelet's readiness of gateway `name`, probing from now on. */
    const kubeletReadiness = (name: string, exitNode: string) => new KubeletReadiness(() => probeCode(name, exitNode), READINESS_TIMING);
    /** The stated bound: NotReady at most this long after tailscaled sees the exit node unusable. */
    const NOT_READY_BOUND_MS = (READINESS_TIMING.periodSeconds * READINESS_TIMING.failureThreshold + READINESS_TIMING.timeoutSeconds) * 1000;
    /** Ready again at most this long after tailscaled sees it usable again. */
    const READY_BOUND_MS = (READINESS_TIMING.periodSeconds * READINESS_TIMING.successThreshold + READINESS_TIMING.timeoutSeconds) * 1000;
    /** Process start-up and scheduling in the lab, on top of the kubelet's arithmetic. */
    const SLACK_MS = 1500;
    const secs = (ms: number) => (ms / 1000).toFixed(1);

    async function stopGateway() {
        if (gateway) await lab.stopGateway(gateway);
        gateway = undefined;
    }

    /** GET the probe URL from inside the gateway's namespace (as the kubelet does, on the pod address). */
    async function health(): Promise<{ status: number; body: string }> {
        const r = await lab.inNs("gateway", ["curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", probeUrl()]);
        const lines = r.stdout.split("\n");
        return { status: Number(lines.pop()), body: lines.join("\n").trim() };
    }

    /** A request from the client through the gateway's proxy: curl's exit code, the HTTP status (0: none), body, curl's error. */
    async function proxied(proxy: "http" | "socks5h", url: string, t: number): Promise<{ code: number; status: number; body: string; error: string }> {
        const r = await lab.curl(["--proxy", `${proxy}://${A.gatewayClientSide}:1055`, "-w", "\n%{http_code}", url], t);
        const lines = r.stdout.split("\n");
        const status = Number(lines.pop());
        return { code: r.code, status, body: lines.join("\n"), error: r.stderr.trim() };
    }
    const viaHttp = (url = `http://${A.internet}/`, t = 15) => proxied("http", url, t);
    const viaSocks = (url = `http://${A.internet}/`, t = 15) => proxied("socks5h", url, t);
    const ok = (r: { code: number; status: number }) => r.code === 0 && r.status === 200;

    beforeAll(async () => {
        for (const p of HOST_PATHS) hostBefore.set(p, existsSync(p));
        const t0 = Date.now();
        lab = await TailnetLab.start({ lifetimeSeconds: 900 });
        timings.push(`lab ${Date.now() - t0} ms`);
        const t1 = Date.now();
        exitIp = await lab.startExitNode();
        timings.push(`exit node ${Date.now() - t1} ms`);
        authKey = await lab.preAuthKey({ reusable: true, ephemeral: true });
    }, 180_000);

    // Every test stops the gateway it started; the one of the health test ("main") carries on into
    // the exit-node test, which stops it.
    afterEach(async () => {
        if (gateway && gateway.name !== "gateway-main") await stopGateway();
        lab?.blockGatewayControl(false);
    });

    afterAll(async () => {
        await lab?.stop();
        console.log(`tailnet lab timings: ${timings.join(", ")}`);
        console.log(
            `readiness probe userland: host sh/tr/grep${BUSYBOX ? ` and busybox (${join(BUSYBOX, "busybox")})` : " only (install busybox to also run it with the image's userland)"}`,
        );
    });

    it("the lab: only the exit node reaches the internet; the gateway and the client have no route to it", async () => {
        expect(exitIp).toMatch(/^100\.64\.\d+\.\d+$/);
        const fromExit = await lab.inNs("exit", ["curl", "-sS", "--max-time", "5", `http://${A.internet}/`]);
        expect(fromExit.stdout).toBe(`source=${A.exitInternetSide}\n`);
        for (const n of ["gateway", "client", "control"] as const) {
            const r = await lab.inNs(n, ["ip", "route", "get", A.internet]);
            expect(r.code, n).not.toBe(0);
            expect(r.stderr, n).toMatch(/Network is unreachable/);
        }
        // The exit node is approved as one by headscale.
        const exitNode = (await lab.nodes()).find((n) => n.given_name === "lab-exit");
        expect(exitNode.approved_routes).toEqual(expect.arrayContaining(["0.0.0.0/0", "::/0"]));
    });

    it("the incident's exit node by short hostname: refused by the config and the policy pack, and by tailscale at start", async () => {
        for (const name of ["srv712429", "srv712429-oceanid"]) {
            const raw = validRaw();
            raw.egress.exitNode = name;
            expect(problemsOf(raw)).toEqual([
                `egress.exitNode: got "${name}"; use the Tailscale IP (100.x.y.z) of the exit node or "auto:any": ` +
                    'a name is not in the peer list when the gateway first starts, so tailscale rejects it ("invalid value for --exit-node")',
            ]);
            const objects = fromManifest({ apiVersion: "apps/v1", kind: "Deployment", ...renderedDeployment(name) }, {});
            const config = loadGuardConfig(
                join(ROOT, "policies", "guard-config.yaml"),
                RULES.map((r) => r.id),
            );
            const { violations } = evaluate(objects, RULES, config, { annotations: true, now: new Date() });
            expect(violations.map((v) => [v.policy, v.enforcementLevel, v.message])).toEqual([
                [
                    "tailscale-exit-node-by-ip",
                    "mandatory",
                    `Deployment egress-gateway/egress-gateway: container "tailscale" sets --exit-node=${name} in TS_EXTRA_ARGS; a name is not in the peer list when ` +
                        'the container first starts, so tailscale rejects it ("invalid value for --exit-node"), and a non-Tailscale IP is never a peer: ' +
                        "use the exit node's Tailscale IP or auto:any",
                ],
            ]);
        }
        // What containerboot does with it anyway (the gates above exist so that it never runs). At
        // first start the peer list is empty (state in memory: every start is a first start).
        const t0 = Date.now();
        const p = await startGateway("short-name", "srv712429");
        const code = await p.waitExit(60_000);
        timings.push(`short-name gateway exited ${Date.now() - t0} ms after start`);
        expect(code, p.log()).not.toBe(0);
        expect(code).not.toBeUndefined();
        expect(p.log()).toContain("cannot resolve exit node by hostname while Tailscale is starting up; please use its Tailscale IP address instead");
        expect(p.log()).toMatch(/boot: \S+ \S+ failed to auth tailscale: failed to auth tailscale: tailscale up failed: exit status 1/);
        expect(p.log()).not.toContain("Setting healthy true");
        expect((await health()).status).not.toBe(200); // nothing listens any more: never Ready
        await stopGateway();
    });

    it("health turns ready only with a tailnet IP; then HTTP and SOCKS5 (socks5h) go out through the exit node", async () => {
        lab.blockGatewayControl(true);
        const t0 = Date.now();
        await startGateway("main", exitIp);
        const before = await lab.until("the health endpoint to answer", 30_000, async () => {
            const h = await health();
            return h.status !== 0 ? h : undefined;
        });
        expect(before).toEqual({ status: 503, body: "node currently has no tailscale IPs" });
        await sleep(3000);
        expect(await health()).toEqual({ status: 503, body: "node currently has no tailscale IPs" });
        // The proxies listen already, and refuse: the HTTP proxy answers 502, SOCKS5 fails the connect.
        expect(await viaHttp(undefined, 5)).toEqual({ code: 0, status: 502, body: "", error: "" });
        expect((await viaSocks(undefined, 5)).error).toBe(`curl: (97) Can't complete SOCKS5 connection to ${A.internet}. (1)`);
        lab.blockGatewayControl(false);
        const t1 = Date.now();
        await lab.until("the health endpoint to turn ready", 60_000, async () => ((await health()).status === 200 ? true : undefined));
        timings.push(`gateway ready ${Date.now() - t1} ms after control reachable`);
        expect(await health()).toEqual({ status: 200, body: "ok" });
        // The liveness probe asks that endpoint; readiness asks about the exit node (next test).
        const c = renderedDeployment(exitIp).spec.template.spec.containers[0];
        expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "health" });

        const http = await lab.until("the HTTP proxy to reach the internet", 60_000, async () => {
            const r = await viaHttp(undefined, 5);
            return ok(r) ? r : undefined;
        });
        timings.push(`first proxied request ${Date.now() - t0} ms after gateway start`);
        expect(http.body).toBe(`source=${A.exitInternetSide}\n`);
        const socks = await viaSocks();
        expect(socks).toEqual({ code: 0, status: 200, body: `source=${A.exitInternetSide}\n`, error: "" });
        // socks5h: the name is resolved at the exit node (the lab's DNS, the exit node's only resolver).
        const byName = await viaSocks(`http://${LAB_INTERNET_NAME}/`);
        expect(byName).toEqual({ code: 0, status: 200, body: `source=${A.exitInternetSide}\n`, error: "" });
        // The HTTP proxy resolves names at the exit node too.
        expect(await viaHttp(`http://${LAB_INTERNET_NAME}/`)).toEqual({ code: 0, status: 200, body: `source=${A.exitInternetSide}\n`, error: "" });
        expect(lab.internetRequests().some((r) => r.host === LAB_INTERNET_NAME)).toBe(true);
        // The incident's message: what `tailscale up` says once the peer list is known (a restart with
        // persisted state, as the incident's DaemonSet had), for both names it tried; the prefs stay as they were.
        for (const name of ["srv712429", "srv712429-oceanid"]) {
            const up = await lab.gatewayCli("main", ["up", `--exit-node=${name}`, `--login-server=${lab.loginServer}`]);
            expect(up.code).toBe(1);
            expect(up.stderr.trim()).toBe(`invalid value "${name}" for --exit-node; must be IP or peer hostname`);
        }
        const wrongUp = await lab.gatewayCli("main", ["up", "--exit-node=100.64.0.99", `--login-server=${lab.loginServer}`]);
        expect(wrongUp.stderr.trim()).toBe("no node found in netmap with IP 100.64.0.99");
        expect((await viaSocks()).body).toBe(`source=${A.exitInternetSide}\n`);
        // The internet only ever saw the exit node.
        expect(new Set(lab.internetRequests().map((r) => r.source))).toEqual(new Set([A.exitInternetSide]));
        // The client reaches the proxy port and nothing else of the gateway.
        const healthFromClient = await lab.curl([`http://${A.gatewayClientSide}:9002/healthz`], 3);
        expect(healthFromClient.code).not.toBe(0);
    });

    it("readiness follows the exit node: NotReady when its routes are unapproved or it is offline, Ready again when it returns; liveness stays healthy", async () => {
        expect(gateway?.name).toBe("gateway-main");
        const kubelet = kubeletReadiness("main", exitIp);
        try {
            await kubelet.until(true, 30_000);
            expect(await probeCode("main", exitIp)).toBe(0);

            /** Takes the exit node away with `down`, measures NotReady, brings it back with `up`, measures Ready. */
            const outage = async (what: string, down: () => Promise<void>, up: () => Promise<void>) => {
                const seen = lab.internetRequests().length;
                const t0 = Date.now();
                await down();
                const noticed = await lab.until(`the probe to fail (${what})`, 60_000, async () =>
                    (await probeCode("main", exitIp)) !== 0 ? Date.now() : undefined,
                );
                const notReady = await kubelet.until(false, 60_000);
                // The pod stays alive: liveness (/healthz) is still 200, so no restart loop.
                expect(await health()).toEqual({ status: 200, body: "ok" });
                // And egress is down indeed, without leaking.
                expect(ok(await viaSocks(undefined, 5))).toBe(false);
                expect(lab.internetRequests().slice(seen)).toEqual([]);
                const t1 = Date.now();
                await up();
                const back = await lab.until(`the probe to pass (${what}, back)`, 60_000, async () =>
                    (await probeCode("main", exitIp)) === 0 ? Date.now() : undefined,
                );
                const ready = await kubelet.until(true, 60_000);
                const line =
                    `${what}: probe failing ${secs(noticed - t0)} s after, NotReady ${secs(notReady - t0)} s after; ` +
                    `back: probe passing ${secs(back - t1)} s after, Ready ${secs(ready - t1)} s after`;
                timings.push(line);
                console.log(`readiness: ${line}`);
                expect(notReady - noticed, line).toBeLessThanOrEqual(NOT_READY_BOUND_MS + SLACK_MS);
                expect(ready - back, line).toBeLessThanOrEqual(READY_BOUND_MS + SLACK_MS);
                // Traffic flows again once Ready.
                const r = await lab.until(`requests after ${what}`, 60_000, async () => {
                    const x = await viaSocks(undefined, 5);
                    return ok(x) ? x : undefined;
                });
                expect(r.body).toBe(`source=${A.exitInternetSide}\n`);
            };

            // Not approved: headscale withdraws the exit routes; the node stays online and in use, but
            // is no longer an exit node option (ExitNodeOption false, 0.0.0.0/0 gone from AllowedIPs).
            await outage(
                "exit routes unapproved",
                () => lab.approveExitRoutes("lab-exit", false),
                () => lab.approveExitRoutes("lab-exit", true),
            );
            const st = JSON.parse((await lab.gatewayCli("main", ["status", "--json"])).stdout);
            expect(st.ExitNodeStatus).toMatchObject({ Online: true, TailscaleIPs: expect.arrayContaining([`${exitIp}/32`]) });
            // Offline: tailscaled killed (SIGKILL); headscale sees its long-poll end and tells the peers.
            await outage(
                "exit node killed",
                () => lab.killExitNode(),
                async () => {
                    expect(await lab.startExitNode()).toBe(exitIp);
                },
            );
            expect(kubelet.changes.map((c) => c.ready)).toEqual([true, false, true, false, true]);
            expect(userlandMismatches).toEqual([]);
        } finally {
            await kubelet.stop();
        }
    });

    it("killing the exit node makes requests fail, not leak; bringing it back restores them", async () => {
        expect(gateway?.name).toBe("gateway-main");
        expect((await viaHttp()).body).toBe(`source=${A.exitInternetSide}\n`);
        const seen = lab.internetRequests().length;
        await lab.killExitNode();
        // The HTTP proxy waits for the exit node until the client gives up; SOCKS5 fails the connect.
        const http = await viaHttp(undefined, 8);
        expect({ ...http, error: http.error.replace(/after \d+ milliseconds/, "after N milliseconds") }).toEqual({
            code: 28,
            status: 0,
            body: "",
            error: "curl: (28) Operation timed out after N milliseconds with 0 bytes received",
        });
        expect(await viaSocks(undefined, 8)).toEqual({
            code: 97,
            status: 0,
            body: "",
            error: `curl: (97) Can't complete SOCKS5 connection to ${A.internet}. (1)`,
        });
        expect(lab.internetRequests().slice(seen)).toEqual([]);
        const t0 = Date.now();
        const back = await lab.startExitNode();
        expect(back).toBe(exitIp);
        const r = await lab
            .until("requests through the restarted exit node", 90_000, async () => {
                const x = await viaHttp(undefined, 5);
                return ok(x) ? x : undefined;
            })
            .catch((e) => {
                throw new Error(
                    `${(e as Error).message}\n--- gateway ---\n${gateway!.log().split("\n").slice(-60).join("\n")}\n--- exit ---\n${lab.logTail("exit-tailscaled", 60)}`,
                );
            });
        timings.push(`restored ${Date.now() - t0} ms after exit node restart`);
        expect(r.body).toBe(`source=${A.exitInternetSide}\n`);
        expect((await viaSocks()).body).toBe(`source=${A.exitInternetSide}\n`);
        expect(new Set(lab.internetRequests().map((x) => x.source))).toEqual(new Set([A.exitInternetSide]));
        await stopGateway();
    });

    it("a wrong but well-formed Tailscale IP: the gateway starts, the client gets an error, nothing goes out directly", async () => {
        await stopGateway();
        const seen = lab.internetRequests().length;
        const wrong = "100.64.0.99";
        await startGateway("wrong-ip", wrong);
        const ready = await lab.until("the health endpoint to answer", 60_000, async () => {
            const h = await health();
            return h.status === 200 || gateway!.exited ? h : undefined;
        });
        expect(ready.status, gateway!.log()).toBe(200); // health only says "has a tailnet IP"
        const st = JSON.parse((await lab.gatewayCli("wrong-ip", ["status", "--json"])).stdout);
        expect(st.BackendState).toBe("Running");
        expect(st.ExitNodeStatus).toBeUndefined(); // no peer holds the address
        // Readiness says so: the probe fails, and the kubelet never marks the pod Ready.
        const kubelet = kubeletReadiness("wrong-ip", wrong);
        // For 10 s: every request fails, with the same errors, and nothing reaches the internet.
        for (const until = Date.now() + 10_000; Date.now() < until;) {
            expect(await viaHttp(undefined, 8)).toEqual({ code: 0, status: 502, body: "", error: "" });
            expect(await viaSocks(undefined, 8)).toEqual({
                code: 97,
                status: 0,
                body: "",
                error: `curl: (97) Can't complete SOCKS5 connection to ${A.internet}. (1)`,
            });
            await sleep(1000);
        }
        expect(lab.internetRequests().slice(seen)).toEqual([]);
        await kubelet.stop();
        expect(kubelet.probes.length).toBeGreaterThanOrEqual(2);
        expect(kubelet.probes.filter((p) => p.code === 0)).toEqual([]);
        expect(kubelet.changes).toEqual([]);
        expect((await health()).status).toBe(200); // alive all along: liveness keeps it running
        await stopGateway();
    });

    it("an exit node IP that no node holds yet: NotReady; a node joins with that IP: Ready, and requests go out through it", async () => {
        await stopGateway();
        // One exit node per namespace: the first one leaves (offline) for a second identity.
        await lab.killExitNode();
        // headscale allocates IPv4 addresses in sequence: the gateway gets the next one, the
        // second exit node the one after it.
        const v4 = (await lab.nodes()).flatMap((n) => (n.ip_addresses as string[]).filter((a) => /^100\./.test(a)));
        const next = (ip: string) => {
            const n = ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0) + 1;
            return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
        };
        const last = v4.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1)!;
        const absent = next(next(last));
        await startGateway("late", absent);
        await lab.until("the gateway's tailnet IP", 60_000, async () => ((await health()).status === 200 ? true : undefined));
        expect((await lab.gatewayCli("late", ["ip", "-4"])).stdout.trim(), "headscale's next address").toBe(next(last));
        expect((await lab.nodes()).some((n) => (n.ip_addresses as string[]).includes(absent))).toBe(false);
        const kubelet = kubeletReadiness("late", absent);
        try {
            await sleep(READINESS_TIMING.periodSeconds * 2 * 1000);
            expect(kubelet.ready).toBe(false);
            expect(kubelet.probes.filter((p) => p.code === 0)).toEqual([]);
            const t0 = Date.now();
            expect(await lab.startExitNode({ identity: "second" })).toBe(absent);
            const ready = await kubelet.until(true, 60_000);
            const line = `absent exit node joined: Ready ${secs(ready - t0)} s after its tailscaled started`;
            timings.push(line);
            console.log(`readiness: ${line}`);
            const r = await lab.until("requests through the second exit node", 60_000, async () => {
                const x = await viaSocks(undefined, 5);
                return ok(x) ? x : undefined;
            });
            expect(r.body).toBe(`source=${A.exitInternetSide}\n`);
            expect(userlandMismatches).toEqual([]);
        } finally {
            await kubelet.stop();
        }
        await stopGateway();
    });

    it("log upload to Tailscale: off as rendered by default (tailscaled says so), on only with tailscaleLogs: upload", async () => {
        await stopGateway();
        // Control blocked: the lab's headscale runs with logtail off, and so tells every node it
        // reaches to disable log upload (tailcfg.Debug.DisableLogTail); what is seen here is the
        // rendered environment alone.
        lab.blockGatewayControl(true);
        for (const mode of [undefined, "upload"] as const) {
            const name = `logs-${mode ?? "default"}`;
            const env = containerEnv(exitIp, authKey, lab.loginServer, mode);
            expect(env.find((e) => e.name === "TS_NO_LOGS_NO_SUPPORT")?.value).toBe(mode === "upload" ? "false" : "true");
            const p = await startGateway(name, exitIp, mode);
            // The daemon's own answer: `tailscale bugreport` names the log marker it wrote.
            const marker = await lab.until("tailscaled to answer bugreport", 30_000, async () => {
                const r = await lab.gatewayCli(name, ["bugreport"]);
                return r.code === 0 ? r.stdout.trim() : undefined;
            });
            if (mode === "upload") {
                expect(marker).toMatch(/^BUG-[0-9a-f]{64}-\S+-[0-9a-f]{16}$/);
                expect(p.log()).not.toContain("You have disabled logging");
            } else {
                expect(marker).toBe("BUG-NO-LOGS-NO-SUPPORT-this-node-has-had-its-logging-disabled");
                expect(p.log()).toContain("You have disabled logging. Tailscale will not be able to provide support.");
            }
            await stopGateway();
        }
    });

    /** Starts a lab in another process (fixtures/hold-lab.ts) and returns that process and what the lab holds. */
    async function otherLab() {
        const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "fixtures", "hold-lab.ts")], {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
            env: process.env,
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        const info = await lab.until("the other lab to start", 60_000, async () => (out.includes("\n") ? JSON.parse(out.split("\n")[0]) : undefined));
        const held = info as { dir: string; ns: Record<string, string>; pids: number[] };
        expect(held.pids.length).toBeGreaterThan(0);
        for (const pid of held.pids) started.set(pid, stat(pid)?.[19]);
        return { child, ...held };
    }
    /** The fields of /proc/<pid>/stat after the command name (state first); undefined once it is gone. */
    const stat = (pid: number) => {
        const text = spawnSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8" }).stdout;
        return text ? text.slice(text.lastIndexOf(")") + 2).split(" ") : undefined;
    };
    /** When each pid of a held lab started (field 22): under load the kernel soon gives a pid to another process. */
    const started = new Map<number, string | undefined>();
    const running = (pid: number) => {
        const fields = stat(pid);
        return fields !== undefined && fields[0] !== "Z" && (!started.has(pid) || fields[19] === started.get(pid));
    };
    const gone = (held: { dir: string; ns: Record<string, string>; pids: number[] }) => {
        const nsList = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
        return Object.values(held.ns).every((ns) => !nsList.includes(ns)) && !existsSync(held.dir) && held.pids.every((p) => !running(p));
    };

    it("a lab whose test process is killed (SIGKILL) is removed by its reaper within seconds", async () => {
        const other = await otherLab();
        other.child.kill("SIGKILL");
        const t0 = Date.now();
        await lab.until("the reaper to remove the other lab", 10_000, async () => (gone(other) ? true : undefined));
        timings.push(`reaper cleaned up ${Date.now() - t0} ms after SIGKILL`);
    });

    it("a lab whose test process was killed (its reaper too) is removed by the next start", async () => {
        const stale = await otherLab();
        // Kill its reaper first (else it cleans up within a second), then the owner.
        const reapers = spawnSync("ps", ["-eo", "pid=,pgid=,args="], { encoding: "utf8" })
            .stdout.split("\n")
            .filter((l) => l.includes(`reaper.sh ${stale.child.pid} `))
            .map((l) => Number(l.trim().split(/\s+/)[1]));
        expect(reapers.length).toBeGreaterThan(0);
        for (const pgid of new Set(reapers)) process.kill(-pgid, "SIGKILL");
        stale.child.kill("SIGKILL");
        await new Promise((r) => stale.child.once("exit", r));
        // Left behind: headscale, derper, the internet server (checked at once: a lab another test
        // process starts meanwhile would remove them too, which is the behaviour under test).
        expect(stale.pids.filter(running).length).toBeGreaterThan(0);
        expect(existsSync(stale.dir)).toBe(true);

        const next = await TailnetLab.start({ lifetimeSeconds: 60 });
        await next.stop();
        await sleep(200);
        expect(gone(stale)).toBe(true);
    });

    it("leaves nothing behind: namespaces, processes, files", async () => {
        const namespaces = Object.values(lab.ns);
        const dir = lab.dir;
        const pids = lab.pids();
        expect(pids.length).toBeGreaterThan(0);
        await lab.stop();
        const nsList = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
        for (const ns of namespaces) expect(nsList).not.toContain(ns);
        for (const ns of namespaces) expect(existsSync(`/run/netns/${ns}`)).toBe(false);
        for (const pid of pids)
            expect(existsSync(`/proc/${pid}`) && !/\)\s+Z/.test(spawnSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8" }).stdout), `pid ${pid}`).toBe(
                false,
            );
        expect(existsSync(dir)).toBe(false);
        const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
        expect(ps).not.toContain(dir);
        for (const [p, was] of hostBefore) expect(existsSync(p), p).toBe(was);
    });
});
