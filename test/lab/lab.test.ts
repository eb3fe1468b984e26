// Smoke test of the node lab (test/lab/README.md), asserting what its users rely on: Debian
// machines with systemd as PID 1 and their own SSH host keys; the real control plane seen through
// @kubernetes/client-node (Ready nodes, fresh Leases, the real node-lifecycle controller marking a
// cut-off node, NodeRestriction); the supervisor's /ping and /cacerts; the systemd semantics the
// node-change chain depends on (transient timers die with a reboot or a power loss, enabled ones
// come back); the installer stand-in (refusals, upgrade, no change, a bad hash, broken releases,
// unreachable releases); no secret in process arguments or logs; nothing left behind by stop() or,
// when the owner dies, by the reaper. One lab for the file; slow parts run side by side, each on
// a node of its own. Needs root, `ip netns`, systemd-nspawn and the control plane.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CoordinationV1Api, CoreV1Api, V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab } from "./node-lab";
import { until } from "./processes";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver", "ssh", "ssh-keyscan"]);

const ROOT = join(__dirname, "..", "..");
const VERSION = "v1.33.4+k3s1";
const NEXT = "v1.33.5+k3s1";
const NEVER = "v1.33.6+k3s1";
const CRASH = "v1.33.7+k3s1";
/** Served (by the test's own server) with the hash file of NEXT: a mismatch. */
const BAD_HASH = "v1.33.8+k3s1";
const GRACE = 5;
// Another subnet than the other lab files', so they run alongside (test/lab/README.md: one per file).
const SUBNET = 7;
const PREFIX = `10.198.${SUBNET}`;
const NODES = [
    { name: "tethys", role: "server" as const, version: VERSION },
    // installer: upgrade, no change, bad hash, releases unreachable
    { name: "styx", role: "agent" as const, version: VERSION },
    // the network cut; its credential for NodeRestriction
    { name: "calypso", role: "agent" as const, version: VERSION },
    // no k3s: the installer's refusals, then the "never" and "crash" releases
    { name: "nereus", role: "agent" as const },
    // no k3s: reboots, power loss and timers
    { name: "doris", role: "agent" as const },
];
const WITH_K3S = ["calypso", "styx", "tethys"];
const TOKEN_FILE = "/etc/rancher/k3s/token";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `ps -eo args` of the whole machine: what lab.processArgs() reads, for the time before the lab exists. */
const psArgs = () => spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout.split("\n").slice(1).filter(Boolean);

function httpsGet(url: string, ca: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
        const req = get(url, { ca, timeout: 5000 }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const live = (pid: number) => {
    try {
        return !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, "utf8")); // a zombie has ended
    } catch {
        return false;
    }
};
const netnsPids = (ns: string) => spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number);

/** Everything a lab with this tag and dir could leave behind, one line each; [] when nothing is. */
function leftovers(tag: string, dir: string, pids: number[]): string[] {
    const out: string[] = [];
    for (const l of spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n")) {
        if (l.startsWith(`oclab${tag}`)) out.push(`netns ${l}`);
    }
    for (const l of spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout.split("\n")) {
        if (l.includes(` ol${tag}@`) || l.includes(` ol${tag}:`)) out.push(`link ${l.split(":")[1].trim()}`);
    }
    const addr = spawnSync("ip", ["-4", "-o", "addr", "show", "to", `10.198.${tag.split("s")[1]}.0/24`], { encoding: "utf8" }).stdout.trim();
    if (addr) out.push(`address ${addr}`);
    for (const root of ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]) {
        if (existsSync(root)) for (const d of readdirSync(root)) if (d.startsWith(`oclab${tag}`)) out.push(`cgroup ${join(root, d)}`);
    }
    if (existsSync("/run/systemd/nspawn/propagate")) {
        for (const d of readdirSync("/run/systemd/nspawn/propagate")) if (d.startsWith(`oclab${tag}`)) out.push(`nspawn propagate dir ${d}`);
    }
    for (const l of readFileSync("/proc/self/mounts", "utf8").split("\n")) if (l.split(" ")[1]?.startsWith(dir)) out.push(`mount ${l}`);
    for (const a of psArgs()) if (a.includes(dir) || a.includes(`oclab${tag}`)) out.push(`process ${a}`);
    for (const p of pids) if (live(p)) out.push(`pid ${p} still runs`);
    if (existsSync(dir)) out.push(`dir ${dir}`);
    return out;
}

