// scripts/recovery/remove-tailscale-leftovers on a test host of our own: a
// network namespace joined to a peer by a veth pair, seeded with what kernel-mode
// Tailscale leaves behind next to rules the node needs. Traffic stays in the pair.
// The node has its own PID namespace too: the script's `pkill -x tailscaled`
// must find the node's stand-in daemon, never a tailscaled of another test.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT } from "../helpers/stack-file";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["root", "netns", "iptables"]);

const SCRIPT = join(ROOT, "scripts", "recovery", "remove-tailscale-leftovers");
const tag = String(process.pid % 100000);
const NODE = `oc-node-${tag}`;
const PEER = `oc-peer-${tag}`;
const VETH_NODE = `ocn${tag}`;
const VETH_PEER = `ocp${tag}`;
const NODE_IP = "10.199.0.1";
const PEER_IP = "10.199.0.2";

function sh(cmd: string) {
    const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
    return { code: r.status ?? -1, out: (r.stdout ?? "") + (r.stderr ?? "") };
}
function must(cmd: string) {
    const r = sh(cmd);
    if (r.code !== 0) throw new Error(`${cmd}: ${r.out}`);
    return r.out;
}
const inNode = (cmd: string) => `ip netns exec ${NODE} ${cmd}`;
/** The script as the node runs it: its network, and its own processes (the PID namespace of nodeInit). */
const runScript = (args: string) => sh(`nsenter --target ${nodeInitPid} --pid --mount --net bash ${SCRIPT} ${args}`);
/** Can the peer open a TCP connection to the node's port 8080? */
const peerReachesNode = () => sh(`ip netns exec ${PEER} timeout 2 bash -c 'exec 3<>/dev/tcp/${NODE_IP}/8080'`).code === 0;

let dir: string;
let listener: ChildProcess;
let nodeInit: ChildProcess;
let nodeInitPid: number;
let nodeInitOutput = "";

function seedTailscaleLeftovers() {
    for (const cmd of [
        "iptables -w -N ts-input",
        `iptables -w -A ts-input -i ${VETH_NODE} -j DROP`,
        "iptables -w -I INPUT 1 -j ts-input",
        "iptables -w -N ts-forward",
        "iptables -w -A ts-forward -j ACCEPT",
        "iptables -w -I FORWARD 1 -j ts-forward",
        "iptables -w -t nat -N ts-postrouting",
        "iptables -w -t nat -A ts-postrouting -m mark --mark 0x40000/0xff0000 -j MASQUERADE",
        "iptables -w -t nat -I POSTROUTING 1 -j ts-postrouting",
        "ip6tables -w -N ts-input",
        "ip6tables -w -I INPUT 1 -j ts-input",
        "ip rule add pref 5210 fwmark 0x80000/0xff0000 table main",
        "ip rule add pref 5270 table 52",
        "ip route add blackhole default table 52",
    ]) {
        must(inNode(cmd));
    }
    mkdirSync(join(dir, "var-lib-tailscale-worker"), { recursive: true });
    writeFileSync(join(dir, "var-lib-tailscale-worker", "tailscaled.state"), "{}");
}

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "oceanid-recovery-"));
    must(`ip netns add ${NODE} && ip netns add ${PEER}`);
    must(`ip link add ${VETH_NODE} type veth peer name ${VETH_PEER}`);
    must(`ip link set ${VETH_NODE} netns ${NODE} && ip link set ${VETH_PEER} netns ${PEER}`);
    must(inNode(`ip addr add ${NODE_IP}/24 dev ${VETH_NODE}`));
    must(`ip netns exec ${PEER} ip addr add ${PEER_IP}/24 dev ${VETH_PEER}`);
    must(inNode(`ip link set ${VETH_NODE} up`));
    must(inNode("ip link set lo up"));
    must(`ip netns exec ${PEER} ip link set ${VETH_PEER} up`);
    must(`ip netns exec ${PEER} ip link set lo up`);
    // What the node keeps: SSH allowed, the CNI's masquerade, kube-router's own chain, a routing rule of its own.
    must(inNode("iptables -w -A INPUT -p tcp --dport 22 -j ACCEPT"));
    must(inNode("iptables -w -N KUBE-FIREWALL"));
    must(inNode("iptables -w -A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP"));
    must(inNode("iptables -w -A INPUT -j KUBE-FIREWALL"));
    must(inNode("iptables -w -t nat -A POSTROUTING -s 10.42.0.0/16 ! -d 10.42.0.0/16 -j MASQUERADE"));
    must(inNode(`ip rule add pref 1000 from ${NODE_IP} table main`));
    listener = spawn("ip", ["netns", "exec", NODE, "python3", "-m", "http.server", "8080", "--bind", NODE_IP], { stdio: "ignore" });
    for (let i = 0; i < 30 && !peerReachesNode(); i++) spawnSync("sleep", ["0.2"]);
    copyFileSync("/bin/sleep", join(dir, "tailscaled"));
    // The node's init (PID 1 of its namespace) runs the stand-in daemon, reports how it ended, and
    // stays: the namespace, and the script inside it, would end with it.
    nodeInit = spawn(
        "ip",
        [
            "netns",
            "exec",
            NODE,
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "bash",
            "-c",
            '"$0" 600 & wait $!; echo "daemon exit $?"; exec sleep 600',
            join(dir, "tailscaled"),
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
    );
    nodeInit.stdout!.on("data", (d) => (nodeInitOutput += d));
    for (let i = 0; i < 50 && !nodeInitPid; i++) {
        // unshare's child is the namespace's PID 1; it has the daemon as its own child once it runs.
        const init = Number(sh(`pgrep -P $(pgrep -P ${nodeInit.pid} -x unshare || echo ${nodeInit.pid}) -x bash`).out.trim().split("\n")[0]);
        if (init && sh(`pgrep -P ${init} -x tailscaled`).code === 0) nodeInitPid = init;
        else spawnSync("sleep", ["0.1"]);
    }
    if (!nodeInitPid) throw new Error("the node's PID namespace did not start");
});

