// The node lab with `topology: "routed"` and `tailnet: true` (test/lab/README.md): the nodes reach
// each other only through a router, as VPSs reach a control plane's public address, and headscale
// plays Tailscale's control server. The proof that the lab shows the incident's mechanism: the
// server node joins the tailnet as an exit node (installed by hand from lab.tailscaleRelease, as a
// node change would), an agent then uses it with --exit-node-allow-lan-access, and that agent
// loses SSH from outside and its path to the server (its Node goes Ready=Unknown through the real
// node-lifecycle controller) while the other agent stays Ready; stopping tailscaled gives it back.
// Needs root, `ip netns`, systemd-nspawn, the control plane and the tailnet toolchain.
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NodeLab, type TailscaleLeftovers } from "./node-lab";
import { until } from "./processes";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "systemd-nspawn", "kube-apiserver", "headscale", "tailscaled", "derper"]);

const VERSION = "v1.33.4+k3s1";
// Another subnet than the other lab files' (test/lab/README.md: one per file).
const SUBNET = 9;
const PREFIX = `10.198.${SUBNET}`;
const GRACE = 5;
const NODES = [
    { name: "tethys", role: "server" as const, version: VERSION },
    // uses the exit node
    { name: "styx", role: "agent" as const, version: VERSION },
    // stays out of the tailnet
    { name: "calypso", role: "agent" as const, version: VERSION },
];
const AUTHKEY_FILE = "/root/tailscale-authkey";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => (ms / 1000).toFixed(1);

/** Installs the lab's Tailscale release on a node by hand, as Tailscale's static-binary instructions go, and starts tailscaled. */
async function installTailscale(lab: NodeLab, node: string): Promise<number> {
    const t0 = Date.now();
    const rel = lab.tailscaleRelease;
    const d = `tailscale_${rel.version}_amd64`;
    const r = await lab.inNodeAsync(
        node,
        [
            "set -e",
            'cd "$(mktemp -d)"',
            `curl -sSfL -o ${d}.tgz ${rel.url}`,
            `echo "${rel.sha256}  ${d}.tgz" | sha256sum -c -`,
            `tar -xzf ${d}.tgz`,
            `install -m 0755 ${d}/tailscale ${d}/tailscaled /usr/local/bin/`,
            // The unit expects /usr/sbin; the binaries are in /usr/local/bin.
            `sed 's#/usr/sbin/tailscaled#/usr/local/bin/tailscaled#g' ${d}/systemd/tailscaled.service >/etc/systemd/system/tailscaled.service`,
            // Tailscale's defaults (PORT, FLAGS), keeping what the lab wrote there (TS_NO_LOGS_NO_SUPPORT=true).
            `{ cat ${d}/systemd/tailscaled.defaults; grep -v -e '^PORT=' -e '^FLAGS=' /etc/default/tailscaled || true; } >/etc/default/tailscaled.new`,
            "mv /etc/default/tailscaled.new /etc/default/tailscaled",
            "systemctl daemon-reload",
            "systemctl enable --now tailscaled",
            "systemctl is-active tailscaled",
        ].join("\n"),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`${d}.tgz: OK`);
    return Date.now() - t0;
}

async function tailscaleUp(lab: NodeLab, node: string, flags: string[]): Promise<number> {
    writeFileSync(lab.nodePath(node, AUTHKEY_FILE), (await lab.preAuthKey({ reusable: false })) + "\n", { mode: 0o600 });
    const t0 = Date.now();
    const r = await lab.inNodeAsync(
        node,
        [
            "tailscale up",
            `--login-server=${lab.headscaleUrl}`,
            `--auth-key=file:${AUTHKEY_FILE}`,
            `--hostname=${node}`,
            "--netfilter-mode=on",
            "--accept-dns=false",
            "--timeout=60s",
            ...flags,
        ].join(" "),
    );
    expect(r.code, r.out).toBe(0);
    return Date.now() - t0;
}

async function apiNodes(lab: NodeLab, apiKey: string): Promise<any[]> {
    const res = await fetch(`${lab.headscaleUrl}/api/v1/node`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(5000) });
    const r = { status: res.status, body: await res.text() };
    expect(r.status, r.body).toBe(200);
    return (JSON.parse(r.body) as { nodes: any[] }).nodes;
}

