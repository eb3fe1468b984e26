// The node lab: Debian machines booted by systemd-nspawn (real systemd as PID 1, real sshd,
// journald, unit files and timers) in network namespaces of their own, behind a real Kubernetes
// control plane (scripts/test-cluster) running in the server node's namespace the way k3s lays
// it out. Only the k3s binary and its installer are stand-ins (test/lab/README.md). Needs root,
// ip netns, systemd-nspawn, and what `npm run setup` builds (the root filesystem, the k3s
// stand-in, the control plane). Traffic stays inside the namespaces the lab creates and loopback.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
    appendFileSync,
    closeSync,
    createReadStream,
    existsSync,
    mkdirSync,
    mkdtempSync,
    openSync,
    readdirSync,
    readFileSync,
    readSync,
    readlinkSync,
    realpathSync,
    renameSync,
    rmSync,
    statSync,
    writeFileSync,
} from "node:fs";
import { createServer, request, type Server } from "node:https";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, posix } from "node:path";
import { derpCertificate, derperArgs, DERP_PORT, HEADSCALE_PORT, headscaleConfig, writeDerpMap } from "../helpers/headscale";
import { cleanEnv, failure, isolatedInit, LAB_PATH, netnsPids, pidAlive, run, sh, sleep, tryRead, type RunResult } from "./processes";

export interface LabNodeSpec {
    name: string;
    role: "server" | "agent";
    /** installed and running at start; omit for a node with no k3s */
    version?: string;
    /** /var/lib/oceanid on a filesystem of its own of this many MiB (a small disk); default: the root filesystem */
    oceanidDiskMiB?: number;
}

export interface LabNode {
    name: string;
    role: "server" | "agent";
    address: string;
    /** "ssh-ed25519 AAAA..." */
    hostKey: string;
    netns: string;
}

export interface NodeLabOptions {
    nodes: LabNodeSpec[];
    /** third octet of the lab subnet 10.198.<subnet>.0/24 (default 0) */
    subnet?: number;
    /** seconds between the stand-in kubelets' Lease renewals (default 1; real kubelets: 10) */
    heartbeatSeconds?: number;
    /** the node-lifecycle controller's grace period before a silent node is Ready=Unknown (default 5; Kubernetes: 40) */
    graceSeconds?: number;
    /** every process and machine the lab starts ends by itself after this many seconds (default 900) */
    lifetimeSeconds?: number;
    /**
     * "lan" (default): the nodes share one Ethernet segment (a bridge), 10.198.<subnet>.0/24 directly
     * connected on each. "routed": each node has a point-to-point link of its own to a router
     * (10.198.<subnet>.253) and a default route via it, as VPSs reach each other over their
     * providers' networks: no node is directly connected to another (README: Network).
     */
    topology?: "lan" | "routed";
    /**
     * A tailnet control server for the nodes: headscale (plain HTTP) and derper on 10.198.<subnet>.253
     * in the lab's own namespace (the router, or the bridge), and a Tailscale static release
     * (`tailscaleRelease`) on the release server. No node runs Tailscale until a test installs it.
     */
    tailnet?: boolean;
    /** headscale's policy (HuJSON as JSON: tagOwners, autoApprovers, acls); none: every node reaches every node. */
    tailnetPolicy?: Record<string, unknown>;
}

/** A Tailscale static release as pkgs.tailscale.com ships it, served by the lab's release server. */
export interface TailscaleRelease {
    /** https://10.198.<subnet>.254:<port>/tailscale/stable/tailscale_<version>_amd64.tgz */
    url: string;
    /** hex SHA-256 of the tarball (also at url + ".sha256") */
    sha256: string;
    /** "1.102.3": scripts/lib.sh TAILSCALE_VERSION, the toolchain's tailscale and tailscaled */
    version: string;
}

/** What Tailscale left in a node's network namespace and on its disk (empty lists and false: nothing). */
export interface TailscaleLeftovers {
    /** the tailscale0 link exists */
    tailscale0: boolean;
    /** `ip rule` lines (IPv4 and IPv6, prefixed "v4 "/"v6 ") with `lookup 52` or `fwmark 0x80000/0xff0000` */
    ipRules: string[];
    /** routes in table 52 (prefixed "v4 "/"v6 ") */
    table52Routes: string[];
    /** ts-* chains: "<tool> <table> <chain>", tool one of iptables-nft, ip6tables-nft, iptables-legacy, ip6tables-legacy, nft */
    chains: string[];
    /** /var/lib/tailscale exists on the node's disk */
    varLibTailscale: boolean;
    /** host pids of tailscaled processes in the node's namespace */
    tailscaledPids: number[];
}

/** What a release of the k3s stand-in does when it runs (test/lab/k3s-standin/README.md). */
export type ReleaseBehaviour = "ok" | "never" | "once" | "crash" | `slow-start=${number}` | `once-after=${number}`;

const LAB_SRC = __dirname;
const STANDINS = join(LAB_SRC, "standins");
const PROJECT_ROOT = join(LAB_SRC, "..", "..");
const TOOLS_BIN = join(PROJECT_ROOT, ".tools", "bin");
const VERSION_RE = /^v\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+$/;
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOKEN_FILE = "/etc/rancher/k3s/token";
const CUT_COMMENT = "node-lab-cut";
const KUBECTL_IN_NODE = "/usr/local/lib/oceanid-lab/kubectl";
/** The lab's own address in its namespace (the router, or the bridge with `tailnet`): the last but one of the /24. */
const LAB_HOST = 253;
/** The last address of the /24: the root namespace's end of the lab's veth (the release server). */
const ROOT_HOST = 254;
/** systemd-nspawn's exit status when the machine asked to reboot. */
const NSPAWN_REBOOT = 133;

interface Internal {
    tag: string;
    subnet: number;
    heartbeat: number;
    grace: number;
    lifetime: number;
    labNs: string;
    rootVeth: string;
    specs: LabNodeSpec[];
    clusterDir: string;
    children: ChildProcess[];
    releases: Map<string, ReleaseBehaviour>;
    /** Files the release server hands out at /files/<name> (serveFile). */
    files: Map<string, string>;
    releaseServer?: Server;
    releasePort: number;
    standinBinary: string;
    reaperPid?: number;
    topology: "lan" | "routed";
    tailnet: boolean;
    tailnetPolicy?: Record<string, unknown>;
    /** headscale's config path and the id of its user "lab" (with `tailnet`) */
    headscale?: { config: string; userId: string };
    /** the Tailscale release tarball on the host (with `tailnet`) */
    tailscale?: { path: string; name: string; version: string; sha256: string };
}

// --- small helpers --------------------------------------------------------------------------
function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    const r = sh(cmd, args, opts);
    if (r.code !== 0) throw failure("node lab", cmd, args, r);
    return r.stdout;
}

async function runMust(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
    const r = await run(cmd, args, { timeoutMs });
    if (r.code !== 0) throw failure("node lab", cmd, args, r);
    return r.stdout;
}

/** NSpid of a process: its pid in each pid namespace, outermost first. */
function nsPids(pid: number): number[] | undefined {
    const line = tryRead(`/proc/${pid}/status`)
        ?.split("\n")
        .find((l) => l.startsWith("NSpid:"));
    return line?.split(/\s+/).slice(1).filter(Boolean).map(Number);
}

function comm(pid: number): string | undefined {
    return tryRead(`/proc/${pid}/comm`)?.trim();
}

function tcpBanner(host: string, port: number, timeoutMs = 500): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = connect({ host, port, timeout: timeoutMs });
        const done = (ok: boolean) => {
            socket.destroy();
            resolve(ok);
        };
        socket.once("data", () => done(true)); // sshd's banner: it is really serving
        socket.once("timeout", () => done(false));
        socket.once("error", () => done(false));
    });
}

/** The last line of a file, read from its end (a k3s binary is megabytes; its release trailer is the last line). */
function lastLine(path: string): string | undefined {
    let fd: number;
    try {
        fd = openSync(path, "r");
    } catch {
        return undefined;
    }
    try {
        const size = statSync(path).size;
        const n = Math.min(size, 256);
        const buf = Buffer.alloc(n);
        readSync(fd, buf, 0, n, size - n);
        return buf.toString("latin1").replace(/\n$/, "").split("\n").at(-1);
    } finally {
        closeSync(fd);
    }
}

/** A cached build of `npm run setup`, or an error saying to run it. */
function cached(script: string, what: string): string {
    const r = sh("bash", [join(PROJECT_ROOT, script), "--cached-only"], { env: { ...cleanEnv(), HOME: process.env.HOME ?? "/root" } });
    if (r.code !== 0) throw new Error(`node lab: ${what} is not built: run npm run setup (${(r.stderr || r.stdout).trim()})`);
    return r.stdout.trim();
}

