// Smoke test of the node lab (test/lab/README.md): real sshd hosts in network
// namespaces, the API stand-in seen through @kubernetes/client-node, the "node stops
// answering" fault, the installer stand-in (refusals, upgrade, a broken release and
// its revert), transient timers that outlive the SSH session, no secrets in process
// arguments or logs, and nothing left behind. Needs root and `ip netns`.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "./node-lab";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns"]);

const VERSION = "v1.33.4+k3s1";
const NEXT = "v1.33.5+k3s1";
const GRACE = 5;
const NODES = [
    { name: "tethys", role: "server", version: VERSION },
    { name: "styx", role: "agent", version: VERSION },
    { name: "calypso", role: "agent", version: VERSION },
] as const;
// Another subnet than the lab's default, so a lab another test file starts can run alongside.
const SUBNET = 7;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<{ value: T; ms: number }> {
    const t0 = Date.now();
    for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return { value, ms: Date.now() - t0 };
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(100);
    }
}

suite("node lab", () => {
    let lab: NodeLab;
    let work: string;
    let startMs = 0;
    let k8s: typeof import("@kubernetes/client-node");
    let core: import("@kubernetes/client-node").CoreV1Api;
    let coordination: import("@kubernetes/client-node").CoordinationV1Api;

    /** ssh as root with the pinned host keys, like the rollout will (async: tests below run concurrently). */
    function ssh(node: string, cmd: string, knownHosts = join(work, "known_hosts")): Promise<{ code: number; stdout: string; stderr: string }> {
        const args = [
            "-F",
            "/dev/null",
            "-i",
            join(work, "id_ed25519"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            `UserKnownHostsFile=${knownHosts}`,
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=3",
            "-o",
            "LogLevel=ERROR",
            `root@${lab.node(node).address}`,
            cmd,
        ];
        return new Promise((resolve) => {
            const child = spawn("ssh", args, { stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        });
    }

    const ready = (n: import("@kubernetes/client-node").V1Node) => n.status?.conditions?.find((c) => c.type === "Ready");

    beforeAll(async () => {
        const t0 = Date.now();
        lab = await NodeLab.start({ nodes: [...NODES], subnet: SUBNET, graceSeconds: GRACE });
        startMs = Date.now() - t0;
        console.log(`node lab started in ${startMs} ms`);
        work = mkdtempSync(join(tmpdir(), "oceanid-lab-test-"));
        writeFileSync(join(work, "id_ed25519"), lab.clientPrivateKey, { mode: 0o600 });
        writeFileSync(join(work, "known_hosts"), lab.nodes.map((n) => `${n.address} ${n.hostKey}\n`).join(""));
        k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(lab.kubeconfigPath);
        core = kc.makeApiClient(k8s.CoreV1Api);
        coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    });

    afterAll(async () => {
        await lab?.stop();
        if (work) rmSync(work, { recursive: true, force: true });
    });

    it("starts the nodes on 10.198.<subnet>.0/24 with ssh-keyscan-style host keys", () => {
        expect(lab.nodes.map((n) => [n.name, n.role, n.address])).toEqual([
            ["tethys", "server", "10.198.7.1"],
            ["styx", "agent", "10.198.7.2"],
            ["calypso", "agent", "10.198.7.3"],
        ]);
        expect(lab.serverUrl).toBe("https://10.198.7.1:6443");
        expect(lab.installScriptUrl).toMatch(/^file:\/\/\/.*\/install-k3s\.sh$/);
        expect(lab.k3sToken).toMatch(/^K10[0-9a-f]{64}::server:[0-9a-f]+$/);
        for (const n of lab.nodes) {
            expect(n.hostKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
            const scan = spawnSync("ssh-keyscan", ["-t", "ed25519", n.address], { encoding: "utf8" });
            expect(scan.stdout.trim().split(/\s+/).slice(1).join(" ")).toBe(n.hostKey);
            expect(lab.installedVersion(n.name)).toBe(VERSION);
            expect(lab.installs(n.name)).toEqual([expect.stringMatching(new RegExp(`^\\d+ ${VERSION.replace(/[.+]/g, "\\$&")} ${n.role}$`))]);
            expect(lab.servicePid(n.name)).toBeGreaterThan(1);
        }
        expect(startMs).toBeLessThan(15_000);
    });

    it("each node answers SSH with its own hostname and host key; a wrong pinned key is refused", async () => {
        for (const n of lab.nodes) {
            const r = await ssh(n.name, "hostname; systemctl is-active k3s k3s-agent; k3s --version | head -n 1");
            expect(r.stderr).toBe("");
            const [hostname, ...rest] = r.stdout.trim().split("\n");
            expect(hostname).toBe(n.name);
            expect(rest.join(" ")).toContain(n.role === "server" ? "active inactive" : "inactive active");
            expect(rest.at(-1)).toBe(`k3s version ${VERSION} (standin)`);
        }
        const wrong = join(work, "known_hosts.wrong");
        // styx's address pinned to calypso's key: the connection must be refused.
        writeFileSync(wrong, `${lab.node("styx").address} ${lab.node("calypso").hostKey}\n`);
        const r = await ssh("styx", "hostname", wrong);
        expect(r.code).toBe(255);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    });

    it("serves Nodes and Leases to @kubernetes/client-node: Ready, the right kubeletVersion, fresh Leases", async () => {
        const list = await core.listNode();
        expect(list.items.map((n) => n.metadata?.name).sort()).toEqual(["calypso", "styx", "tethys"]);
        for (const n of list.items) {
            expect(ready(n)?.status).toBe("True");
            expect(n.status?.nodeInfo?.kubeletVersion).toBe(VERSION);
        }
        const styx = await core.readNode({ name: "styx" });
        expect(styx.metadata?.resourceVersion).toMatch(/^\d+$/);
        expect(styx.status?.addresses).toContainEqual({ type: "InternalIP", address: "10.198.7.2" });
        const leases = await coordination.listNamespacedLease({ namespace: "kube-node-lease" });
        expect(leases.items.map((l) => l.metadata?.name).sort()).toEqual(["calypso", "styx", "tethys"]);
        const lease = await coordination.readNamespacedLease({ name: "calypso", namespace: "kube-node-lease" });
        expect(lease.spec?.holderIdentity).toBe("calypso");
        const renewed = new Date(lease.spec!.renewTime as unknown as string | Date).getTime();
        expect(Date.now() - renewed).toBeLessThan(3000);
        await expect(core.readNode({ name: "nosuchnode" })).rejects.toMatchObject({ code: 404 });
    });

    // The three slow ones run side by side, each on its own node.
    it.concurrent("a node whose network is cut goes Ready=Unknown within grace + 2 s, and Ready again once restored", async () => {
        lab.cutNetwork("calypso");
        const down = await until("calypso Ready=Unknown", (GRACE + 2) * 1000, async () => {
            const c = ready(await core.readNode({ name: "calypso" }));
            return c?.status === "Unknown" ? c : undefined;
        });
        expect(down.value).toMatchObject({ reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." });
        expect((await ssh("calypso", "true")).code).toBe(255);
        lab.restoreNetwork("calypso");
        await until("calypso Ready=True", 5000, async () => (ready(await core.readNode({ name: "calypso" }))?.status === "True" ? true : undefined));
        expect((await ssh("calypso", "hostname")).stdout.trim()).toBe("calypso");
    });

    it.concurrent(
        "the installer stand-in: refuses an agent without server or token, skips an unchanged install, upgrades, and a broken release stops heartbeating until reverted",
        async () => {
            const fetch = `curl -sfL ${lab.installScriptUrl} -o /root/install.sh`;
            const install = (version: string, env: string) =>
                ssh("styx", `${fetch} && INSTALL_K3S_VERSION=${version} INSTALL_K3S_EXEC=agent ${env} sh /root/install.sh`);
            const joinEnv = `K3S_URL=${lab.serverUrl} K3S_TOKEN_FILE=/etc/rancher/k3s/token`;

            let r = await install(NEXT, "K3S_TOKEN_FILE=/etc/rancher/k3s/token");
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain("K3S_URL");
            r = await install(NEXT, `K3S_URL=${lab.serverUrl}`);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain("K3S_TOKEN");
            expect(lab.installs("styx")).toHaveLength(1);

            const pid = lab.servicePid("styx");
            r = await install(VERSION, joinEnv);
            expect(r.code, r.stderr).toBe(0);
            expect(r.stdout).toContain("No change detected so skipping service start");
            expect(lab.servicePid("styx")).toBe(pid);

            lab.markBrokenRelease(NEXT);
            r = await install(NEXT, joinEnv);
            expect(r.code, r.stderr).toBe(0);
            expect(lab.installedVersion("styx")).toBe(NEXT);
            expect(lab.servicePid("styx")).not.toBe(pid);
            const unit = readFileSync(lab.nodePath("styx", "/etc/systemd/system/k3s-agent.service"), "utf8");
            expect(unit.split("\n")).toContain("ExecStart=/usr/local/bin/k3s agent");
            const envFile = lab.nodePath("styx", "/etc/systemd/system/k3s-agent.service.env");
            expect(statSync(envFile).mode & 0o777).toBe(0o600);
            expect(readFileSync(envFile, "utf8")).toBe(`K3S_TOKEN_FILE='/etc/rancher/k3s/token'\nK3S_URL='${lab.serverUrl}'\n`);
            await until("styx Ready=Unknown on the broken release", (GRACE + 2) * 1000, async () =>
                ready(await core.readNode({ name: "styx" }))?.status === "Unknown" ? true : undefined,
            );

            r = await install(VERSION, joinEnv);
            expect(r.code, r.stderr).toBe(0);
            await until("styx Ready again on the old release", 5000, async () => {
                const n = await core.readNode({ name: "styx" });
                return ready(n)?.status === "True" && n.status?.nodeInfo?.kubeletVersion === VERSION ? true : undefined;
            });
            expect(lab.installs("styx").map((l) => l.split(" ")[1])).toEqual([VERSION, VERSION, NEXT, VERSION]);
        },
    );

    it.concurrent("a transient timer started over SSH fires after the session ends; a stopped one never does", async () => {
        const fired = lab.nodePath("tethys", "/var/lib/oceanid/fired");
        const never = lab.nodePath("tethys", "/var/lib/oceanid/never");
        const gone = lab.nodePath("tethys", "/var/lib/oceanid/gone");
        // 12 s: room for the next four SSH calls on a loaded machine before the first timer fires.
        const a = await ssh("tethys", "systemd-run --unit=x --on-active=12 touch /var/lib/oceanid/fired");
        expect(a.code, a.stderr).toBe(0);
        const w = await ssh("tethys", "systemd-run --unit=w --on-active=5 --timer-property=RemainAfterElapse=no touch /var/lib/oceanid/gone");
        expect(w.code, w.stderr).toBe(0);
        const b = await ssh("tethys", "systemd-run --unit=y --on-active=12s touch /var/lib/oceanid/never && systemctl is-active y.timer");
        expect(b.stdout.trim()).toBe("active");
        expect((await ssh("tethys", "systemd-run --unit=y --on-active=2 true")).stderr).toContain("Unit y.timer already exists");
        const c = await ssh("tethys", "systemctl stop y.timer; systemctl is-active y.timer");
        expect(c.stdout.trim()).toBe("inactive");
        expect(existsSync(fired)).toBe(false);
        await until("x.timer to fire", 25000, async () => (existsSync(fired) ? true : undefined));
        // y was made after x: had its stop not worked, it would fire within a few seconds of x.
        await sleep(4000);
        expect(existsSync(never)).toBe(false);
        // Like systemd: a fired timer stays active (RemainAfterElapse=yes) until stopped ...
        expect((await ssh("tethys", "systemctl is-active x.timer")).stdout.trim()).toBe("active");
        expect((await ssh("tethys", "systemd-run --unit=x --on-active=2 true")).stderr).toContain("Unit x.timer already exists");
        expect((await ssh("tethys", "systemctl stop x.timer; systemctl is-active x.timer")).stdout.trim()).toBe("inactive");
        // ... unless RemainAfterElapse=no, which unloads it once fired.
        await until("w.timer to fire", 10000, async () => (existsSync(gone) ? true : undefined));
        expect((await ssh("tethys", "systemctl is-active w.timer")).stdout.trim()).toBe("inactive");
    });

    it.concurrent("holdTimer keeps a pending timer from firing past its deadline; releaseTimer then fires it at once", async () => {
        const held = lab.nodePath("tethys", "/var/lib/oceanid/held");
        const r = await ssh("tethys", "systemd-run --unit=h --on-active=2 touch /var/lib/oceanid/held");
        expect(r.code, r.stderr).toBe(0);
        lab.holdTimer("tethys", "h");
        await sleep(5000);
        expect(existsSync(held)).toBe(false);
        expect((await ssh("tethys", "systemctl is-active h.timer")).stdout.trim()).toBe("active");
        lab.releaseTimer("tethys", "h");
        await until("h.timer to fire once released", 3000, async () => (existsSync(held) ? true : undefined));
        // Fired, it has nothing left to hold: the lab says so rather than stop nothing.
        expect(() => lab.holdTimer("tethys", "h")).toThrow("node lab: h.timer on tethys is not pending (kill -STOP: exit 1)");
        expect(() => lab.holdTimer("tethys", "nope")).toThrow("node lab: nope.timer on tethys is not pending");
    });

    it("keeps the token and the private key out of process arguments and logs", () => {
        const key = lab.clientPrivateKey.split("\n").filter((l) => l && !l.startsWith("-----"));
        const adminToken = /^\s*token: (\S+)$/m.exec(lab.kubeconfig)![1];
        const secrets = [lab.k3sToken, lab.k3sToken.split("::server:")[1], adminToken, ...key];
        const args = lab.processArgs().join("\n");
        const logs = lab.logs();
        expect(logs).toContain("Accepted publickey for root"); // the logs are really there
        expect(args).toContain("/usr/local/bin/k3s agent");
        for (const secret of secrets) {
            expect(args.includes(secret), "a secret in `ps` output").toBe(false);
            expect(logs.includes(secret), "a secret in the lab's logs").toBe(false);
        }
    });

    it("stop() leaves no namespaces, processes, veth or files behind", async () => {
        const { dir } = lab;
        const namespaces = lab.nodes.map((n) => n.netns);
        await lab.stop();
        const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
        for (const ns of namespaces) expect(netns).not.toContain(ns);
        expect(netns).not.toMatch(new RegExp(`oclab${process.pid}s${SUBNET}\\b`));
        expect(lab.processArgs().filter((a) => a.includes(dir))).toEqual([]);
        expect(spawnSync("ip", ["-4", "-o", "addr", "show", "to", `10.198.${SUBNET}.0/24`], { encoding: "utf8" }).stdout).toBe("");
        expect(existsSync(dir)).toBe(false);
    });
});
