// The gate: polling on a fake clock with scripted observations, then the rendered command itself
// against a k3s-like HTTPS server and a real sshd, with the kubeconfig on stdin.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Probes } from "../../components/health/cli";
import { gateCommand, type GateSpec } from "../../components/health/gate-command";
import { KubeApiError, type KubeState, type ProbeResult } from "../../components/health/probes";
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
    type FakeApi,
    type Sshd,
} from "./fixtures";

const TOKEN = "kubeconfig-token-DO-NOT-PRINT-0123456789";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q";
const SINCE = NOW.getTime() / 1000;
const at = (secondsAfterChange: number) => new Date(NOW.getTime() + secondsAfterChange * 1000);

const gateArgs = (over: Record<string, string> = {}) => {
    const flags: Record<string, string> = {
        node: "srv712695",
        version: "v1.33.5+k3s1",
        ssh: "127.0.0.1:2222",
        "host-key": KEY,
        since: String(SINCE),
        timeout: "30",
        kubeconfig: "-",
        ...over,
    };
    return ["gate", ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v])];
};

/** A clock that only moves when the gate sleeps (or a probe takes time), and probes that follow a script. */
function scripted(poll: (n: number, now: Date) => { kube: KubeState | KubeApiError; ssh?: ProbeResult }) {
    let now = NOW.getTime();
    let n = 0;
    const seen: number[] = [];
    const probes: Partial<Probes> = {
        kubernetes: async () => {
            const step = poll(n, new Date(now));
            if (step.kube instanceof KubeApiError) throw step.kube;
            return step.kube;
        },
        ssh: async () => poll(n, new Date(now)).ssh ?? { ok: true },
    };
    return {
        seen,
        io: {
            now: () => new Date(now),
            sleep: async (ms: number) => {
                seen.push(ms);
                now += ms;
                n++;
            },
            readStdin: () => kubeconfigText(`https://${LOOPBACK}:1`),
            probes,
        },
    };
}

const state = (renewedAt: Date, opts: { ready?: string; kubelet?: string } = {}): KubeState => ({
    nodes: new Map([["srv712695", { ready: { status: opts.ready ?? "True", reason: "KubeletReady" }, kubeletVersion: opts.kubelet ?? "v1.33.5+k3s1" }]]),
    leases: new Map([["srv712695", renewedAt]]),
});

suite("gate polling", () => {
    it("passes once the node renews its Lease after the change, at the new version", async () => {
        // Before the change, then restarting (old version, NotReady), then back.
        const { io, seen } = scripted((n, now) =>
            n === 0 ? { kube: state(at(-5)) } : n < 3 ? { kube: state(at(-5), { ready: "False", kubelet: "v1.33.4+k3s1" }) } : { kube: state(now) },
        );
        const r = await run(gateArgs(), io);
        expect(r.stdout).toBe("GATE PASSED node=srv712695 version=v1.33.5+k3s1 after 6s\n");
        expect(r.code).toBe(0);
        expect(seen).toEqual([2000, 2000, 2000]);
        // Progress on stderr, once per change of what it waits for.
        expect(r.stderr).toBe(
            [
                "oceanid-health: gate: waiting for srv712695: Lease not renewed since the change (last renewed 2026-03-02T09:59:55.000Z, change at 2026-03-02T10:00:00.000Z)",
                "oceanid-health: gate: waiting for srv712695: Ready is False (KubeletReady); Lease not renewed since the change (last renewed 2026-03-02T09:59:55.000Z, change at 2026-03-02T10:00:00.000Z); kubelet v1.33.4+k3s1 but config says v1.33.5+k3s1",
                "",
            ].join("\n"),
        );
    });

    it("fails at the timeout with every remaining problem, on stderr", async () => {
        const { io, seen } = scripted(() => ({ kube: state(at(-5)), ssh: { ok: false, reason: "ssh 127.0.0.1:2222 unreachable (timed out after 5s)" } }));
        const r = await run(gateArgs({ timeout: "5", interval: "2" }), io);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr.split("\n").at(-2)).toBe(
            "GATE FAILED node=srv712695 reason=Lease not renewed since the change (last renewed 2026-03-02T09:59:55.000Z, change at 2026-03-02T10:00:00.000Z); ssh 127.0.0.1:2222 unreachable (timed out after 5s)",
        );
        // The last wait is cut to the deadline, and the node gets one more look there.
        expect(seen).toEqual([2000, 2000, 1000]);
    });

    it("retries API errors as problems until the timeout", async () => {
        const { io } = scripted((n, now) => (n < 2 ? { kube: new KubeApiError("unreachable (connect ECONNREFUSED)") } : { kube: state(now) }));
        const r = await run(gateArgs(), io);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe("oceanid-health: gate: waiting for srv712695: api: unreachable (connect ECONNREFUSED)\n");

        const down = scripted(() => ({ kube: new KubeApiError("refused the credentials (HTTP 401 Unauthorized)"), ssh: { ok: false, reason: "ssh x" } }));
        const failed = await run(gateArgs({ timeout: "3" }), down.io);
        expect(failed.code).toBe(1);
        expect(failed.stderr.split("\n").at(-2)).toBe("GATE FAILED node=srv712695 reason=api: refused the credentials (HTTP 401 Unauthorized); ssh x");
    });

    it("a node that never registered", async () => {
        const { io } = scripted(() => ({ kube: { nodes: new Map(), leases: new Map() } }));
        const r = await run(gateArgs({ node: "calypso", timeout: "1" }), io);
        expect(r.stderr.split("\n").at(-2)).toBe("GATE FAILED node=calypso reason=not registered in the API server");
        expect(r.code).toBe(1);
    });

    it("bad arguments exit 2 before any probe", async () => {
        const { io } = scripted(() => {
            throw new Error("probed");
        });
        const r = await run(gateArgs({ since: "soon", ssh: "nowhere" }), io);
        expect(r.code).toBe(2);
        expect(r.stderr.split("\n")[0]).toBe(
            'oceanid-health: gate: --ssh must be HOST:PORT (an IPv6 address in brackets: [fd00::1]:22), got "nowhere"; --since must be epoch seconds (date +%s on the node), got "soon"',
        );
        const bad = await run(gateArgs(), { ...io, readStdin: () => `token: ${TOKEN}\n: [` });
        expect(bad).toEqual({ code: 2, stdout: "", stderr: "oceanid-health: cannot check: the kubeconfig on stdin is not a valid kubeconfig\n" });
    });
});