// Tailscale's own unit and defaults, as its static tarball ships them (tailscale/tailscale
// cmd/tailscaled/tailscaled.service and tailscaled.defaults): the binaries at /usr/sbin.
const TAILSCALED_SERVICE = `[Unit]
Description=Tailscale node agent
Documentation=https://tailscale.com/kb/
Wants=network-pre.target
After=network-pre.target

[Service]
EnvironmentFile=/etc/default/tailscaled
ExecStartPre=/usr/sbin/tailscaled --cleanup
ExecStart=/usr/sbin/tailscaled --state=/var/lib/tailscale/tailscaled.state --socket=/run/tailscale/tailscaled.sock --port $PORT $FLAGS
ExecStopPost=/usr/sbin/tailscaled --cleanup

Restart=on-failure

RuntimeDirectory=tailscale
RuntimeDirectoryMode=0755
StateDirectory=tailscale
StateDirectoryMode=0750
CacheDirectory=tailscale
CacheDirectoryMode=0750
Type=notify

[Install]
WantedBy=multi-user.target
`;
const TAILSCALED_DEFAULTS = `# Set the port to listen on for incoming VPN packets.
# Remote nodes will automatically be informed about the new port number,
# but you might want to configure this in order to set external firewall
# settings.
PORT="41641"

# Extra flags you might want to pass to tailscaled.
FLAGS=""
`;

/**
 * tailscale_<version>_amd64.tgz in Tailscale's layout (tailscale_<version>_amd64/{tailscale,
 * tailscaled,systemd/tailscaled.service,systemd/tailscaled.defaults}) from the toolchain's
 * binaries, cached under ~/.cache/oceanid-infra by the binaries and unit files it is made of.
 */
async function tailscaleRelease(): Promise<{ path: string; name: string; version: string; sha256: string }> {
    const version = /^TAILSCALE_VERSION=(\S+)$/m.exec(readFileSync(join(PROJECT_ROOT, "scripts", "lib.sh"), "utf8"))?.[1];
    if (!version) throw new Error("node lab: no TAILSCALE_VERSION in scripts/lib.sh");
    const bins = ["tailscale", "tailscaled"].map((b) => realpathSync(join(TOOLS_BIN, b)));
    const said = must(bins[0], ["version"]).split("\n")[0].trim();
    if (said !== version) throw new Error(`node lab: .tools/bin/tailscale is ${said}, scripts/lib.sh TAILSCALE_VERSION is ${version}: run npm run setup`);
    const key = createHash("sha256")
        .update([version, ...bins.map((b) => `${b} ${statSync(b).size} ${statSync(b).mtimeMs}`), TAILSCALED_SERVICE, TAILSCALED_DEFAULTS].join("\n"))
        .digest("hex")
        .slice(0, 12);
    const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "oceanid-infra", `node-lab-tailscale-${version}-${key}`);
    const base = `tailscale_${version}_amd64`;
    const path = join(cacheDir, `${base}.tgz`);
    if (!existsSync(`${path}.sha256`)) {
        mkdirSync(cacheDir, { recursive: true });
        const work = mkdtempSync(join(cacheDir, "build-"));
        try {
            const top = join(work, base);
            mkdirSync(join(top, "systemd"), { recursive: true });
            for (const b of bins) await runMust("cp", [b, join(top, posix.basename(b))]);
            writeFileSync(join(top, "systemd", "tailscaled.service"), TAILSCALED_SERVICE);
            writeFileSync(join(top, "systemd", "tailscaled.defaults"), TAILSCALED_DEFAULTS);
            await runMust("chmod", ["0755", join(top, "tailscale"), join(top, "tailscaled")]);
            await runMust("tar", ["-C", work, "--owner=0", "--group=0", "--numeric-owner", "-czf", join(work, `${base}.tgz`), base], 120_000);
            const sha = createHash("sha256")
                .update(readFileSync(join(work, `${base}.tgz`)))
                .digest("hex");
            renameSync(join(work, `${base}.tgz`), path);
            writeFileSync(`${path}.sha256`, `${sha}\n`);
        } finally {
            rmSync(work, { recursive: true, force: true });
        }
    }
    return { path, name: `${base}.tgz`, version, sha256: readFileSync(`${path}.sha256`, "utf8").trim() };
}

/** cgroup directories (v1 name=systemd and v2) a node's launcher moves into: nspawn nests its own under the caller's. */
const CGROUP_ROOTS = ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"];
function removeCgroup(name: string): void {
    for (const root of CGROUP_ROOTS) {
        const top = join(root, name);
        if (!existsSync(top)) continue;
        // Deepest first: a cgroup goes only once it has no children (and no processes).
        const dirs: string[] = [];
        const walk = (d: string) => {
            dirs.push(d);
            for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
        };
        try {
            walk(top);
            for (const d of dirs.reverse()) sh("rmdir", [d]);
        } catch {
            /* gone meanwhile */
        }
    }
}

/** Removes what labs of processes that no longer exist left behind (their reaper normally does). */
function removeStaleLabs() {
    for (const line of sh("ip", ["netns", "list"]).stdout.split("\n")) {
        const name = line.split(" ")[0];
        const m = /^oclab(\d+)s\d+(?:-|$)/.exec(name);
        if (!m || pidAlive(Number(m[1]))) continue;
        for (const pid of netnsPids(name)) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                /* gone */
            }
        }
        sh("ip", ["netns", "del", name]);
    }
    for (const line of sh("ip", ["-o", "link", "show"]).stdout.split("\n")) {
        const m = /^\d+:\s+(ol(\d+)s\d+)[@:]/.exec(line);
        if (m && !pidAlive(Number(m[2]))) sh("ip", ["link", "del", m[1]]);
    }
    for (const root of CGROUP_ROOTS) {
        if (!existsSync(root)) continue;
        for (const d of readdirSync(root)) {
            const m = /^oclab(\d+)s\d+-/.exec(d);
            if (m && !pidAlive(Number(m[1]))) removeCgroup(d);
        }
    }
    for (const line of (tryRead("/proc/self/mounts") ?? "").split("\n")) {
        const target = line.split(" ")[1] ?? "";
        const m = /\/oceanid-lab-(\d+)-[^/]+\//.exec(target);
        if (m && !pidAlive(Number(m[1]))) sh("umount", ["-l", target]);
    }
}

export class NodeLab {
    readonly dir: string;
    readonly nodes: LabNode[];
    /** OpenSSH private key text for root (authorized on every node) */
    readonly clientPrivateKey: string;
    /** "K10" + sha256hex(cacerts bytes) + "::server:" + random hex */
    readonly k3sToken: string;
    /** admin kubeconfig text: https://<server ip>:6443 (k3s's supervisor), the cluster CA, an admin client certificate */
    readonly kubeconfig: string;
    readonly kubeconfigPath: string;
    /** https://<server ip>:6443 */
    readonly serverUrl: string;
    /** https://10.198.<subnet>.254:<port>/install.sh: the installer stand-in, from the lab's release server */
    readonly installScriptUrl: string;
    private readonly s: Internal;
    private stopped = false;

    private constructor(fields: { dir: string; nodes: LabNode[]; kubeconfigPath: string; serverUrl: string; installScriptUrl: string; internal: Internal }) {
        this.dir = fields.dir;
        this.nodes = fields.nodes;
        this.clientPrivateKey = "";
        this.k3sToken = "";
        this.kubeconfig = "";
        this.kubeconfigPath = fields.kubeconfigPath;
        this.serverUrl = fields.serverUrl;
        this.installScriptUrl = fields.installScriptUrl;
        this.s = fields.internal;
    }

    /** Why the lab cannot run here at all (not root, no `ip netns`), or undefined when it can. */
    static unavailableReason(): string | undefined {
        if (process.platform !== "linux") return "the node lab needs Linux network namespaces";
        if (process.getuid?.() !== 0) return "the node lab needs root (network namespaces, systemd-nspawn, iptables)";
        if (sh("ip", ["netns", "list"]).code !== 0) return "`ip netns` is unavailable (install iproute2)";
        return undefined;
    }

    /** Tools the lab needs besides root and ip netns; start() fails naming the first one missing. */
    private static missingTool(): string | undefined {
        for (const [tool, pkg] of [
            ["systemd-nspawn", "systemd-container"],
            ["ssh-keygen", "openssh-client"],
            ["iptables", "iptables"],
            ["openssl", "openssl"],
            ["nsenter", "util-linux"],
            ["zstd", "zstd"],
            ["timeout", "coreutils"],
        ]) {
            if (!LAB_PATH.split(":").some((d) => existsSync(join(d, tool)))) return `${tool} is missing (Debian: apt-get install ${pkg})`;
        }
        for (const tool of ["kube-apiserver", "kube-controller-manager", "etcd", "kubectl"]) {
            if (!existsSync(join(TOOLS_BIN, tool))) return `${tool} is not in .tools/bin: run npm run setup`;
        }
        return undefined;
    }