suite("node lab", () => {
    let lab: NodeLab;
    let work: string;
    let startMs = 0;
    let k8s: typeof import("@kubernetes/client-node");
    let core: CoreV1Api;
    let coordination: CoordinationV1Api;
    let ca: string;
    /** Every distinct process argument line seen while the lab started, installed and upgraded. */
    const argsSeen = new Set<string>();
    let sampling = true;
    let sampler: Promise<void> | undefined;
    const timings: string[] = [];

    /** ssh as root with the pinned host keys, as the rollout does (async: tests below run concurrently). */
    function ssh(node: string, cmd: string, knownHosts = join(work, "known_hosts")): Promise<{ code: number; stdout: string; stderr: string }> {
        const args = [
            ...["-F", "/dev/null", "-i", join(work, "id_ed25519"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"],
            ...["-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR"],
            `root@${lab.node(node).address}`,
            cmd,
        ];
        return new Promise((resolve) => {
            const child = spawn("ssh", args, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr: stderr.replace(/\r/g, "") }));
        });
    }

    const ready = (n: V1Node) => n.status?.conditions?.find((c) => c.type === "Ready");
    const apiCode = (p: Promise<unknown>) =>
        p.then(
            () => 200,
            (e: { code?: number }) => e.code ?? -1,
        );

    beforeAll(async () => {
        // Process arguments from the first install on: sampled until the secrets test looks at them.
        sampler = (async () => {
            while (sampling) {
                for (const a of lab ? lab.processArgs() : psArgs()) argsSeen.add(a);
                await sleep(100);
            }
        })();
        const t0 = Date.now();
        lab = await NodeLab.start({ nodes: NODES, subnet: SUBNET, graceSeconds: GRACE });
        startMs = Date.now() - t0;
        timings.push(`start ${startMs} ms`);
        work = mkdtempSync(join(tmpdir(), "oceanid-lab-test-"));
        writeFileSync(join(work, "id_ed25519"), lab.clientPrivateKey, { mode: 0o600 });
        writeFileSync(join(work, "known_hosts"), lab.nodes.map((n) => `${n.address} ${n.hostKey}\n`).join(""));
        ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(lab.kubeconfig)![1], "base64").toString();
        k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(lab.kubeconfig);
        core = kc.makeApiClient(k8s.CoreV1Api);
        coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    });

    afterAll(async () => {
        sampling = false;
        await sampler;
        await lab?.stop();
        if (work) rmSync(work, { recursive: true, force: true });
        console.log(`node lab test: ${timings.join(", ")}`);
    });

    it("starts five Debian machines on 10.198.7.0/24, k3s on three of them", () => {
        expect(lab.nodes.map((n) => [n.name, n.role, n.address, n.netns])).toEqual(
            NODES.map((n, i) => [n.name, n.role, `${PREFIX}.${i + 1}`, `oclab${process.pid}s${SUBNET}-${n.name}`]),
        );
        expect(lab.serverUrl).toBe(`https://${PREFIX}.1:6443`);
        expect(lab.installScriptUrl).toMatch(new RegExp(`^https://10\\.198\\.7\\.254:\\d+/install\\.sh$`));
        expect(lab.k3sToken).toMatch(/^K10[0-9a-f]{64}::server:[0-9a-f]{32}$/);
        for (const n of NODES) {
            expect(lab.installedVersion(n.name), n.name).toBe(n.version);
            expect(lab.installs(n.name), n.name).toEqual(
                n.version ? [expect.stringMatching(new RegExp(`^\\d+ ${n.version.replace(/[.+]/g, "\\$&")} ${n.role}$`))] : [],
            );
            if (n.version) expect(lab.servicePid(n.name), n.name).toBeGreaterThan(1);
            else expect(lab.servicePid(n.name), n.name).toBeUndefined();
        }
        // test/lab/README.md: a lab of three nodes starts in about 16 s; five, on two loaded cores, take longer.
        expect(startMs).toBeLessThan(60_000);
    });

    it("each machine runs systemd as PID 1, fully started, with its own hostname and SSH host key; a wrong pinned key is refused", async () => {
        for (const n of lab.nodes) {
            const r = await ssh(n.name, "ps -p 1 -o comm=; systemctl is-system-running; hostname");
            const failed = r.stdout.includes("degraded") ? (await ssh(n.name, "systemctl --failed --no-legend --plain")).stdout : "";
            expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }, `${n.name}: failed units: ${failed}`).toEqual({
                code: 0,
                stdout: `systemd\nrunning\n${n.name}\n`,
                stderr: "",
            });
            // The host key the machine really serves is the one the lab hands out.
            const scan = spawnSync("ssh-keyscan", ["-t", "ed25519", n.address], { encoding: "utf8" });
            expect(scan.stdout).toBe(`${n.address} ${n.hostKey}\n`);
            expect(n.hostKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/);
            // ... and the host sees the same: the machine's PID 1 is systemd.
            expect(readFileSync(`/proc/${lab.initPid(n.name)}/comm`, "utf8")).toBe("systemd\n");
        }
        expect(new Set(lab.nodes.map((n) => n.hostKey)).size).toBe(lab.nodes.length);
        // styx's address pinned to calypso's key: refused before any command runs.
        const wrong = join(work, "known_hosts.wrong");
        writeFileSync(wrong, `${lab.node("styx").address} ${lab.node("calypso").hostKey}\n`);
        const r = await ssh("styx", "touch /root/should-not-exist", wrong);
        expect(r.code).toBe(255);
        expect(r.stdout).toBe("");
        expect(r.stderr.trim().split("\n").at(-1)).toBe("Host key verification failed.");
        expect(existsSync(lab.nodePath("styx", "/root/should-not-exist"))).toBe(false);
    });

    it("the API server, through the supervisor, lists the k3s nodes Ready with their kubeletVersion and fresh Leases", async () => {
        const list = await core.listNode();
        expect(list.items.map((n) => n.metadata?.name).sort()).toEqual(WITH_K3S);
        for (const n of list.items) {
            const name = n.metadata!.name!;
            expect(ready(n), name).toMatchObject({ status: "True", reason: "KubeletReady" });
            expect(n.status?.nodeInfo?.kubeletVersion, name).toBe(VERSION);
            expect(n.status?.addresses, name).toContainEqual({ type: "InternalIP", address: lab.node(name).address });
        }
        // The server labels itself as k3s does, once its Node exists (retrying every 2 s); agents get no role label.
        await until("tethys's role labels", 5000, async () => {
            const labels = (await core.readNode({ name: "tethys" })).metadata?.labels ?? {};
            return labels["node-role.kubernetes.io/control-plane"] === "true" && labels["node-role.kubernetes.io/master"] === "true" ? true : undefined;
        });
        expect(Object.keys((await core.readNode({ name: "styx" })).metadata?.labels ?? {}).filter((l) => l.startsWith("node-role."))).toEqual([]);

        const leases = async () => (await coordination.listNamespacedLease({ namespace: "kube-node-lease" })).items;
        const renewed = (l: { spec?: { renewTime?: Date | string } }) => new Date(l.spec!.renewTime as Date | string).getTime();
        const first = await leases();
        expect(first.map((l) => [l.metadata?.name, l.spec?.holderIdentity]).sort()).toEqual(WITH_K3S.map((n) => [n, n]));
        for (const l of first) expect(Date.now() - renewed(l), l.metadata?.name).toBeLessThan(3000);
        // Fresh means renewed all the time (heartbeat 1 s), not once.
        await sleep(2000);
        const second = await leases();
        for (const l of second) expect(renewed(l), l.metadata?.name).toBeGreaterThan(renewed(first.find((f) => f.metadata?.name === l.metadata?.name)!));

        await expect(core.readNode({ name: "nereus" })).rejects.toMatchObject({ code: 404 });
    });

    it("the supervisor answers /ping and serves the CA whose hash the token carries", async () => {
        const ping = await httpsGet(`${lab.serverUrl}/ping`, ca);
        expect({ status: ping.status, body: ping.body.toString() }).toEqual({ status: 200, body: "pong" });
        const cacerts = await httpsGet(`${lab.serverUrl}/cacerts`, ca);
        expect(cacerts.status).toBe(200);
        expect(cacerts.body.toString()).toBe(ca);
        expect(`K10${sha256(cacerts.body)}`).toBe(lab.k3sToken.split("::")[0]);
    });

    it("a node's own credential (the files the stand-in writes) may change its own Node; NodeRestriction refuses it another node", async () => {
        const agentFile = (f: string) => readFileSync(lab.nodePath("calypso", `/var/lib/rancher/k3s/agent/${f}`), "utf8");
        // The kubeconfig the stand-in writes names those files (as k3s's agent does).
        expect(agentFile("kubelet.kubeconfig")).toContain(
            "    client-certificate: /var/lib/rancher/k3s/agent/client-kubelet.crt\n    client-key: /var/lib/rancher/k3s/agent/client-kubelet.key\n",
        );
        const b64 = (f: string) => Buffer.from(agentFile(f)).toString("base64");
        const kc = new k8s.KubeConfig();
        kc.loadFromOptions({
            clusters: [{ name: "lab", server: lab.serverUrl, caData: b64("server-ca.crt"), skipTLSVerify: false }],
            users: [{ name: "calypso", certData: b64("client-kubelet.crt"), keyData: b64("client-kubelet.key") }],
            contexts: [{ name: "calypso", cluster: "lab", user: "calypso" }],
            currentContext: "calypso",
        });
        const asCalypso = kc.makeApiClient(k8s.CoreV1Api);
        const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
        const own = await asCalypso.patchNode({ name: "calypso", body: { metadata: { annotations: { "oceanid.test/lab": "own" } } } }, merge);
        expect(own.metadata?.annotations?.["oceanid.test/lab"]).toBe("own");
        await asCalypso.patchNode({ name: "calypso", body: { metadata: { annotations: { "oceanid.test/lab": null as unknown as string } } } }, merge);

        const refused = await asCalypso.patchNode({ name: "styx", body: { metadata: { labels: { "oceanid.test/lab": "other" } } } }, merge).then(
            () => undefined,
            (e: { code: number; body: string }) => ({ code: e.code, status: JSON.parse(e.body) }),
        );
        expect(refused).toEqual({
            code: 403,
            status: {
                kind: "Status",
                apiVersion: "v1",
                metadata: {},
                status: "Failure",
                message: 'nodes "styx" is forbidden: node "calypso" is not allowed to modify node "styx"',
                reason: "Forbidden",
                details: { name: "styx", kind: "nodes" },
                code: 403,
            },
        });
        expect((await core.readNode({ name: "styx" })).metadata?.labels?.["oceanid.test/lab"]).toBeUndefined();
    });

    // The slow ones side by side, each on its own node.
    it.concurrent(
        "a node cut off turns Ready=Unknown within grace + 3 s and gets the unreachable taints, by the real node-lifecycle controller; restored, it is Ready again",
        async () => {
            const node = () => core.readNode({ name: "calypso" });
            lab.cutNetwork("calypso");
            try {
                const down = await until("calypso Ready=Unknown", (GRACE + 3) * 1000, async () => {
                    const c = ready(await node());
                    return c?.status === "Unknown" ? c : undefined;
                });
                timings.push(`Ready=Unknown ${down.ms} ms after the cut`);
                expect(down.value).toMatchObject({ status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." });
                const tainted = await until("both unreachable taints", 5000, async () => {
                    const n = await node();
                    return (n.spec?.taints ?? []).length === 2 ? n : undefined;
                });
                expect(tainted.value.spec!.taints!.map((t) => [t.key, t.effect]).sort()).toEqual([
                    ["node.kubernetes.io/unreachable", "NoExecute"],
                    ["node.kubernetes.io/unreachable", "NoSchedule"],
                ]);
                // Who wrote them: the controller manager (the stand-in kubelet's manager is Go-http-client).
                const managers = (tainted.value.metadata?.managedFields ?? []).map((f) => ({
                    manager: f.manager,
                    sub: f.subresource ?? "",
                    fields: JSON.stringify(f.fieldsV1),
                }));
                expect(
                    managers.find((m) => m.sub === "status" && m.fields.includes('"k:{\\"type\\":\\"Ready\\"}":{') && /"f:reason"/.test(m.fields))?.manager,
                ).toBe("kube-controller-manager");
                expect(managers.find((m) => m.sub === "" && m.fields.includes('"f:taints"'))?.manager).toBe("kube-controller-manager");
                const sshCut = await ssh("calypso", "hostname");
                expect({ code: sshCut.code, stdout: sshCut.stdout, stderr: sshCut.stderr }).toEqual({
                    code: 255,
                    stdout: "",
                    stderr: `ssh: connect to host ${PREFIX}.3 port 22: Connection timed out\n`,
                });
            } finally {
                lab.restoreNetwork("calypso");
            }
            const up = await until("calypso Ready=True without taints", 10_000, async () => {
                const n = await node();
                return ready(n)?.status === "True" && !(n.spec?.taints ?? []).length ? n : undefined;
            });
            timings.push(`Ready again ${up.ms} ms after the restore`);
            expect((await ssh("calypso", "hostname")).stdout).toBe("calypso\n");
        },
    );

    it.concurrent(
        "the installer stand-in: the same version changes nothing, an upgrade replaces binary and unit and restarts the real service, a bad hash is refused",
        async () => {
            const joinEnv = `K3S_URL=${lab.serverUrl} K3S_TOKEN_FILE=${TOKEN_FILE}`;
            const install = (version: string, exec: string, script = "/root/install.sh") =>
                ssh("styx", `INSTALL_K3S_VERSION=${version} INSTALL_K3S_EXEC='${exec}' ${joinEnv} sh ${script}`);
            const unit = () => readFileSync(lab.nodePath("styx", "/etc/systemd/system/k3s-agent.service"), "utf8");
            const mainArgs = async () => (await ssh("styx", "ps -o args= -p $(systemctl show -p MainPID --value k3s-agent)")).stdout;
            expect((await ssh("styx", `curl -sfL ${lab.installScriptUrl} -o /root/install.sh`)).code).toBe(0);

            // What the lab installed, again: nothing restarts.
            const pid0 = lab.servicePid("styx");
            let r = await install(VERSION, "agent");
            expect({ code: r.code, stderr: r.stderr, last: r.stdout.trim().split("\n").at(-1) }).toEqual({
                code: 0,
                stderr: "",
                last: "[INFO]  No change detected so skipping service start",
            });
            expect(lab.servicePid("styx")).toBe(pid0);

            // An upgrade, with flags: the binary and the unit are replaced, the service restarts on the new binary.
            r = await install(NEXT, "agent --node-name styx");
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            expect(r.stdout).toContain("[INFO]  Installing k3s to /usr/local/bin/k3s\n");
            expect(r.stdout.trim().split("\n").at(-1)).toBe("[INFO]  systemd: Starting k3s-agent");
            expect(lab.installedVersion("styx")).toBe(NEXT);
            expect(unit().split("\nExecStart=")[1]).toBe("/usr/local/bin/k3s \\\n    agent \\\n    '--node-name' \\\n    'styx'\n");
            const envFile = lab.nodePath("styx", "/etc/systemd/system/k3s-agent.service.env");
            expect(statSync(envFile).mode & 0o777).toBe(0o600);
            expect(readFileSync(envFile, "utf8")).toBe(`K3S_TOKEN_FILE='${TOKEN_FILE}'\nK3S_URL='${lab.serverUrl}'\n`);
            expect((await ssh("styx", "systemctl show -p ExecStart --value k3s-agent")).stdout).toMatch(
                /^\{ path=\/usr\/local\/bin\/k3s ; argv\[\]=\/usr\/local\/bin\/k3s agent --node-name styx ;/,
            );
            const pid1 = lab.servicePid("styx");
            expect(pid1).toBeGreaterThan(1);
            expect(pid1).not.toBe(pid0);
            expect(await mainArgs()).toBe("/usr/local/bin/k3s agent --node-name styx\n");
            await until("styx Ready on the new release", 15_000, async () => {
                const n = await core.readNode({ name: "styx" });
                return ready(n)?.status === "True" && n.status?.nodeInfo?.kubeletVersion === NEXT ? true : undefined;
            });

            // The same again: no change, same process.
            r = await install(NEXT, "agent --node-name styx");
            expect({ code: r.code, stderr: r.stderr, last: r.stdout.trim().split("\n").at(-1) }).toEqual({
                code: 0,
                stderr: "",
                last: "[INFO]  No change detected so skipping service start",
            });
            expect(lab.servicePid("styx")).toBe(pid1);

            // A release whose sha256 file does not match its binary: the lab's binary of BAD_HASH with
            // the lab's hash file of NEXT, from a server of this test's on the lab's root-side address.
            const releases = lab.installScriptUrl.replace(/\/install\.sh$/, "");
            const fromLab = async (path: string) => {
                const res = await httpsGet(`${releases}${path}`, ca);
                expect(res.status, path).toBe(200);
                return res.body;
            };
            const badBinary = await fromLab(`/k3s/${encodeURIComponent(BAD_HASH)}/k3s`);
            const nextHashFile = await fromLab(`/k3s/${encodeURIComponent(NEXT)}/sha256sum-amd64.txt`);
            const bad: Server = createServer((req, res) => {
                const path = decodeURIComponent(req.url ?? "");
                if (path === `/k3s/${BAD_HASH}/k3s`) res.end(badBinary);
                else if (path === `/k3s/${BAD_HASH}/sha256sum-amd64.txt`) res.end(nextHashFile);
                else res.writeHead(404).end();
            });
            await new Promise<void>((resolve) => bad.listen(0, `${PREFIX}.254`, resolve));
            try {
                const port = (bad.address() as { port: number }).port;
                const unitBefore = unit();
                expect(
                    (
                        await ssh(
                            "styx",
                            `sed 's|^STANDIN_RELEASES_URL=.*|STANDIN_RELEASES_URL=http://${PREFIX}.254:${port}|' /root/install.sh > /root/install-bad.sh`,
                        )
                    ).code,
                ).toBe(0);
                r = await install(BAD_HASH, "agent --node-name styx", "/root/install-bad.sh");
                const nextHash = /^([0-9a-f]{64})  k3s\n$/.exec(nextHashFile.toString())![1];
                expect({ code: r.code, stderr: r.stderr }).toEqual({
                    code: 1,
                    stderr: `[ERROR]  Download sha256 does not match ${nextHash}, got ${sha256(badBinary)}\n`,
                });
                expect(lab.installedVersion("styx")).toBe(NEXT);
                expect(unit()).toBe(unitBefore);
                expect(lab.servicePid("styx")).toBe(pid1);
                expect(readdirSync(lab.nodePath("styx", "/usr/local/bin")).sort()).toEqual(["crictl", "ctr", "k3s", "kubectl"]);
            } finally {
                bad.closeAllConnections();
                await new Promise((resolve) => bad.close(resolve));
            }
            expect(lab.installs("styx").map((l) => l.replace(/^\d+ /, ""))).toEqual([
                `${VERSION} agent`,
                `${VERSION} agent`,
                `${NEXT} agent --node-name styx`,
                `${NEXT} agent --node-name styx`,
                `${BAD_HASH} agent --node-name styx`,
            ]);
        },
    );

    it.concurrent(
        "the installer stand-in refuses a bad setup (exit 1, one [ERROR] line, nothing written); a 'never' release registers nothing, a 'crash' release restarts over and over",
        async () => {
            expect((await ssh("nereus", `curl -sfL ${lab.installScriptUrl} -o /root/install.sh && touch /root/.before-refusals`)).code).toBe(0);
            const refusals: Array<[string, string]> = [
                [
                    `INSTALL_K3S_VERSION=${NEXT} INSTALL_K3S_EXEC=agent K3S_TOKEN_FILE=${TOKEN_FILE}`,
                    "An agent needs the server: set K3S_URL (https://<server>:6443).",
                ],
                [
                    `INSTALL_K3S_VERSION=${NEXT} INSTALL_K3S_EXEC=agent K3S_URL=${lab.serverUrl}`,
                    "An agent needs the join token: set K3S_TOKEN or K3S_TOKEN_FILE.",
                ],
                [
                    `INSTALL_K3S_VERSION=${NEXT} K3S_URL=${lab.serverUrl}`,
                    "Defaulted k3s exec command to 'agent' because K3S_URL is defined, but K3S_TOKEN or K3S_TOKEN_FILE is not defined.",
                ],
                [
                    `INSTALL_K3S_VERSION=${NEXT} INSTALL_K3S_EXEC=agent K3S_URL=http://${PREFIX}.1:6443 K3S_TOKEN_FILE=${TOKEN_FILE}`,
                    `Only https:// URLs are supported for K3S_URL (have http://${PREFIX}.1:6443)`,
                ],
                [
                    `INSTALL_K3S_VERSION=1.33.5 INSTALL_K3S_EXEC=agent K3S_URL=${lab.serverUrl} K3S_TOKEN_FILE=${TOKEN_FILE}`,
                    "Download failed: no k3s release 1.33.5",
                ],
            ];
            for (const [env, line] of refusals) {
                const r = await ssh("nereus", `${env} sh /root/install.sh`);
                expect({ env, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ env, code: 1, stdout: "", stderr: `[ERROR]  ${line}\n` });
            }
            // Nothing on the disk changed (the journal and login records aside).
            const changed = async () => {
                const r = await ssh(
                    "nereus",
                    "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/log \\) -prune -o -newer /root/.before-refusals -print | sort",
                );
                expect(r.code, r.stderr).toBe(0);
                return r.stdout.split("\n").filter(Boolean);
            };
            expect(await changed()).toEqual([]);
            for (const p of [
                "/usr/local/bin/k3s",
                "/etc/systemd/system/k3s-agent.service",
                "/etc/systemd/system/k3s-agent.service.env",
                "/var/lib/oceanid-lab",
            ]) {
                expect(existsSync(lab.nodePath("nereus", p)), p).toBe(false);
            }

            // "never": the service runs, and says why nothing registers.
            mkdirSync(lab.nodePath("nereus", "/etc/rancher/k3s"), { recursive: true, mode: 0o700 });
            writeFileSync(lab.nodePath("nereus", TOKEN_FILE), `${lab.k3sToken}\n`, { mode: 0o600 });
            const joinEnv = `INSTALL_K3S_EXEC=agent K3S_URL=${lab.serverUrl} K3S_TOKEN_FILE=${TOKEN_FILE}`;
            lab.setRelease(NEVER, "never");
            let r = await ssh("nereus", `INSTALL_K3S_VERSION=${NEVER} ${joinEnv} sh /root/install.sh`);
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            expect(lab.installedVersion("nereus")).toBe(NEVER);
            // The check that found nothing above sees what an install writes.
            expect(await changed()).toEqual(
                expect.arrayContaining([
                    "/usr/local/bin/k3s",
                    "/etc/systemd/system/k3s-agent.service",
                    "/etc/systemd/system/k3s-agent.service.env",
                    "/var/lib/oceanid-lab/installs.log",
                ]),
            );
            await until("the never release's log line", 10_000, async () =>
                (await ssh("nereus", "journalctl -u k3s-agent -o cat --no-pager")).stdout.includes(
                    `level=error msg="release ${NEVER} is broken: never heartbeats"`,
                )
                    ? true
                    : undefined,
            );
            await sleep(3000); // three heartbeats of a working release
            expect((await ssh("nereus", "systemctl is-active k3s-agent; systemctl show -p NRestarts --value k3s-agent")).stdout).toBe("active\n0\n");
            expect(await apiCode(core.readNode({ name: "nereus" }))).toBe(404);
            expect(await apiCode(coordination.readNamespacedLease({ name: "nereus", namespace: "kube-node-lease" }))).toBe(404);

            // "crash": exits at start; systemd restarts it every 5 s (Restart=always, RestartSec=5s).
            lab.setRelease(CRASH, "crash");
            r = await ssh("nereus", `INSTALL_K3S_VERSION=${CRASH} ${joinEnv} sh /root/install.sh`);
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            const restarts = async () => Number((await ssh("nereus", "systemctl show -p NRestarts --value k3s-agent")).stdout.trim());
            const first = await until("a first restart", 10_000, async () => ((await restarts()) >= 1 ? restarts() : undefined));
            await until("NRestarts to grow", 10_000, async () => ((await restarts()) > first.value ? true : undefined));
            expect((await ssh("nereus", "journalctl -u k3s-agent -o cat --no-pager")).stdout).toContain(
                `level=fatal msg="release ${CRASH} is broken: exits at start"`,
            );
            expect(await apiCode(core.readNode({ name: "nereus" }))).toBe(404);
        },
    );

    it.concurrent(
        "systemd: transient timers are gone after a reboot and a power loss and never fire; an enabled timer unit comes back and fires on time; boots() records each boot",
        async () => {
            const t0 = Date.now();
            let r = await ssh(
                "doris",
                "systemd-run --unit=oceanid-lab-reboot --on-active=15 touch /root/reboot-timer-fired >/dev/null 2>&1 && systemctl is-active oceanid-lab-reboot.timer",
            );
            expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "active\n" });
            // A whole second about 12 s from now: after the reboot below even on a loaded machine, before the transient timer's 15 s.
            const at = Math.ceil((Date.now() + 12_000) / 1000) * 1000;
            const calendar = new Date(at)
                .toISOString()
                .replace("T", " ")
                .replace(/\.000Z$/, " UTC");
            writeFileSync(
                lab.nodePath("doris", "/etc/systemd/system/oceanid-lab-calendar.timer"),
                `[Timer]\nOnCalendar=${calendar}\nAccuracySec=1us\n\n[Install]\nWantedBy=timers.target\n`,
            );
            writeFileSync(
                lab.nodePath("doris", "/etc/systemd/system/oceanid-lab-calendar.service"),
                "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'date +%%s.%%N >> /root/calendar-fired'\n",
            );
            r = await ssh(
                "doris",
                "systemctl daemon-reload && systemctl enable oceanid-lab-calendar.timer 2>/dev/null && systemctl start oceanid-lab-calendar.timer && systemctl is-active oceanid-lab-calendar.timer",
            );
            expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "active\n" });

            timings.push(`reboot ${await lab.reboot("doris")} ms`);
            const state = (unit: string) =>
                ssh("doris", `systemctl show -p LoadState -p UnitFileState -p ActiveState ${unit}`).then((x) =>
                    Object.fromEntries(
                        x.stdout
                            .trim()
                            .split("\n")
                            .map((l) => l.split("=")),
                    ),
                );
            expect(await state("oceanid-lab-reboot.timer")).toEqual({ LoadState: "not-found", UnitFileState: "", ActiveState: "inactive" });
            expect(await state("oceanid-lab-calendar.timer")).toEqual({ LoadState: "loaded", UnitFileState: "enabled", ActiveState: "active" });
            expect(existsSync(lab.nodePath("doris", "/root/calendar-fired")), "the calendar timer fired before the reboot was over").toBe(false);

            const fired = await until("the calendar timer to fire", 15_000, async () => readFileSync(lab.nodePath("doris", "/root/calendar-fired"), "utf8"));
            const firedAt = fired.value.trim().split("\n").map(Number);
            expect(firedAt).toHaveLength(1);
            expect(firedAt[0] * 1000).toBeGreaterThanOrEqual(at);
            expect(firedAt[0] * 1000).toBeLessThan(at + 1500);

            r = await ssh(
                "doris",
                "systemd-run --unit=oceanid-lab-power --on-active=3 touch /root/power-timer-fired >/dev/null 2>&1 && systemctl is-active oceanid-lab-power.timer",
            );
            expect(r.stdout).toBe("active\n");
            const powerTimerAt = Date.now() + 3000;
            await lab.powerOff("doris");
            expect(lab.initPid("doris")).toBeUndefined();
            timings.push(`power-on ${await lab.powerOn("doris")} ms`);
            expect(await state("oceanid-lab-power.timer")).toEqual({ LoadState: "not-found", UnitFileState: "", ActiveState: "inactive" });

            // Past both transient timers' deadlines, with room: neither fired.
            await sleep(Math.max(t0 + 15_000, powerTimerAt) + 2000 - Date.now());
            expect(existsSync(lab.nodePath("doris", "/root/reboot-timer-fired"))).toBe(false);
            expect(existsSync(lab.nodePath("doris", "/root/power-timer-fired"))).toBe(false);

            const boots = lab.boots("doris");
            expect(boots.map((b) => b.exit)).toEqual([133, 1, undefined]); // systemctl reboot; SIGKILL of PID 1; running
            expect(boots[0].at).toBeLessThan(boots[1].at);
            expect(boots[1].at).toBeLessThan(boots[2].at);
            expect(boots[2].at * 1000).toBeGreaterThan(t0);
        },
    );

    it("releases unreachable: the installer fails with [ERROR]  Download failed and changes nothing; reachable again, it downloads", async () => {
        const before = { version: lab.installedVersion("styx"), pid: lab.servicePid("styx") };
        await lab.setReleasesReachable(false);
        try {
            const r = await ssh(
                "styx",
                `INSTALL_K3S_VERSION=${CRASH} INSTALL_K3S_EXEC=agent K3S_URL=${lab.serverUrl} K3S_TOKEN_FILE=${TOKEN_FILE} sh /root/install.sh`,
            );
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: "[ERROR]  Download failed\n" });
            expect((await ssh("styx", `curl -sfL ${lab.installScriptUrl} -o /dev/null`)).code).toBe(7); // connection refused
        } finally {
            await lab.setReleasesReachable(true);
        }
        expect({ version: lab.installedVersion("styx"), pid: lab.servicePid("styx") }).toEqual(before);
        expect((await ssh("styx", `curl -sfL ${lab.installScriptUrl} | head -n 1`)).stdout).toBe("#!/bin/sh\n");
    });

    it("keeps the k3s token, the SSH client key and the admin client key out of every process argument and every log", async () => {
        sampling = false;
        const pem = (text: string) => text.split("\n").filter((l) => l && !l.startsWith("-----"));
        const adminKeyB64 = /client-key-data: (\S+)/.exec(lab.kubeconfig)![1];
        const secrets: Array<[string, string]> = [
            ["the k3s token", lab.k3sToken],
            ["the k3s token's password", lab.k3sToken.split("::server:")[1]],
            ["the SSH client key", pem(lab.clientPrivateKey).join("")],
            ...pem(lab.clientPrivateKey).map((l, i): [string, string] => [`line ${i + 1} of the SSH client key`, l]),
            ["the admin client key (kubeconfig)", adminKeyB64],
            ...pem(Buffer.from(adminKeyB64, "base64").toString()).map((l, i): [string, string] => [`line ${i + 1} of the admin client key`, l]),
        ];
        const args = [...argsSeen].join("\n");
        const logs = lab.logs();
        // logs() has the last 400 lines of each journal; a secret may have been logged earlier.
        const journals = (await Promise.all(lab.nodes.map((n) => lab.inNodeAsync(n.name, "journalctl --no-pager -o short-iso")))).map((r) => r.out).join("\n");
        // What was sampled and read is real: the installs ran, the journals are there.
        expect(args).toContain("/usr/local/bin/k3s agent --node-name styx");
        expect(args).toContain(`env INSTALL_K3S_VERSION=${VERSION} INSTALL_K3S_EXEC=server K3S_TOKEN_FILE=${TOKEN_FILE}`);
        expect(logs.includes("Accepted publickey for root from 10.198.7.254"), "sshd's logins in the logs").toBe(true);
        expect(logs.includes(` ${CRASH} agent\n`), "nereus's installer log in the logs").toBe(true);
        expect(journals.includes(`level=fatal msg="release ${CRASH} is broken: exits at start"`), "the crash release's log line in nereus's journal").toBe(
            true,
        );
        for (const [what, value] of secrets) {
            expect(value.length, what).toBeGreaterThan(15);
            expect(args.includes(value), `${what} in a process's arguments`).toBe(false);
            expect(logs.includes(value), `${what} in the lab's logs`).toBe(false);
            expect(journals.includes(value), `${what} in a node's journal`).toBe(false);
        }
    });

    it("stop() leaves no namespace, veth, address, cgroup, mount, process or directory behind", async () => {
        const { dir } = lab;
        const tag = `${process.pid}s${SUBNET}`;
        const pids = [`oclab${tag}`, ...lab.nodes.map((n) => n.netns)].flatMap(netnsPids);
        expect(pids.length).toBeGreaterThan(20); // five machines' systemd, journald, sshd...; the control plane
        const cgroups = readdirSync("/sys/fs/cgroup/unified").filter((d) => d.startsWith(`oclab${tag}-`));
        expect(cgroups.sort()).toEqual(NODES.map((n) => `oclab${tag}-${n.name}`).sort());
        expect(leftovers(tag, dir, pids).length).toBeGreaterThan(0); // the check sees a running lab
        const t0 = Date.now();
        await lab.stop();
        timings.push(`stop ${Date.now() - t0} ms`);
        expect(leftovers(tag, dir, pids)).toEqual([]);
    });

    it("a lab whose owner process dies (SIGKILL) is removed by its reaper within seconds", async () => {
        // The same subnet, now free: the lab above is stopped.
        const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "fixtures", "hold-node-lab.ts"), String(SUBNET)], {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
            env: process.env,
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        try {
            const held = (
                await until("the other lab to start", 90_000, async () => {
                    if (child.exitCode !== null) throw new Error(`the lab process ended (${child.exitCode}): ${out}`);
                    return out.includes("\n") ? JSON.parse(out.split("\n")[0]) : undefined;
                })
            ).value as { dir: string; tag: string; namespaces: string[]; pids: number[]; initPid: number; error?: string };
            expect(held.error).toBeUndefined();
            expect(held.tag).toBe(`${child.pid}s${SUBNET}`);
            expect(held.pids).toContain(held.initPid);
            expect(leftovers(held.tag, held.dir, held.pids).length).toBeGreaterThan(0);
            child.kill("SIGKILL");
            const t0 = Date.now();
            await until("the reaper to remove the lab", 20_000, async () => (leftovers(held.tag, held.dir, held.pids).length === 0 ? true : undefined)).catch(
                (e: Error) => {
                    throw new Error(`${e.message}: left ${JSON.stringify(leftovers(held.tag, held.dir, held.pids))}`);
                },
            );
            timings.push(`reaper cleaned up ${Date.now() - t0} ms after SIGKILL`);
        } finally {
            child.kill("SIGKILL");
        }
    });
});