suite("the gate settles", () => {
    /** A Lease renewed at each poll; the first poll is at the change's second, so the node's clock runs one second ahead. */
    const renewedAt = (now: Date) => state(new Date(now.getTime() + 1000));

    it("fails a node whose Lease was renewed once after the change and never again", async () => {
        // Renewed one second after the change, by the node's clock; every later poll sees the same renewTime.
        const { io, seen } = scripted(() => ({ kube: state(at(1)) }));
        const r = await run(gateArgs({ settle: "60", timeout: "90" }), io);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toBe(
            [
                "oceanid-health: gate: srv712695 is healthy; waiting until it has been for 60s",
                // Healthy until the gate's own clock has seen the same renewTime for more than 40s.
                "oceanid-health: gate: waiting for srv712695: Lease not renewed for 42s (limit 40s)",
                "GATE FAILED node=srv712695 reason=Lease not renewed for 90s (limit 40s)",
                "",
            ].join("\n"),
        );
        expect(seen).toHaveLength(45);
    });

    it("passes a steadily renewing node only once it has been healthy for --settle seconds", async () => {
        const { io, seen } = scripted((_, now) => ({ kube: renewedAt(now) }));
        const r = await run(gateArgs({ settle: "10" }), io);
        expect(r).toEqual({
            code: 0,
            stdout: "GATE PASSED node=srv712695 version=v1.33.5+k3s1 healthy for 10s after 10s\n",
            stderr: "oceanid-health: gate: srv712695 is healthy; waiting until it has been for 10s\n",
        });
        expect(seen).toEqual([2000, 2000, 2000, 2000, 2000]);
    });

    it("restarts the window at an unhealthy poll", async () => {
        const { io } = scripted((n, now) => ({ kube: n === 2 ? state(now, { ready: "False" }) : renewedAt(now) }));
        const r = await run(gateArgs({ settle: "10" }), io);
        expect(r.stdout).toBe("GATE PASSED node=srv712695 version=v1.33.5+k3s1 healthy for 10s after 16s\n");
        expect(r.stderr).toBe(
            [
                "oceanid-health: gate: srv712695 is healthy; waiting until it has been for 10s",
                "oceanid-health: gate: waiting for srv712695: Ready is False (KubeletReady)",
                "oceanid-health: gate: srv712695 is healthy; waiting until it has been for 10s",
                "",
            ].join("\n"),
        );
        expect(r.code).toBe(0);
    });

    it("--max-lease-age sets how long the renewTime may stay the same", async () => {
        const { io } = scripted(() => ({ kube: state(at(1)) }));
        const r = await run(gateArgs({ settle: "15", "max-lease-age": "5", timeout: "20" }), io);
        expect(r.code).toBe(1);
        expect(r.stderr.split("\n").slice(-3)).toEqual([
            "oceanid-health: gate: waiting for srv712695: Lease not renewed for 6s (limit 5s)",
            "GATE FAILED node=srv712695 reason=Lease not renewed for 20s (limit 5s)",
            "",
        ]);
    });

    it("fails a node still settling at the timeout, saying how long it was healthy", async () => {
        const { io } = scripted((n, now) => ({ kube: n < 3 ? state(at(-5)) : state(now) }));
        const r = await run(gateArgs({ settle: "10", timeout: "11" }), io);
        expect(r.code).toBe(1);
        expect(r.stderr.split("\n").at(-2)).toBe("GATE FAILED node=srv712695 reason=healthy for only 5s when --timeout ran out; --settle asks for 10s");
    });

    it("with --previous, says a node back on the release before may have reverted", async () => {
        const { io } = scripted((_, now) => ({ kube: state(now, { kubelet: "v1.33.4+k3s1" }) }));
        const r = await run(gateArgs({ previous: "v1.33.4+k3s1", timeout: "2" }), io);
        expect(r.code).toBe(1);
        expect(r.stderr.split("\n").at(-2)).toBe(
            "GATE FAILED node=srv712695 reason=kubelet v1.33.4+k3s1 (the release before the change: its revert may have run) but config says v1.33.5+k3s1",
        );
    });

    it("refuses a --settle the --timeout leaves no room for, before any probe", async () => {
        const { io } = scripted(() => {
            throw new Error("probed");
        });
        const r = await run(gateArgs({ settle: "30", timeout: "30" }), io);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr.split("\n")[0]).toBe(
            "oceanid-health: gate: --timeout 30 must exceed --settle 30: the node has to stay healthy for --settle seconds within --timeout; raise --timeout or lower --settle",
        );
    });
});