    /** What `tailnet: true` needs besides: the tailnet toolchain (scripts/setup builds it). */
    private static missingTailnetTool(): string | undefined {
        for (const tool of ["headscale", "derper", "tailscale", "tailscaled"]) {
            if (!existsSync(join(TOOLS_BIN, tool))) return `${tool} is not in .tools/bin (the tailnet toolchain): run npm run setup`;
        }
        for (const [tool, pkg] of [
            ["curl", "curl"],
            ["tar", "tar"],
            ["gzip", "gzip"],
            ["unshare", "util-linux"],
        ]) {
            if (!LAB_PATH.split(":").some((d) => existsSync(join(d, tool)))) return `${tool} is missing (Debian: apt-get install ${pkg})`;
        }
        return undefined;
    }

    static async start(opts: NodeLabOptions): Promise<NodeLab> {
        const t0 = Date.now();
        const subnet = opts.subnet ?? 0;
        const heartbeat = opts.heartbeatSeconds ?? 1;
        const grace = opts.graceSeconds ?? 5;
        const lifetime = opts.lifetimeSeconds ?? 900;
        const specs = opts.nodes;
        const topology = opts.topology ?? "lan";
        const tailnet = opts.tailnet ?? false;
        const problems: string[] = [];
        if (topology !== "lan" && topology !== "routed") problems.push(`topology must be "lan" or "routed" (got ${String(topology)})`);
        if (specs.length > 200) problems.push("nodes: at most 200 (10.198.<subnet>.1-200)");
        if (!Number.isInteger(subnet) || subnet < 0 || subnet > 255) problems.push(`subnet must be an integer 0-255 (got ${subnet})`);
        if (!Number.isInteger(heartbeat) || heartbeat < 1) problems.push("heartbeatSeconds must be a whole number >= 1");
        if (!Number.isInteger(grace) || grace < 1) problems.push("graceSeconds must be a whole number >= 1");
        if (!Number.isInteger(lifetime) || lifetime < 30) problems.push("lifetimeSeconds must be an integer >= 30");
        if (specs.length === 0 || specs.length > 200) problems.push("nodes: between 1 and 200 nodes");
        if (specs.filter((n) => n.role === "server").length !== 1) problems.push("nodes: exactly one server");
        const seen = new Set<string>();
        for (const n of specs) {
            if (!NAME_RE.test(n.name)) problems.push(`node name ${JSON.stringify(n.name)} is not a DNS label`);
            if (seen.has(n.name)) problems.push(`node name ${n.name} is used twice`);
            seen.add(n.name);
            if (n.role !== "server" && n.role !== "agent") problems.push(`node ${n.name}: role must be server or agent`);
            if (n.version !== undefined && !VERSION_RE.test(n.version)) problems.push(`node ${n.name}: version ${n.version} is not vX.Y.Z+k3sN`);
            if (n.oceanidDiskMiB !== undefined && !(Number.isInteger(n.oceanidDiskMiB) && n.oceanidDiskMiB >= 1)) {
                problems.push(`node ${n.name}: oceanidDiskMiB must be a whole number >= 1`);
            }
        }
        const server = specs.find((n) => n.role === "server");
        if (server && !server.version && specs.some((n) => n.version)) problems.push("an agent cannot have k3s when the server has none");
        if (problems.length) throw new Error(`node lab: ${problems.join("; ")}`);
        const unavailable = NodeLab.unavailableReason() ?? NodeLab.missingTool() ?? (tailnet ? NodeLab.missingTailnetTool() : undefined);
        if (unavailable) throw new Error(`node lab: ${unavailable}`);
        const image = cached("scripts/node-image", "the node lab's root filesystem");
        const standinBinary = cached("test/lab/k3s-standin/build.sh", "the k3s stand-in");

        removeStaleLabs();
        const prefix = `10.198.${subnet}`;
        if (
            sh("ip", ["-4", "-o", "addr", "show", "to", `${prefix}.0/24`]).stdout.trim() ||
            sh("ip", ["-4", "route", "show", "root", `${prefix}.0/24`]).stdout.trim()
        ) {
            throw new Error(`node lab: ${prefix}.0/24 is already in use in the root namespace (another lab?): pick another subnet`);
        }

        const tag = `${process.pid}s${subnet}`;
        const base = /^\/(etc|var)(\/|$)/.test(tmpdir()) ? "/tmp" : tmpdir();
        const dir = mkdtempSync(join(base, `oceanid-lab-${process.pid}-`));
        const internal: Internal = {
            tag,
            subnet,
            heartbeat,
            grace,
            lifetime,
            labNs: `oclab${tag}`,
            rootVeth: `ol${tag}`,
            specs,
            clusterDir: join(dir, "cluster"),
            children: [],
            releases: new Map(),
            files: new Map(),
            releasePort: 0,
            standinBinary,
            topology,
            tailnet,
            ...(opts.tailnetPolicy === undefined ? {} : { tailnetPolicy: opts.tailnetPolicy }),
        };
        const address = (i: number) => `${prefix}.${i + 1}`;
        const serverIp = address(specs.findIndex((n) => n.role === "server"));
        // A partially built lab that stop() can take down if anything below fails.
        const partial = new NodeLab({
            dir,
            nodes: specs.map((n, i) => ({ name: n.name, role: n.role, address: address(i), hostKey: "", netns: `oclab${tag}-${n.name}` })),
            kubeconfigPath: join(dir, "kubeconfig.yaml"),
            serverUrl: `https://${serverIp}:6443`,
            installScriptUrl: "",
            internal,
        });
        try {
            return await partial.build(t0, image);
        } catch (e) {
            const logs = partial.logs();
            await partial.stop();
            const tail = logs.split("\n").slice(-80).join("\n");
            throw new Error(`${(e as Error).message}\n--- lab logs (tail) ---\n${tail}`);
        }
    }

    private nodeDir(name: string): string {
        return join(this.dir, "nodes", name);
    }

    private rootOf(name: string): string {
        return join(this.nodeDir(name), "root");
    }