afterAll(() => {
    listener?.kill();
    nodeInit?.kill("SIGKILL"); // unshare --fork ignores SIGTERM; --kill-child takes the namespace down with it
    sh(`ip netns del ${NODE}; ip netns del ${PEER}`);
});

suite("remove-tailscale-leftovers", () => {
    it("the test host works before Tailscale's leftovers, and not with them", () => {
        expect(peerReachesNode()).toBe(true);
        seedTailscaleLeftovers();
        expect(peerReachesNode()).toBe(false);
    });

    it("restores connectivity and removes exactly Tailscale's chains, rules, table 52, state and process", async () => {
        const r = runScript(`--state-dir ${join(dir, "var-lib-tailscale-worker")}`);
        expect(r.code, r.out).toBe(0);
        expect(peerReachesNode()).toBe(true);

        const v4 = must(inNode("iptables-save"));
        expect(v4).not.toMatch(/ts-/);
        expect(v4).toContain("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT");
        expect(v4).toContain("-A INPUT -j KUBE-FIREWALL");
        expect(v4).toContain("-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP");
        expect(v4).toContain("-A POSTROUTING -s 10.42.0.0/16 ! -d 10.42.0.0/16 -j MASQUERADE");
        expect(must(inNode("ip6tables-save"))).not.toMatch(/ts-/);

        const rules = must(inNode("ip rule show"));
        expect(rules).toMatch(/^1000:\s+from 10\.199\.0\.1 lookup main/m);
        expect(rules).not.toMatch(/^52(10|70):/m);
        expect(must(inNode("ip route show table 52")).trim()).toBe("");
        expect(existsSync(join(dir, "var-lib-tailscale-worker"))).toBe(false);
        // 143 = 128 + SIGTERM: the script stopped the node's daemon the polite way.
        await expect.poll(() => nodeInitOutput, { timeout: 5000 }).toBe("daemon exit 143\n");
    });

    it("changes nothing on a clean node (idempotent)", () => {
        const before = must(inNode("iptables-save")).replace(/^#.*$/gm, "");
        const r = runScript(`--state-dir ${join(dir, "var-lib-tailscale-worker")}`);
        expect(r.code).toBe(0);
        expect(r.out).not.toMatch(/^\+ /m);
        expect(must(inNode("iptables-save")).replace(/^#.*$/gm, "")).toBe(before);
    });

    it("--dry-run says what it would do and does nothing", () => {
        must(inNode("iptables -w -N ts-input"));
        must(inNode("iptables -w -I INPUT 1 -j ts-input"));
        const r = runScript(`--dry-run --state-dir ${join(dir, "none")}`);
        expect(r.code).toBe(0);
        expect(r.out).toContain("+ iptables -w -t filter -D INPUT -j ts-input");
        expect(r.out).toContain("+ iptables -w -t filter -X ts-input");
        expect(must(inNode("iptables-save"))).toContain("-A INPUT -j ts-input");
    });
});