suite("the rendered gate command against loopback", () => {
    let sshd: Sshd;
    let api: FakeApi;
    let renewed: Date;
    const tls = selfSignedCert(tmpDir());
    beforeAll(async () => {
        sshd = await startSshd();
        api = await fakeApiServer(tls, () => ({ nodes: [nodeObject("srv712695")], leases: [leaseObject("srv712695", renewed)] }));
    });
    afterAll(async () => {
        sshd?.stop();
        await api?.close();
    });

    /** The argv bash makes of gateCommand's output, minus `npx --no-install oceanid-health`. */
    const argvOf = (spec: GateSpec) => {
        const words = execFileSync("bash", ["-c", `printf '%s\\0' ${gateCommand(spec).replace(/^npx --no-install oceanid-health /, "")}`], {
            encoding: "utf8",
        });
        return words.split("\0").slice(0, -1);
    };
    const spec = (over: Partial<GateSpec> = {}): GateSpec => ({
        node: "srv712695",
        version: "v1.33.5+k3s1",
        sshHost: LOOPBACK,
        sshPort: sshd.port,
        hostKey: sshd.hostKeys["ssh-ed25519"],
        since: `${Math.floor(Date.now() / 1000) - 30}\n`,
        timeoutSeconds: 5,
        ...over,
    });

    it("passes: kubeconfig on stdin, Lease renewed after --since, SSH with the pinned key", async () => {
        renewed = new Date(Date.now() - 2000);
        const r = await run(argvOf(spec()), { readStdin: () => kubeconfigText(api.url, { caPem: tls.cert }) });
        expect(r.stderr).toBe("");
        // Passed on its first look, within the timeout (how long that look takes is the machine's load).
        const passed = /^GATE PASSED node=srv712695 version=v1\.33\.5\+k3s1 after (\d+)s\n$/.exec(r.stdout);
        expect(passed, r.stdout).not.toBeNull();
        expect(Number(passed![1])).toBeLessThan(5);
        expect(r.code).toBe(0);
        expect(api.auth).toContain(`Bearer ${TOKEN}`);
    });

    it("fails on a Lease older than the change, naming it", async () => {
        renewed = new Date(Date.now() - 60_000);
        const r = await run(argvOf(spec({ timeoutSeconds: 1 })), { readStdin: () => kubeconfigText(api.url, { caPem: tls.cert }) });
        expect(r.code).toBe(1);
        expect(r.stderr.split("\n").at(-2)).toMatch(/^GATE FAILED node=srv712695 reason=Lease not renewed since the change \(last renewed .+, change at .+\)$/);
    });

    it("fails on an unreachable API server without printing the kubeconfig or its server", async () => {
        const apiPort = await closedPort();
        const r = await run(argvOf(spec({ timeoutSeconds: 1, context: "oceanid" })), { readStdin: () => kubeconfigText(`https://${LOOPBACK}:${apiPort}`) });
        expect(r.code).toBe(1);
        expect(r.stderr.split("\n").at(-2)).toBe("GATE FAILED node=srv712695 reason=api: unreachable (connect ECONNREFUSED)");
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
        expect(r.stdout + r.stderr).not.toContain(String(apiPort));
    });

    it("fails on a host key that is not the pinned one", async () => {
        renewed = new Date(Date.now() - 2000);
        const r = await run(argvOf(spec({ timeoutSeconds: 1, hostKey: KEY })), { readStdin: () => kubeconfigText(api.url, { caPem: tls.cert }) });
        expect(r.code).toBe(1);
        expect(r.stderr.split("\n").at(-2)).toBe(
            `GATE FAILED node=srv712695 reason=ssh ${LOOPBACK}:${sshd.port} host key does not match the pinned key (got ssh-ed25519 ${sshd.fingerprints["ssh-ed25519"]})`,
        );
    });
});