async function readyStatus(lab: NodeLab, node: string): Promise<string | undefined> {
    const r = await lab.kubectl(["get", "node", node, "-o", "json"]);
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.stdout).status?.conditions as any[] | undefined)?.find((c) => c.type === "Ready")?.status;
}

/** Nothing of Tailscale left but its state directory. */
const nothingButState = (l: TailscaleLeftovers) => ({ ...l, varLibTailscale: undefined });
const CLEAN = { tailscale0: false, ipRules: [], table52Routes: [], chains: [], varLibTailscale: undefined, tailscaledPids: [] };

suite("node lab: routed topology and a tailnet", () => {
    let lab: NodeLab;
    let apiKey = "";
    let serverTsIp = "";
    const timings: string[] = [];

    beforeAll(async () => {
        const t0 = Date.now();
        lab = await NodeLab.start({ nodes: NODES, subnet: SUBNET, graceSeconds: GRACE, topology: "routed", tailnet: true, lifetimeSeconds: 600 });
        timings.push(`lab start ${secs(Date.now() - t0)} s`);
    });

    afterAll(async () => {
        const t0 = Date.now();
        await lab?.stop();
        timings.push(`stop ${secs(Date.now() - t0)} s`);
        console.log(`tailnet nodes test: ${timings.join(", ")}`);
    });

    it("routes every node through the router: /32 addresses, a default route via 10.198.N.253, forwarding only in the router", async () => {
        expect(lab.nodes.map((n) => n.address)).toEqual([`${PREFIX}.1`, `${PREFIX}.2`, `${PREFIX}.3`]);
        expect(lab.serverUrl).toBe(`https://${PREFIX}.1:6443`);
        for (const n of lab.nodes) {
            const r = lab.inNode(
                n.name,
                `ip -4 -o addr show dev eth0; ip -4 route; ip route get ${PREFIX}.1; ip route get ${PREFIX}.254; cat /proc/sys/net/ipv4/ip_forward`,
            );
            expect(r.code, r.out).toBe(0);
            expect(r.out, n.name).toContain(`inet ${n.address} peer ${PREFIX}.253/32`);
            expect(r.out, n.name).toMatch(new RegExp(`^default via ${PREFIX}\\.253 dev eth0`, "m"));
            // No node is directly connected to another: the server is one routed hop away (but from itself).
            if (n.role !== "server") expect(r.out, n.name).toMatch(new RegExp(`^${PREFIX}\\.1 via ${PREFIX}\\.253 dev eth0`, "m"));
            expect(r.out, n.name).toMatch(new RegExp(`^${PREFIX}\\.254 via ${PREFIX}\\.253 dev eth0`, "m"));
            expect(r.out.trim().split("\n").at(-1), `${n.name}: ip_forward`).toBe("0");
            expect(await lab.sshReachable(n.name, 2000), n.name).toBe(true);
        }
        // The agents' stand-in kubelets reach the server over the routed hop: Ready with fresh Leases.
        await lab.waitHealthy(["tethys", "styx", "calypso"], Date.now(), 15_000);
    });

    it("cuts, reboots and power-cycles a node as on the LAN: the namespace keeps its address and default route", async () => {
        lab.cutNetwork("calypso");
        expect(await lab.sshReachable("calypso", 1000)).toBe(false);
        lab.restoreNetwork("calypso");
        expect(await lab.sshReachable("calypso", 2000)).toBe(true);
        const rebootMs = await lab.reboot("calypso");
        await lab.powerOff("calypso");
        expect(await lab.sshReachable("calypso", 1000)).toBe(false);
        const powerOnMs = await lab.powerOn("calypso");
        const r = lab.inNode("calypso", "ip -4 route");
        expect(r.out).toMatch(new RegExp(`^default via ${PREFIX}\\.253 dev eth0`, "m"));
        expect(lab.boots("calypso").map((b) => b.exit)).toEqual([133, 1, undefined]);
        const since = Date.now();
        await lab.waitHealthy(["calypso"], since, 30_000);
        timings.push(`calypso: reboot ${secs(rebootMs)} s, power on ${secs(powerOnMs)} s, Ready with a fresh Lease +${secs(Date.now() - since)} s`);
    });

    it("runs headscale where every node reaches it; its API answers with an API key", async () => {
        expect(lab.headscaleUrl).toBe(`http://${PREFIX}.253:8080`);
        apiKey = await lab.headscaleApiKey();
        expect(await apiNodes(lab, apiKey)).toEqual([]);
        for (const n of lab.nodes) {
            const r = await lab.inNodeAsync(n.name, `curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${lab.headscaleUrl}/health`);
            expect(r.out, n.name).toBe("200");
        }
        // The release is Tailscale's static tarball: tailscale, tailscaled and the systemd unit and defaults.
        expect(lab.tailscaleRelease.url).toMatch(
            new RegExp(`^https://${PREFIX.replace(/\./g, "\\.")}\\.254:\\d+/tailscale/stable/tailscale_${lab.tailscaleRelease.version}_amd64\\.tgz$`),
        );
        // inNodeAsync: the release server runs in this process, which a synchronous inNode would block.
        const r = await lab.inNodeAsync("calypso", `curl -sSf ${lab.tailscaleRelease.url} | tar -tzf - | sort; curl -sSf ${lab.tailscaleRelease.url}.sha256`);
        const d = `tailscale_${lab.tailscaleRelease.version}_amd64`;
        expect(r.out.trim().split("\n")).toEqual([
            `${d}/`,
            `${d}/systemd/`,
            `${d}/systemd/tailscaled.defaults`,
            `${d}/systemd/tailscaled.service`,
            `${d}/tailscale`,
            `${d}/tailscaled`,
            lab.tailscaleRelease.sha256,
        ]);
        // Nothing of Tailscale on any node yet.
        for (const n of lab.nodes) expect(lab.tailscaleLeftovers(n.name), n.name).toEqual({ ...CLEAN, varLibTailscale: false });
    });

    it("the server node joins as an exit node, approved by headscale; the agents stay Ready", async () => {
        const installMs = await installTailscale(lab, "tethys");
        // An exit node forwards: what Tailscale's docs have the admin set (the node's namespace is its own).
        expect(lab.inNode("tethys", "sysctl -w net.ipv4.ip_forward=1").code).toBe(0);
        const since = Date.now();
        const upMs = await tailscaleUp(lab, "tethys", ["--advertise-exit-node"]);
        serverTsIp = (await lab.nodeTailscaleIp("tethys")) ?? "";
        expect(serverTsIp).toMatch(/^100\.64\.\d+\.\d+$/);
        const { value: node, ms: onlineMs } = await until("tethys online in headscale's API", 30_000, async () =>
            (await apiNodes(lab, apiKey)).find((n) => n.name === "tethys" && n.online === true),
        );
        expect(node.ipAddresses).toContain(serverTsIp);
        expect(node.availableRoutes).toEqual(expect.arrayContaining(["0.0.0.0/0", "::/0"]));
        expect(node.approvedRoutes).toEqual([]);
        const approve = await lab.headscale(["nodes", "approve-routes", "--identifier", String(node.id), "--routes", "0.0.0.0/0,::/0"]);
        expect(approve.code, approve.stderr || approve.stdout).toBe(0);
        const approved = (await apiNodes(lab, apiKey)).find((n) => n.name === "tethys");
        expect(approved.approvedRoutes).toEqual(expect.arrayContaining(["0.0.0.0/0", "::/0"]));
        // The server's own k3s and the agents: untouched (Ready, Leases renewed after tailscale up).
        await lab.waitHealthy(["tethys", "styx", "calypso"], since + 1000, 15_000);
        expect(await lab.sshReachable("tethys", 2000)).toBe(true);
        const l = lab.tailscaleLeftovers("tethys");
        expect(l.tailscale0).toBe(true);
        expect(l.tailscaledPids).toHaveLength(1);
        timings.push(`server: install ${secs(installMs)} s, tailscale up ${secs(upMs)} s, online in headscale +${secs(onlineMs)} s`);
    });

    it("an agent using the exit node with --exit-node-allow-lan-access loses SSH and the server; the other agent stays Ready", async () => {
        const installMs = await installTailscale(lab, "styx");
        expect(await lab.sshReachable("styx", 2000)).toBe(true);
        const t0 = Date.now();
        const upMs = await tailscaleUp(lab, "styx", [`--exit-node=${serverTsIp}`, "--exit-node-allow-lan-access"]);
        const { ms: sshLostMs } = await until("styx's SSH to stop answering", 30_000, async () => ((await lab.sshReachable("styx", 500)) ? undefined : true));
        // The stand-in kubelet's path: the server's supervisor, from inside the agent.
        const { ms: serverLostMs } = await until("styx to stop reaching the server", 30_000, async () => {
            const r = await lab.inNodeAsync("styx", `curl -sk -o /dev/null --max-time 1 https://${PREFIX}.1:6443/ping`);
            return r.code !== 0 ? true : undefined;
        });
        const { ms: unknownMs } = await until("styx Ready=Unknown", 60_000, async () => ((await readyStatus(lab, "styx")) === "Unknown" ? true : undefined));
        const captured = Date.now() - t0;
        // Why: the server's address is not directly connected, so table 52's default route takes it.
        const route = lab.inNode("styx", `ip route get ${PREFIX}.1; ip route get ${PREFIX}.254; ip route show table 52`);
        expect(route.out).toMatch(new RegExp(`^${PREFIX}\\.1 dev tailscale0 table 52`, "m"));
        expect(route.out).toMatch(new RegExp(`^${PREFIX}\\.254 dev tailscale0 table 52`, "m"));
        expect(route.out).toMatch(/^default dev tailscale0/m);
        const l = lab.tailscaleLeftovers("styx");
        expect(l.ipRules.some((r) => /lookup 52/.test(r))).toBe(true);
        // calypso never noticed; the server is fine.
        await lab.waitHealthy(["calypso", "tethys"], Date.now(), 10_000);
        expect(await readyStatus(lab, "calypso")).toBe("True");
        expect(await lab.sshReachable("calypso", 2000)).toBe(true);
        expect(await lab.sshReachable("tethys", 2000)).toBe(true);
        timings.push(
            `agent: install ${secs(installMs)} s, tailscale up --exit-node ${secs(upMs)} s; from its start: SSH lost +${secs(sshLostMs)} s, ` +
                `server unreachable +${secs(serverLostMs)} s, Ready=Unknown +${secs(unknownMs)} s (total ${secs(captured)} s, grace ${GRACE} s)`,
        );
        console.log(`styx while captured: ${JSON.stringify(l)}\n${route.out}`);
    });

    it("systemctl stop tailscaled and the leftovers' cleanup give the agent its network back", async () => {
        const t0 = Date.now();
        const stop = await lab.inNodeAsync("styx", "systemctl stop tailscaled && systemctl is-active tailscaled || true");
        expect(stop.out.trim()).toBe("inactive");
        const afterStop = lab.tailscaleLeftovers("styx");
        // What a node change does after stopping it: tailscaled's own cleanup, then any rule or chain it left.
        const cleanup = await lab.inNodeAsync(
            "styx",
            [
                "tailscaled --cleanup >/dev/null 2>&1 || true",
                "for v in -4 -6; do while ip $v rule del table 52 2>/dev/null; do :; done; while ip $v rule del fwmark 0x80000/0xff0000 2>/dev/null; do :; done; ip $v route flush table 52 2>/dev/null; done",
                "ip link del tailscale0 2>/dev/null",
                "for t in iptables ip6tables; do for tab in filter nat mangle raw; do",
                "  $t-save -t $tab 2>/dev/null | awk -v tab=$tab '/^-A .* -j ts-/ {sub(/^-A/, \"-D\"); print}' | while read -r rule; do eval $t -t $tab $rule; done",
                "  for c in $($t-save -t $tab 2>/dev/null | sed -n 's/^:\\(ts-[^ ]*\\).*/\\1/p'); do $t -t $tab -F $c; $t -t $tab -X $c; done",
                "done; done",
                "true",
            ].join("\n"),
        );
        expect(cleanup.code, cleanup.out).toBe(0);
        const { ms: sshBackMs } = await until("styx's SSH to answer again", 30_000, async () => ((await lab.sshReachable("styx", 500)) ? true : undefined));
        const since = Date.now();
        await lab.waitHealthy(["styx"], since, 30_000);
        const healthyMs = Date.now() - t0;
        expect(await readyStatus(lab, "styx")).toBe("True");
        const l = lab.tailscaleLeftovers("styx");
        expect(nothingButState(l)).toEqual(CLEAN);
        expect(l.varLibTailscale).toBe(true); // the node key stays: a restart rejoins as the same node
        timings.push(`agent back: SSH +${secs(sshBackMs)} s, Ready with a fresh Lease +${secs(healthyMs)} s after systemctl stop`);
        console.log(`styx after systemctl stop (before the cleanup): ${JSON.stringify(afterStop)}`);
    });
});