    private async build(t0: number, image: string): Promise<NodeLab> {
        const { dir } = this;
        const s = this.s;
        const logs = join(dir, "logs");
        for (const d of ["logs", "ssh", "tls", "share"]) mkdirSync(join(dir, d), { recursive: true });

        // The safety net first: whatever happens from here on, machines, namespaces, veth, cgroups and dir go away.
        const namespaces = [s.labNs, ...this.nodes.map((n) => n.netns)];
        const reaperLog = openSync(join(logs, "reaper.log"), "a");
        const reaper = spawn(
            "timeout",
            [
                "-s",
                "KILL",
                String(s.lifetime + 60),
                "bash",
                join(LAB_SRC, "reaper.sh"),
                String(process.pid),
                String(s.lifetime),
                dir,
                s.rootVeth,
                ...namespaces,
            ],
            { detached: true, stdio: ["ignore", reaperLog, reaperLog], env: cleanEnv() },
        );
        closeSync(reaperLog);
        reaper.unref();
        s.reaperPid = reaper.pid;
        s.children.push(reaper);

        // Network: a bridge in the lab namespace, a veth per node, one from the root namespace.
        // IPv6 is off in the lab's namespaces: the lab speaks IPv4 only, and cutNetwork drops IPv4.
        const prefix = `10.198.${s.subnet}`;
        const batch = (args: string[], lines: string[]) => must("ip", [...args, "-batch", "-"], { input: lines.join("\n") + "\n" });
        batch(
            [],
            namespaces.map((ns) => `netns add ${ns}`),
        );
        for (const ns of namespaces) {
            sh("ip", [
                "netns",
                "exec",
                ns,
                "sh",
                "-c",
                "for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do echo 1 > $f; done; true",
            ]);
        }
        batch(
            [],
            [
                ...this.nodes.map((n, i) => `link add eth0 netns ${n.netns} type veth peer name n${i + 1} netns ${s.labNs}`),
                `link add ${s.rootVeth} type veth peer name up0 netns ${s.labNs}`,
            ],
        );
        sh("ip", ["link", "set", s.rootVeth, "addrgenmode", "none"]);
        const labHost = `${prefix}.${LAB_HOST}`;
        const rootHost = `${prefix}.${ROOT_HOST}`;
        if (s.topology === "lan") {
            batch([], [`addr add ${rootHost}/24 dev ${s.rootVeth}`, `link set ${s.rootVeth} up`]);
        } else {
            // One route in the root namespace, limited to the lab's /24, via the router.
            batch(
                [],
                [
                    `addr add ${rootHost}/32 peer ${labHost}/32 dev ${s.rootVeth}`,
                    `link set ${s.rootVeth} up`,
                    `route add ${prefix}.0/24 via ${labHost} dev ${s.rootVeth}`,
                ],
            );
        }
        // Another process may have taken the subnet since the check in start(): two routes would mix the labs up.
        if (
            must("ip", ["-4", "-o", "addr", "show", "to", `${prefix}.0/24`])
                .trim()
                .split("\n").length !== 1
        ) {
            throw new Error(`node lab: ${prefix}.0/24 was taken by another lab while this one started: pick another subnet`);
        }
        if (s.topology === "lan") {
            batch(
                ["-n", s.labNs],
                [
                    "link add br0 type bridge",
                    "link set lo up",
                    "link set br0 up",
                    ...this.nodes.map((_, i) => `link set n${i + 1} master br0 up`),
                    "link set up0 master br0 up",
                    // The tailnet's control server lives on the bridge.
                    ...(s.tailnet ? [`addr add ${labHost}/24 dev br0`] : []),
                ],
            );
            for (const n of this.nodes) batch(["-n", n.netns], [`addr add ${n.address}/24 dev eth0`, "link set lo up", "link set eth0 up"]);
        } else {
            // The router: the same address (labHost) on every link, a /32 route to each node through
            // its own link, forwarding on (only here: the namespace is the lab's). A node's eth0 has
            // its address as a /32 with the router as its peer (a VPS's "/32 with an on-link
            // gateway"): the only directly connected network of a node is itself.
            batch(
                ["-n", s.labNs],
                [
                    "link set lo up",
                    `addr add ${labHost}/32 peer ${rootHost}/32 dev up0`,
                    "link set up0 up",
                    ...this.nodes.flatMap((n, i) => [
                        `addr add ${labHost}/32 dev n${i + 1}`,
                        `link set n${i + 1} up`,
                        `route add ${n.address}/32 dev n${i + 1}`,
                    ]),
                ],
            );
            must("ip", ["netns", "exec", s.labNs, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
            for (const n of this.nodes) {
                batch(
                    ["-n", n.netns],
                    [`addr add ${n.address}/32 peer ${labHost}/32 dev eth0`, "link set lo up", "link set eth0 up", `route add default via ${labHost} dev eth0`],
                );
            }
        }

        // The control plane, where k3s runs it: in the server node's namespace, the API on 127.0.0.1:6444.
        const serverNode = this.nodes.find((n) => n.role === "server")!;
        // The tailnet (headscale, derper, the Tailscale release) meanwhile: it needs nothing of the control plane.
        const tailnetStarted = s.tailnet ? this.startTailnet() : Promise.resolve();
        tailnetStarted.catch(() => undefined); // awaited below; not an unhandled rejection if the control plane fails first
        const cp = await run(
            "bash",
            [
                join(PROJECT_ROOT, "scripts", "test-cluster"),
                "start",
                "--dir",
                s.clusterDir,
                "--owner",
                String(process.pid),
                "--lifetime",
                String(s.lifetime),
                "--netns",
                serverNode.netns,
                "--node-grace",
                String(s.grace),
            ],
            { timeoutMs: 180_000, env: { ...cleanEnv(), PATH: `${TOOLS_BIN}:${LAB_PATH}`, HOME: process.env.HOME ?? "/root" } },
        );
        if (cp.code !== 0) throw new Error(`node lab: scripts/test-cluster start failed (${cp.code}): ${cp.stderr.trim().split("\n").slice(-15).join("\n")}`);
        await tailnetStarted;
        const pki = join(s.clusterDir, "pki");

        // Keys: one client key for root; each node's host key is made in its root filesystem below.
        await runMust("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "node-lab-root", "-f", join(dir, "ssh", "id_ed25519")]);
        const clientPrivateKey = readFileSync(join(dir, "ssh", "id_ed25519"), "utf8");
        const authorizedKey = readFileSync(join(dir, "ssh", "id_ed25519.pub"), "utf8");

        // What k3s's server makes at its first start, made here from the control plane's CA: the
        // supervisor's serving certificate, the k3s token (its hash pins the CA), the admin kubeconfigs.
        const tls = join(dir, "tls");
        const ca = readFileSync(join(pki, "ca.crt"));
        const k3sToken = `K10${createHash("sha256").update(ca).digest("hex")}::server:${randomBytes(16).toString("hex")}`;
        writeFileSync(
            join(tls, "serving.cnf"),
            `[ext]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${serverNode.address},IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\n`,
        );
        await runMust("openssl", ["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", join(tls, "serving.key")]);
        await runMust("openssl", ["req", "-new", "-key", join(tls, "serving.key"), "-subj", "/O=k3s/CN=k3s", "-out", join(tls, "serving.csr")]);
        await runMust("openssl", [
            "x509",
            "-req",
            "-in",
            join(tls, "serving.csr"),
            "-CA",
            join(pki, "ca.crt"),
            "-CAkey",
            join(pki, "ca.key"),
            "-CAserial",
            join(tls, "ca.srl"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            join(tls, "serving.cnf"),
            "-extensions",
            "ext",
            "-out",
            join(tls, "serving.crt"),
        ]);
        // The release server's certificate (the nodes trust the cluster's CA, as hosts trust get.k3s.io's).
        writeFileSync(
            join(tls, "releases.cnf"),
            `[ext]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${prefix}.254\n`,
        );
        await runMust("openssl", ["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", join(tls, "releases.key")]);
        await runMust("openssl", ["req", "-new", "-key", join(tls, "releases.key"), "-subj", "/CN=oceanid-lab-releases", "-out", join(tls, "releases.csr")]);
        await runMust("openssl", [
            "x509",
            "-req",
            "-in",
            join(tls, "releases.csr"),
            "-CA",
            join(pki, "ca.crt"),
            "-CAkey",
            join(pki, "ca.key"),
            "-CAserial",
            join(tls, "ca.srl"),
            "-days",
            "2",
            "-extfile",
            join(tls, "releases.cnf"),
            "-extensions",
            "ext",
            "-out",
            join(tls, "releases.crt"),
        ]);
        const b64 = (f: string) => readFileSync(join(pki, f)).toString("base64");
        const kubeconfigFor = (url: string) =>
            [
                "apiVersion: v1",
                "kind: Config",
                "clusters:",
                "- name: default",
                "  cluster:",
                `    server: ${url}`,
                `    certificate-authority-data: ${ca.toString("base64")}`,
                "contexts:",
                "- name: default",
                "  context:",
                "    cluster: default",
                "    user: default",
                "current-context: default",
                "preferences: {}",
                "users:",
                "- name: default",
                "  user:",
                `    client-certificate-data: ${b64("admin.crt")}`,
                `    client-key-data: ${b64("admin.key")}`,
                "",
            ].join("\n");
        const kubeconfig = kubeconfigFor(this.serverUrl);
        writeFileSync(this.kubeconfigPath, kubeconfig, { mode: 0o600 });

        // The release server: the installer stand-in and per-version k3s stand-in binaries.
        await this.startReleaseServer();
        Object.assign(this, { installScriptUrl: `https://${prefix}.254:${s.releasePort}/install.sh` });

        // The machines: a fresh copy of the root filesystem each, with its own host key and machine id.
        const kubectl = realpathSync(join(TOOLS_BIN, "kubectl"));
        const nodes: LabNode[] = [];
        await Promise.all(
            this.nodes.map(async (n) => {
                const spec = s.specs.find((x) => x.name === n.name)!;
                const root = this.rootOf(n.name);
                mkdirSync(root, { recursive: true });
                await runMust("tar", ["-C", root, "--zstd", "-xf", image], 120_000);
                await runMust("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${n.name}`, "-f", join(root, "etc", "ssh", "ssh_host_ed25519_key")]);
                writeFileSync(join(root, "etc", "hostname"), `${n.name}\n`);
                writeFileSync(
                    join(root, "etc", "hosts"),
                    `127.0.0.1 localhost\n127.0.1.1 ${n.name}\n${this.nodes.map((x) => `${x.address} ${x.name}`).join("\n")}\n`,
                );
                writeFileSync(join(root, "etc", "machine-id"), `${randomBytes(16).toString("hex")}\n`);
                appendFileSync(join(root, "etc", "ssl", "certs", "ca-certificates.crt"), ca);
                writeFileSync(
                    join(root, "etc", "ssh", "sshd_config.d", "node-lab.conf"),
                    [
                        "HostKey /etc/ssh/ssh_host_ed25519_key",
                        "PermitRootLogin prohibit-password",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "UseDNS no",
                        "LogLevel VERBOSE",
                        "MaxStartups 64:30:128",
                        "MaxSessions 64",
                        "",
                    ].join("\n"),
                );
                mkdirSync(join(root, "root", ".ssh"), { recursive: true, mode: 0o700 });
                writeFileSync(join(root, "root", ".ssh", "authorized_keys"), authorizedKey, { mode: 0o600 });
                mkdirSync(join(root, "etc", "oceanid-lab"), { recursive: true });
                writeFileSync(join(root, "etc", "oceanid-lab", "heartbeat-seconds"), `${s.heartbeat}\n`);
                // Tailscale, where a test runs it, must not try the internet (no route there anyway).
                mkdirSync(join(root, "etc", "default"), { recursive: true });
                writeFileSync(join(root, "etc", "default", "tailscaled"), "TS_NO_LOGS_NO_SUPPORT=true\n");
                mkdirSync(join(root, "usr", "local", "lib", "oceanid-lab"), { recursive: true });
                writeFileSync(join(root, KUBECTL_IN_NODE), "");
                if (spec.version) {
                    mkdirSync(join(root, "etc", "rancher", "k3s"), { recursive: true, mode: 0o700 });
                    writeFileSync(join(root, TOKEN_FILE), k3sToken + "\n", { mode: 0o600 });
                }
                if (n.role === "server") {
                    const st = join(root, "var", "lib", "rancher", "k3s", "server");
                    mkdirSync(join(st, "tls"), { recursive: true, mode: 0o700 });
                    writeFileSync(join(st, "token"), k3sToken + "\n", { mode: 0o600 });
                    const copy = (from: string, to: string, mode = 0o644) => writeFileSync(join(st, "tls", to), readFileSync(from), { mode });
                    copy(join(pki, "ca.crt"), "server-ca.crt");
                    copy(join(pki, "ca.crt"), "client-ca.crt");
                    copy(join(pki, "ca.key"), "client-ca.key", 0o600);
                    copy(join(tls, "serving.crt"), "serving-kube-apiserver.crt");
                    copy(join(tls, "serving.key"), "serving-kube-apiserver.key", 0o600);
                    copy(join(pki, "front-proxy-client.crt"), "client-auth-proxy.crt");
                    copy(join(pki, "front-proxy-client.key"), "client-auth-proxy.key", 0o600);
                    mkdirSync(join(root, "etc", "rancher", "k3s"), { recursive: true, mode: 0o700 });
                    writeFileSync(join(root, "etc", "rancher", "k3s", "k3s.yaml"), kubeconfigFor("https://127.0.0.1:6443"), { mode: 0o600 });
                }
                if (spec.oceanidDiskMiB !== undefined) {
                    const fs = join(this.nodeDir(n.name), "oceanid-fs");
                    mkdirSync(fs, { recursive: true });
                    must("mount", ["-t", "tmpfs", "-o", `size=${spec.oceanidDiskMiB}m,mode=0755`, `oceanid-lab-${n.name}`, fs]);
                }
                const pub = readFileSync(join(root, "etc", "ssh", "ssh_host_ed25519_key.pub"), "utf8")
                    .trim()
                    .split(/\s+/);
                nodes.push({ ...n, hostKey: `${pub[0]} ${pub[1]}` });
                this.launch(n, kubectl, spec.oceanidDiskMiB !== undefined);
            }),
        );
        nodes.sort((a, b) => this.nodes.findIndex((n) => n.name === a.name) - this.nodes.findIndex((n) => n.name === b.name));
        Object.assign(this, { nodes, clientPrivateKey, k3sToken, kubeconfig });
        await Promise.all(this.nodes.map((n) => this.waitForSsh(n.name, 30_000)));

        // k3s as a real cluster has it before a change: server first, then the agents.
        const installStart = Date.now();
        const install = async (spec: LabNodeSpec) => {
            const env = [`INSTALL_K3S_VERSION=${spec.version}`, `INSTALL_K3S_EXEC=${spec.role}`, `K3S_TOKEN_FILE=${TOKEN_FILE}`];
            if (spec.role === "agent") env.push(`K3S_URL=${this.serverUrl}`);
            const r = await this.inNodeAsync(spec.name, `curl -sfL ${this.installScriptUrl} | env ${env.join(" ")} sh -`);
            if (r.code !== 0) throw new Error(`node lab: installing k3s ${spec.version} on ${spec.name} failed: ${r.out}`);
        };
        const server0 = s.specs.find((n) => n.role === "server" && n.version);
        if (server0) await install(server0);
        await Promise.all(s.specs.filter((n) => n.role === "agent" && n.version).map(install));
        await this.waitHealthy(
            s.specs.filter((n) => n.version).map((n) => n.name),
            installStart,
            60_000,
        );
        appendFileSync(
            join(logs, "lab.log"),
            `${new Date().toISOString()} lab started in ${Date.now() - t0} ms: ${nodes.map((n) => `${n.name}=${n.address}`).join(" ")}\n`,
        );
        return this;
    }

    /** Starts a node's launcher: nspawn in a loop that boots the machine again after a reboot or a power cycle. */
    private launch(n: LabNode, kubectl: string, ownDisk: boolean): void {
        const s = this.s;
        const nd = this.nodeDir(n.name);
        const args = [
            "--boot",
            "--register=no",
            "--keep-unit",
            `--directory=${this.rootOf(n.name)}`,
            `--machine=${s.labNs}-${n.name}`,
            `--hostname=${n.name}`,
            `--network-namespace-path=/run/netns/${n.netns}`,
            // iptables and Tailscale inside the node; the namespace is the node's own.
            "--capability=CAP_NET_ADMIN",
            "--bind=/dev/net/tun",
            `--bind-ro=${kubectl}:${KUBECTL_IN_NODE}`,
            ...(ownDisk ? [`--bind=${join(nd, "oceanid-fs")}:/var/lib/oceanid`] : []),
        ];
        writeFileSync(join(nd, "nspawn.args"), args.join("\n") + "\n");
        const log = openSync(join(this.dir, "logs", `node-${n.name}.log`), "a");
        // In the root namespace: `ip netns exec` would hide /sys/fs/cgroup, which nspawn needs.
        const child = spawn("timeout", ["-s", "KILL", String(s.lifetime), "bash", join(LAB_SRC, "launcher.sh"), nd, n.netns], {
            detached: true,
            stdio: ["ignore", log, log],
            env: { ...cleanEnv(), SYSTEMD_NSPAWN_API_VFS_WRITABLE: "network" },
        });
        closeSync(log);
        child.unref();
        s.children.push(child);
    }

    private async waitForSsh(name: string, timeoutMs: number): Promise<number> {
        const t0 = Date.now();
        const n = this.node(name);
        for (;;) {
            if (this.initPid(name) !== undefined && (await tcpBanner(n.address, 22))) return Date.now() - t0;
            if (Date.now() - t0 > timeoutMs) throw new Error(`node lab: sshd of ${name} did not answer at ${n.address}:22 within ${timeoutMs / 1000}s`);
            await sleep(50);
        }
    }

    /** Waits until each node is Ready with a Lease renewed after `sinceMs` (by the API server). */
    async waitHealthy(names: string[], sinceMs: number, timeoutMs: number): Promise<void> {
        const waiting = [...names];
        let last = "";
        for (const deadline = Date.now() + timeoutMs; waiting.length;) {
            const [nodesR, leasesR] = await Promise.all([
                this.api("/api/v1/nodes"),
                this.api("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"),
            ]).catch((e: Error) => [{ status: 0, body: e.message }, undefined] as const);
            if (nodesR.status === 200 && leasesR?.status === 200) {
                const ready = new Set(
                    (JSON.parse(nodesR.body).items as any[])
                        .filter((n) => n.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"))
                        .map((n) => n.metadata.name as string),
                );
                const fresh = new Set(
                    (JSON.parse(leasesR.body).items as any[])
                        .filter((l) => Date.parse(l.spec?.renewTime ?? "") >= sinceMs - 1000)
                        .map((l) => l.metadata.name as string),
                );
                for (let i = waiting.length - 1; i >= 0; i--) if (ready.has(waiting[i]) && fresh.has(waiting[i])) waiting.splice(i, 1);
                last = `waiting for ${waiting.join(", ")}`;
            } else {
                last = `API: ${nodesR.status} ${nodesR.body.slice(0, 200)}`;
            }
            if (!waiting.length) break;
            if (Date.now() > deadline) throw new Error(`node lab: ${waiting.join(", ")} not Ready with a fresh Lease within ${timeoutMs / 1000}s (${last})`);
            await sleep(200);
        }
    }

    // --- the release server ---------------------------------------------------------------------
    private releaseBinary(version: string): Buffer {
        const behaviour = this.s.releases.get(version) ?? "ok";
        return Buffer.concat([readFileSync(this.s.standinBinary), Buffer.from(`\n#oceanid-k3s-standin version=${version} behaviour=${behaviour}\n`)]);
    }

    private startReleaseServer(): Promise<void> {
        const installer = () =>
            readFileSync(join(STANDINS, "install-k3s.sh"), "utf8").replace(
                /^STANDIN_RELEASES_URL=.*$/m,
                `STANDIN_RELEASES_URL=https://10.198.${this.s.subnet}.254:${this.s.releasePort} # lab: the release server`,
            );
        const tls = join(this.dir, "tls");
        const server = createServer({ cert: readFileSync(join(tls, "releases.crt")), key: readFileSync(join(tls, "releases.key")) }, (req, res) => {
            const path = decodeURIComponent((req.url ?? "").split("?")[0]);
            appendFileSync(join(this.dir, "logs", "releases.log"), `${new Date().toISOString()} ${req.method} ${path}\n`);
            const m = /^\/k3s\/([^/]+)\/(k3s|sha256sum-amd64\.txt)$/.exec(path);
            const ts = this.s.tailscale;
            if (ts && path === `/tailscale/stable/${ts.name}`) {
                res.writeHead(200, { "content-type": "application/x-gzip", "content-length": statSync(ts.path).size });
                createReadStream(ts.path).pipe(res);
            } else if (ts && path === `/tailscale/stable/${ts.name}.sha256`) {
                res.writeHead(200, { "content-type": "text/plain" }).end(`${ts.sha256}\n`);
            } else if (path.startsWith("/files/") && this.s.files.has(path.slice("/files/".length))) {
                const file = this.s.files.get(path.slice("/files/".length))!;
                res.writeHead(200, { "content-type": "application/octet-stream", "content-length": statSync(file).size });
                createReadStream(file).pipe(res);
            } else if (path === "/install.sh") {
                res.writeHead(200, { "content-type": "text/plain" }).end(installer());
            } else if (m && VERSION_RE.test(m[1])) {
                const bin = this.releaseBinary(m[1]);
                if (m[2] === "k3s") res.writeHead(200, { "content-type": "application/octet-stream" }).end(bin);
                else res.writeHead(200, { "content-type": "text/plain" }).end(`${createHash("sha256").update(bin).digest("hex")}  k3s\n`);
            } else {
                res.writeHead(404).end("not found\n");
            }
        });
        this.s.releaseServer = server;
        return new Promise((resolve, reject) => {
            server.once("error", reject);
            server.listen(this.s.releasePort, `10.198.${this.s.subnet}.254`, () => {
                this.s.releasePort = (server.address() as { port: number }).port;
                resolve();
            });
        });
    }

    // --- the tailnet (`tailnet: true`) ------------------------------------------------------------
    /** headscale and derper in the lab's namespace, and the Tailscale release. */
    private async startTailnet(): Promise<void> {
        const s = this.s;
        const hs = join(this.dir, "headscale");
        mkdirSync(hs, { recursive: true });
        const ip = `10.198.${s.subnet}.${LAB_HOST}`;
        const release = tailscaleRelease().then((r) => (s.tailscale = r));
        release.catch(() => undefined); // awaited at the end
        const certSha256 = derpCertificate(hs, ip);
        writeDerpMap(join(hs, "derp.yaml"), ip, certSha256);
        const config = join(hs, "config.yaml");
        const policyPath = join(hs, "policy.json");
        if (s.tailnetPolicy !== undefined) writeFileSync(policyPath, JSON.stringify(s.tailnetPolicy, null, 2));
        writeFileSync(
            config,
            headscaleConfig({
                dir: hs,
                serverUrl: `http://${ip}:${HEADSCALE_PORT}`,
                listenAddr: `${ip}:${HEADSCALE_PORT}`,
                derpMapPath: join(hs, "derp.yaml"),
                ...(s.tailnetPolicy === undefined ? {} : { policyPath }),
            }),
        );
        s.headscale = { config, userId: "" };
        this.labDaemon("derper", derperArgs(join(TOOLS_BIN, "derper"), ip, hs));
        this.labDaemon("headscale", [join(TOOLS_BIN, "headscale"), "-c", config, "serve"]);
        const t0 = Date.now();
        for (;;) {
            const r = await this.headscale(["users", "list", "-o", "json"]);
            const probe = await this.inLabNs(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", `https://${ip}:${DERP_PORT}/derp/probe`], 5000);
            if (r.code === 0 && probe.stdout.trim() === "200") break;
            if (Date.now() - t0 > 30_000)
                throw new Error(`node lab: headscale or derper did not answer within 30 s: ${r.stderr || r.stdout} / derp probe ${probe.stdout}`);
            await sleep(100);
        }
        s.headscale.userId = String((await this.headscaleJson(["users", "create", "lab", "-o", "json"])).id);
        await release;
    }

    /** A daemon in the lab's namespace (the router, or the bridge): PID 1 of its own pid namespace, killed after the lab's lifetime. */
    private labDaemon(name: string, argv: string[]): void {
        const log = openSync(join(this.dir, "logs", `${name}.log`), "a");
        const home = join(this.dir, "home");
        mkdirSync(home, { recursive: true });
        const child = spawn("ip", ["netns", "exec", this.s.labNs, ...isolatedInit(this.s.lifetime), ...argv], {
            detached: true,
            stdio: ["ignore", log, log],
            env: { ...cleanEnv(), HOME: home, XDG_CACHE_HOME: join(home, ".cache"), XDG_CONFIG_HOME: join(home, ".config") },
        });
        closeSync(log);
        child.unref();
        this.s.children.push(child);
    }

    private inLabNs(argv: string[], timeoutMs = 30_000): Promise<RunResult> {
        return run("ip", ["netns", "exec", this.s.labNs, "timeout", "-s", "KILL", String(Math.ceil(timeoutMs / 1000)), ...argv], {
            timeoutMs: timeoutMs + 5000,
            env: { ...cleanEnv(), HOME: join(this.dir, "home") },
        });
    }

    private tailnetState(): { config: string; userId: string } {
        if (!this.s.headscale) throw new Error("node lab: no tailnet: start the lab with tailnet: true");
        return this.s.headscale;
    }

    /** headscale's URL, what nodes pass to `tailscale up --login-server` (plain HTTP, on the lab's own address .253). */
    get headscaleUrl(): string {
        this.tailnetState();
        return `http://10.198.${this.s.subnet}.${LAB_HOST}:${HEADSCALE_PORT}`;
    }

    /** The headscale CLI against the lab's headscale (its unix socket), e.g. headscale(["nodes", "list", "-o", "json"]). */
    headscale(args: string[]): Promise<RunResult> {
        return this.inLabNs([join(TOOLS_BIN, "headscale"), "-c", this.tailnetState().config, ...args]);
    }

    private async headscaleJson(args: string[]): Promise<any> {
        const r = await this.headscale(args);
        if (r.code !== 0) throw new Error(`node lab: headscale ${args.join(" ")} failed (${r.code}): ${r.stderr || r.stdout}`);
        return JSON.parse(r.stdout);
    }

    /** A new headscale API key (`headscale apikeys create`), for `Authorization: Bearer <key>` on <headscaleUrl>/api/v1/…. */
    async headscaleApiKey(opts: { expirationSeconds?: number } = {}): Promise<string> {
        const r = await this.headscale(["apikeys", "create", "--expiration", `${opts.expirationSeconds ?? this.s.lifetime}s`]);
        const key = r.stdout.trim().split("\n").at(-1) ?? "";
        if (r.code !== 0 || !key) throw new Error(`node lab: headscale apikeys create failed (${r.code}): ${r.stderr || r.stdout}`);
        return key;
    }

    /** A new pre-auth key of the lab's headscale user "lab": reusable unless said otherwise, valid for the lab's lifetime unless said otherwise. */
    async preAuthKey(opts: { reusable?: boolean; ephemeral?: boolean; expirationSeconds?: number; tags?: string[] } = {}): Promise<string> {
        const args = [
            "preauthkeys",
            "create",
            "--user",
            this.tailnetState().userId,
            "--expiration",
            `${opts.expirationSeconds ?? this.s.lifetime}s`,
            "-o",
            "json",
        ];
        if (opts.reusable ?? true) args.push("--reusable");
        if (opts.ephemeral) args.push("--ephemeral");
        if (opts.tags !== undefined && opts.tags.length > 0) args.push("--tags", opts.tags.join(","));
        return String((await this.headscaleJson(args)).key);
    }

    /** headscale's node list (`headscale nodes list -o json`). */
    async headscaleNodes(): Promise<any[]> {
        return (await this.headscaleJson(["nodes", "list", "-o", "json"])) ?? [];
    }

    /** The Tailscale static release the release server hands out (`tailnet: true`); nodes trust its certificate already. */
    get tailscaleRelease(): TailscaleRelease {
        const ts = this.s.tailscale;
        if (!ts) throw new Error("node lab: no Tailscale release: start the lab with tailnet: true");
        return {
            url: `https://10.198.${this.s.subnet}.${ROOT_HOST}:${this.s.releasePort}/tailscale/stable/${ts.name}`,
            sha256: ts.sha256,
            version: ts.version,
        };
    }

    /** The node's Tailscale IPv4 (`tailscale ip -4` inside it), or undefined when it has none. */
    async nodeTailscaleIp(name: string): Promise<string | undefined> {
        const r = await this.inNodeAsync(name, "tailscale ip -4");
        const ip = r.out.trim();
        return r.code === 0 && /^100\.\d+\.\d+\.\d+$/.test(ip) ? ip : undefined;
    }

    /** Whether sshd of the node answers (TCP connect and its banner) from the root namespace within timeoutMs. */
    sshReachable(name: string, timeoutMs = 1000): Promise<boolean> {
        return tcpBanner(this.node(name).address, 22, timeoutMs);
    }

    /**
     * What Tailscale left in the node's network namespace and on its disk, read from the host (the
     * namespace is the lab's: this works while the machine is off too): the tailscale0 link, ip rules
     * and table 52 routes (IPv4 and IPv6), ts-* chains (iptables-nft and -legacy, IPv4 and IPv6, and
     * nft's own tables while the machine runs), /var/lib/tailscale, tailscaled processes.
     */
    tailscaleLeftovers(name: string): TailscaleLeftovers {
        const ns = this.node(name).netns;
        const lines = (args: string[]) =>
            sh("ip", ["-n", ns, ...args])
                .stdout.split("\n")
                .map((l) => l.trim())
                .filter(Boolean);
        const ipRules: string[] = [];
        const table52Routes: string[] = [];
        for (const fam of ["4", "6"]) {
            for (const l of lines([`-${fam}`, "rule", "show"])) if (/\blookup 52\b|fwmark 0x80000\/0xff0000/.test(l)) ipRules.push(`v${fam} ${l}`);
            for (const l of lines([`-${fam}`, "route", "show", "table", "52"])) table52Routes.push(`v${fam} ${l}`);
        }
        const chains: string[] = [];
        for (const tool of ["iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy"]) {
            let table = "";
            for (const l of sh("ip", ["netns", "exec", ns, `${tool}-save`]).stdout.split("\n")) {
                if (l.startsWith("*")) table = l.slice(1).trim();
                const m = /^:(ts-\S+)/.exec(l);
                if (m) chains.push(`${tool} ${table} ${m[1]}`);
            }
        }
        if (this.initPid(name) !== undefined) {
            // nft's own view (tailscaled's nftables mode makes tables iptables cannot read), with the node's nft.
            let table = "";
            for (const l of this.inNode(name, "command -v nft >/dev/null && nft list ruleset").out.split("\n")) {
                const t = /^table (\S+) (\S+)/.exec(l);
                if (t) table = `${t[1]} ${t[2]}`;
                const c = /^\s*chain (ts-\S+)/.exec(l);
                if (c) chains.push(`nft ${table} ${c[1]}`);
            }
        }
        return {
            tailscale0: sh("ip", ["-n", ns, "link", "show", "tailscale0"]).code === 0,
            ipRules,
            table52Routes,
            chains: [...new Set(chains)],
            varLibTailscale: existsSync(this.nodePath(name, "/var/lib/tailscale")),
            tailscaledPids: netnsPids(ns).filter((p) => comm(p) === "tailscaled"),
        };
    }

    /** The release server hands out `file` (a release tarball a test made) over https; its URL and sha256. */
    serveFile(name: string, file: string): { url: string; sha256: string } {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`node lab: ${name} is not a plain file name`);
        this.s.files.set(name, file);
        return {
            url: `https://10.198.${this.s.subnet}.254:${this.s.releasePort}/files/${name}`,
            sha256: createHash("sha256").update(readFileSync(file)).digest("hex"),
        };
    }

    /** From now on, the release server hands out `version` with this behaviour ("ok" by default). */
    setRelease(version: string, behaviour: ReleaseBehaviour): void {
        if (!VERSION_RE.test(version)) throw new Error(`node lab: ${version} is not vX.Y.Z+k3sN`);
        if (!/^(ok|never|once|crash|slow-start=\d+|once-after=\d+)$/.test(behaviour)) throw new Error(`node lab: unknown release behaviour ${behaviour}`);
        this.s.releases.set(version, behaviour);
    }

    /** The installer and releases stop answering (connection refused), or answer again. */
    async setReleasesReachable(reachable: boolean): Promise<void> {
        const server = this.s.releaseServer;
        if (!reachable) {
            if (server?.listening) await new Promise<void>((r) => server.close(() => r()));
            server?.closeAllConnections();
        } else if (!server?.listening) {
            await this.startReleaseServer();
        }
    }

    /** A request to the API server through the supervisor, as the lab's admin. */
    api(path: string, init: { method?: string; body?: string; contentType?: string } = {}): Promise<{ status: number; body: string }> {
        const url = new URL(path, this.serverUrl);
        const pki = join(this.s.clusterDir, "pki");
        return new Promise((resolve, reject) => {
            const req = request(
                {
                    host: url.hostname,
                    port: url.port,
                    path: url.pathname + url.search,
                    method: init.method ?? "GET",
                    ca: readFileSync(join(pki, "ca.crt")),
                    cert: readFileSync(join(pki, "admin.crt")),
                    key: readFileSync(join(pki, "admin.key")),
                    timeout: 3000,
                    headers: init.body === undefined ? {} : { "content-type": init.contentType ?? "application/json" },
                },
                (res) => {
                    let body = "";
                    res.setEncoding("utf8");
                    res.on("data", (d) => (body += d));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
                },
            );
            req.on("timeout", () => req.destroy(new Error("timeout")));
            req.on("error", reject);
            req.end(init.body);
        });
    }

    /** The real kubectl as the lab's admin, through the supervisor like any client (async). */
    kubectl(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
        return new Promise((resolve) => {
            const child = spawn(
                join(TOOLS_BIN, "kubectl"),
                ["--kubeconfig", this.kubeconfigPath, "--cache-dir", join(this.dir, "kube-cache"), "--request-timeout", "10s", ...args],
                {
                    env: { ...cleanEnv(), HOME: this.dir },
                    stdio: ["pipe", "pipe", "pipe"],
                    timeout: 60_000,
                },
            );
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
            child.stdin.end(stdin ?? "");
        });
    }

    node(name: string): LabNode {
        const n = this.nodes.find((x) => x.name === name);
        if (!n) throw new Error(`node lab: no node ${name} (nodes: ${this.nodes.map((x) => x.name).join(", ")})`);
        return n;
    }

    /** The host path of a file on the node's disk, e.g. nodePath("calypso", "/usr/local/bin/k3s"). */
    nodePath(name: string, absPath: string): string {
        this.node(name);
        if (!absPath.startsWith("/")) throw new Error(`node lab: nodePath needs an absolute path (got ${absPath})`);
        const p = posix.normalize(absPath);
        if (p === "/var/lib/oceanid" || p.startsWith("/var/lib/oceanid/")) {
            const own = join(this.nodeDir(name), "oceanid-fs");
            if (this.s.specs.find((x) => x.name === name)?.oceanidDiskMiB !== undefined) return join(own, p.slice("/var/lib/oceanid".length));
        }
        if (/^\/(proc|sys|dev|run|tmp)(\/|$)/.test(p))
            throw new Error(`node lab: ${absPath} is not on the node's disk; read it with inNode(${JSON.stringify(name)}, "cat ${absPath}")`);
        return join(this.rootOf(name), p);
    }

    /** The version of the node's /usr/local/bin/k3s (its release trailer), or undefined without one. */
    installedVersion(name: string): string | undefined {
        return /^#oceanid-k3s-standin version=(\S+)/.exec(lastLine(this.nodePath(name, "/usr/local/bin/k3s")) ?? "")?.[1];
    }

    /** The lines of the node's installer log: "<epoch> <version> <exec>", one per installer run. */
    installs(name: string): string[] {
        return (tryRead(this.nodePath(name, "/var/lib/oceanid-lab/installs.log")) ?? "").split("\n").filter(Boolean);
    }

    /** Host pid of the node's PID 1 (systemd), while the machine runs. */
    initPid(name: string): number | undefined {
        const node = this.node(name);
        return netnsPids(node.netns).find((p) => {
            const ns = nsPids(p);
            return ns !== undefined && ns.length === 2 && ns[1] === 1 && comm(p) === "systemd";
        });
    }

    /** Host pid of the node's k3s (server) / k3s-agent (agent) main process, if it runs. */
    servicePid(name: string): number | undefined {
        const unit = this.node(name).role === "server" ? "k3s" : "k3s-agent";
        const r = this.inNode(name, `systemctl show -p MainPID --value ${unit}`);
        const inner = Number(r.out.trim());
        if (r.code !== 0 || !inner) return undefined;
        const init = this.initPid(name)!;
        const pidNs = readlinkSync(`/proc/${init}/ns/pid`);
        for (const pid of netnsPids(this.node(name).netns)) {
            const ns = nsPids(pid);
            try {
                if (ns && ns.length === 2 && ns[1] === inner && readlinkSync(`/proc/${pid}/ns/pid`) === pidNs) return pid;
            } catch {
                /* gone */
            }
        }
        return undefined;
    }

    /** Boots of the node so far (the launcher's record), each with how nspawn ended it. */
    boots(name: string): Array<{ at: number; exit?: number }> {
        const out: Array<{ at: number; exit?: number }> = [];
        for (const line of (tryRead(join(this.nodeDir(name), "boots")) ?? "").split("\n")) {
            const [what, a] = line.split(" ");
            if (what === "boot") out.push({ at: Number(a) });
            else if (what === "exit" && out.length) out[out.length - 1].exit = Number(a);
        }
        return out;
    }

    /**
     * `systemctl reboot` on the node; resolves once its sshd answers again (the time it took, in ms).
     * With `holdDown`, the machine shuts down cleanly and stays off until powerOn() (a reboot that
     * takes longer than a deadline); it resolves once the machine is down.
     */
    async reboot(name: string, opts: { holdDown?: boolean } = {}): Promise<number> {
        const t0 = Date.now();
        const before = this.boots(name).length;
        if (opts.holdDown) writeFileSync(join(this.nodeDir(name), "poweroff"), "");
        this.inNode(name, "systemctl reboot");
        if (opts.holdDown) {
            for (; this.initPid(name) !== undefined;) {
                if (Date.now() - t0 > 30_000) throw new Error(`node lab: ${name} did not shut down within 30 s`);
                await sleep(50);
            }
            return Date.now() - t0;
        }
        for (; this.boots(name).length === before;) {
            if (Date.now() - t0 > 30_000) throw new Error(`node lab: ${name} did not reboot within 30 s`);
            await sleep(50);
        }
        await this.waitForSsh(name, 60_000);
        return Date.now() - t0;
    }

    /** A power loss: SIGKILL of the machine's PID 1. The node stays off until powerOn(). */
    async powerOff(name: string): Promise<void> {
        const init = this.initPid(name);
        if (init === undefined) throw new Error(`node lab: ${name} is not running`);
        const boot = this.boots(name).length - 1;
        writeFileSync(join(this.nodeDir(name), "poweroff"), "");
        process.kill(init, "SIGKILL");
        // Off once the launcher has seen nspawn end: a powerOn() before that would find no
        // poweroff file when it does, and the launcher would take the end for a crash and quit.
        for (const t0 = Date.now(); this.initPid(name) !== undefined || this.boots(name)[boot]?.exit === undefined;) {
            if (Date.now() - t0 > 10_000) throw new Error(`node lab: ${name}'s PID 1 survived SIGKILL`);
            await sleep(50);
        }
    }

    /** Power back on after powerOff(); resolves once sshd answers (ms). */
    async powerOn(name: string): Promise<number> {
        const t0 = Date.now();
        rmSync(join(this.nodeDir(name), "poweroff"), { force: true });
        await this.waitForSsh(name, 60_000);
        return Date.now() - t0;
    }

    /** Grows or shrinks the node's own /var/lib/oceanid disk (`oceanidDiskMiB`), as it runs. */
    setOceanidDiskMiB(name: string, mib: number): void {
        if (this.s.specs.find((x) => x.name === name)?.oceanidDiskMiB === undefined)
            throw new Error(`node lab: ${name} has no disk of its own (oceanidDiskMiB)`);
        must("mount", ["-o", `remount,size=${mib}m`, join(this.nodeDir(name), "oceanid-fs")]);
    }

    /** The node stops answering: iptables DROP of everything in and out of its veth, in its namespace. */
    cutNetwork(name: string): void {
        const ns = this.node(name).netns;
        for (const [chain, dirFlag] of [
            ["INPUT", "-i"],
            ["OUTPUT", "-o"],
        ]) {
            const rule = [chain, dirFlag, "eth0", "-m", "comment", "--comment", CUT_COMMENT, "-j", "DROP"];
            if (sh("ip", ["netns", "exec", ns, "iptables", "-w", "-C", ...rule]).code !== 0) {
                must("ip", ["netns", "exec", ns, "iptables", "-w", "-I", ...rule.slice(0, 1), "1", ...rule.slice(1)]);
            }
        }
    }

    restoreNetwork(name: string): void {
        const ns = this.node(name).netns;
        for (const [chain, dirFlag] of [
            ["INPUT", "-i"],
            ["OUTPUT", "-o"],
        ]) {
            const rule = [chain, dirFlag, "eth0", "-m", "comment", "--comment", CUT_COMMENT, "-j", "DROP"];
            while (sh("ip", ["netns", "exec", ns, "iptables", "-w", "-C", ...rule]).code === 0)
                must("ip", ["netns", "exec", ns, "iptables", "-w", "-D", ...rule]);
        }
    }

    private nsenterArgs(name: string, cmd: string): string[] {
        const init = this.initPid(name);
        if (init === undefined) throw new Error(`node lab: node ${name} is not running`);
        // Like an SSH session: root, sshd's default PATH, home /root, nothing from the test's environment.
        return [
            "-t",
            String(init),
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "--",
            "env",
            "-i",
            `PATH=${LAB_PATH}`,
            "HOME=/root",
            "USER=root",
            "LOGNAME=root",
            "SHELL=/bin/bash",
            "bash",
            "-c",
            `cd /root || exit 1\nexec 2>&1\n${cmd}`,
        ];
    }

    /**
     * Runs cmd (bash) as root inside the machine (its mount, UTS, IPC, network and pid namespaces); stdout and stderr together.
     * Synchronous: it blocks this process, and with it the release server; anything that downloads from the lab needs inNodeAsync.
     */
    inNode(name: string, cmd: string): { code: number; out: string } {
        const r = sh("nsenter", this.nsenterArgs(name, cmd), { timeoutMs: 120_000 });
        return { code: r.code, out: r.stdout + r.stderr };
    }

    async inNodeAsync(name: string, cmd: string): Promise<{ code: number; out: string }> {
        const r = await run("nsenter", this.nsenterArgs(name, cmd), { timeoutMs: 120_000 });
        return { code: r.code, out: r.stdout + r.stderr };
    }

    /** `ps -eo args` of the whole machine, one line per process (for secret checks). */
    processArgs(): string[] {
        return sh("ps", ["-eo", "args"]).stdout.split("\n").slice(1).filter(Boolean);
    }

    /** The lab's own logs, each node's journal (while it runs), its installer log, and the control plane's logs, concatenated. */
    logs(): string {
        const parts: string[] = [];
        const add = (title: string, text: string | undefined) => text !== undefined && parts.push(`==> ${title} <==\n${text}`);
        const files = (d: string) =>
            existsSync(d)
                ? readdirSync(d)
                      .sort()
                      .filter((f) => f.endsWith(".log"))
                : [];
        for (const f of files(join(this.dir, "logs"))) add(join(this.dir, "logs", f), tryRead(join(this.dir, "logs", f)));
        for (const f of files(join(this.s.clusterDir, "logs"))) add(join(this.s.clusterDir, "logs", f), tryRead(join(this.s.clusterDir, "logs", f)));
        for (const n of this.nodes) {
            if (this.initPid(n.name) !== undefined)
                add(
                    `${n.name}: journalctl`,
                    sh("nsenter", this.nsenterArgs(n.name, "journalctl --no-pager -o short-iso -n 400"), { timeoutMs: 20_000 }).stdout,
                );
            add(`${n.name}: installs.log`, tryRead(this.nodePath(n.name, "/var/lib/oceanid-lab/installs.log")));
        }
        return parts.join("\n");
    }

    /** Stops every machine and process of the lab, deletes its namespaces, veth, cgroups, mounts and dir. */
    async stop(): Promise<void> {
        if (this.stopped) return;
        this.stopped = true;
        const s = this.s;
        if (s.reaperPid) {
            try {
                process.kill(-s.reaperPid, "SIGKILL"); // its process group: timeout and the script (detached: its own session)
            } catch {
                /* gone */
            }
        }
        const server = s.releaseServer;
        if (server?.listening) {
            server.closeAllConnections();
            await new Promise<void>((r) => server.close(() => r()));
        }
        sh("bash", [join(LAB_SRC, "reaper.sh"), "--now", "0", this.dir, s.rootVeth, s.labNs, ...this.nodes.map((n) => n.netns)], { timeoutMs: 60_000 });
        await Promise.all(
            s.children.map((c) =>
                c.exitCode !== null || c.signalCode !== null ? undefined : Promise.race([new Promise((r) => c.once("exit", r)), sleep(2000)]),
            ),
        );
    }
}

export { NSPAWN_REBOOT };