// The comparison: the same two steps with the nodes on one LAN (the default topology). The server's
// address is then directly connected, which --exit-node-allow-lan-access excepts; without the flag
// the LAN is captured too. The routed topology is what makes the lab show the incident.
suite("node lab: the same exit node on one LAN (the comparison)", () => {
    let lab: NodeLab;
    const timings: string[] = [];

    beforeAll(async () => {
        const t0 = Date.now();
        lab = await NodeLab.start({ nodes: NODES.slice(0, 2), subnet: SUBNET, graceSeconds: GRACE, tailnet: true, lifetimeSeconds: 600 });
        timings.push(`lab start ${secs(Date.now() - t0)} s`);
    });

    afterAll(async () => {
        await lab?.stop();
        console.log(`tailnet nodes test, LAN: ${timings.join(", ")}`);
    });

    it("with --exit-node-allow-lan-access an agent on the server's LAN keeps SSH and the server; without it, it loses both", async () => {
        await installTailscale(lab, "tethys");
        expect(lab.inNode("tethys", "sysctl -w net.ipv4.ip_forward=1").code).toBe(0);
        await tailscaleUp(lab, "tethys", ["--advertise-exit-node"]);
        const server = (await lab.headscaleNodes()).find((n) => n.name === "tethys");
        const approve = await lab.headscale(["nodes", "approve-routes", "--identifier", String(server.id), "--routes", "0.0.0.0/0,::/0"]);
        expect(approve.code, approve.stderr || approve.stdout).toBe(0);
        const exitIp = (await lab.nodeTailscaleIp("tethys"))!;
        await installTailscale(lab, "styx");
        await tailscaleUp(lab, "styx", [`--exit-node=${exitIp}`, "--exit-node-allow-lan-access"]);
        const route = lab.inNode("styx", `ip route get ${PREFIX}.1; ip route show table 52`);
        expect(route.out).toMatch(new RegExp(`^${PREFIX}\\.1 dev eth0 src ${PREFIX}\\.2`, "m"));
        expect(route.out).toMatch(new RegExp(`^throw ${PREFIX}\\.0/24`, "m"));
        // Twice the grace period: SSH answers throughout, the Lease keeps being renewed.
        const t0 = Date.now();
        for (; Date.now() - t0 < 2 * GRACE * 1000; await sleep(500)) expect(await lab.sshReachable("styx", 1000)).toBe(true);
        await lab.waitHealthy(["styx"], Date.now(), 10_000);
        expect(await readyStatus(lab, "styx")).toBe("True");
        // Without the flag the LAN goes into the tunnel as well.
        const t1 = Date.now();
        const set = await lab.inNodeAsync("styx", "tailscale set --exit-node-allow-lan-access=false");
        expect(set.code, set.out).toBe(0);
        const { ms: sshLostMs } = await until("styx's SSH to stop answering", 30_000, async () => ((await lab.sshReachable("styx", 500)) ? undefined : true));
        const { ms: unknownMs } = await until("styx Ready=Unknown", 60_000, async () => ((await readyStatus(lab, "styx")) === "Unknown" ? true : undefined));
        timings.push(
            `allow-lan-access on the LAN: SSH and Ready kept for ${secs(2 * GRACE * 1000)} s; without it: SSH lost +${secs(sshLostMs)} s, Ready=Unknown +${secs(unknownMs)} s (${secs(Date.now() - t1)} s)`,
        );
    });
});
