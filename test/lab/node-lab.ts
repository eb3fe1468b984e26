// The node lab: real sshd test hosts in network namespaces, with stand-ins for the
// k3s parts that cannot run here (test/lab/README.md). Needs root, ip netns,
// iptables, overlayfs, openssh-server, openssl and curl. Traffic stays inside the
// namespaces the lab creates (a bridge in a "lab" namespace, one namespace per node,
// one veth from the root namespace) and loopback.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
    appendFileSync,
    chmodSync,
    closeSync,
    copyFileSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    openSync,
    readdirSync,
    readFileSync,
    readlinkSync,
    rmSync,
    writeFileSync,
} from "node:fs";
import { request } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { cleanEnv, failure, isolatedInit, LAB_PATH, netnsPids, pidAlive, run, sh, sleep, tryRead } from "./processes";

export interface LabNodeSpec {
    name: string;
    role: "server" | "agent";
    /** installed and running at start; omit for a node with no k3s */
    version?: string;
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
    /** seconds between a stand-in kubelet's heartbeats (default 1) */
    heartbeatSeconds?: number;
    /** seconds after which the API stand-in serves a node whose Lease is older as Ready=Unknown (default 5) */
    graceSeconds?: number;
    /** every process the lab starts ends by itself after this many seconds (default 900) */
    lifetimeSeconds?: number;
}

const LAB_SRC = __dirname;
const STANDINS = join(LAB_SRC, "standins");
const PROJECT_ROOT = join(LAB_SRC, "..", "..");
/** The directories a node gets its own copy of, bound from <dir>/nodes/<name>/<path>. */
const NODE_DIRS = ["/usr/local/bin", "/etc/rancher", "/etc/systemd/system", "/var/lib/rancher", "/var/lib/oceanid", "/var/lib/standin", "/root", "/tmp"];
/** sshd's default PATH (and the one inNode uses). */
const VERSION_RE = /^v\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+$/;
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOKEN_FILE = "/etc/rancher/k3s/token";
const CUT_COMMENT = "node-lab-cut";

interface Internal {
    tag: string;
    subnet: number;
    heartbeat: number;
    grace: number;
    lifetime: number;
    labNs: string;
    rootVeth: string;
    adminToken: string;
    caPem: Buffer;
    specs: LabNodeSpec[];
    pid1: Map<string, number>;
    children: ChildProcess[];
    reaperPid?: number;
}

// --- small process helpers (the shared ones: ./processes.ts) ---------------------------------
function must(cmd: string, args: string[], opts: { input?: string } = {}): string {
    const r = sh(cmd, args, opts);
    if (r.code !== 0) throw failure("node lab", cmd, args, r);
    return r.stdout;
}

async function runMust(cmd: string, args: string[]): Promise<string> {
    const r = await run(cmd, args);
    if (r.code !== 0) throw failure("node lab", cmd, args, r);
    return r.stdout;
}

/** NSpid of a process: its pid in each pid namespace, outermost first. */
function nsPids(pid: number): number[] | undefined {
    try {
        const line = readFileSync(`/proc/${pid}/status`, "utf8")
            .split("\n")
            .find((l) => l.startsWith("NSpid:"));
        return line?.split(/\s+/).slice(1).filter(Boolean).map(Number);
    } catch {
        return undefined;
    }
}

function procState(pid: number): string | undefined {
    try {
        return /\)\s+(\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
    } catch {
        return undefined;
    }
}

function replaceLine(text: string, prefix: string, line: string): string {
    const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*$`, "m");
    if (!re.test(text)) throw new Error(`node lab: no line starting with ${prefix} to fill in`);
    return text.replace(re, line);
}

function tcpOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
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

function openSshVersion(): [number, number] {
    const r = sh("/usr/sbin/sshd", ["-V"]);
    const m = /OpenSSH_(\d+)\.(\d+)/.exec(r.stdout + r.stderr);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** Removes what labs of processes that no longer exist left behind (their reaper normally does). */
function removeStaleLabs() {
    const nsList = sh("ip", ["netns", "list"]).stdout;
    for (const line of nsList.split("\n")) {
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
}

export class NodeLab {
    readonly dir: string;
    readonly nodes: LabNode[];
    /** OpenSSH private key text for root (authorized on every node) */
    readonly clientPrivateKey: string;
    /** "K10" + sha256hex(cacerts bytes) + "::server:" + random hex */
    readonly k3sToken: string;
    /** kubeconfig text: server https://<server ip>:6443, certificate-authority-data, user token */
    readonly kubeconfig: string;
    readonly kubeconfigPath: string;
    /** https://<server ip>:6443 */
    readonly serverUrl: string;
    /** file:///.../install-k3s.sh: the k3s installer stand-in, for curl on the nodes */
    readonly installScriptUrl: string;
    private readonly s: Internal;
    private stopped = false;

    private constructor(fields: {
        dir: string;
        nodes: LabNode[];
        clientPrivateKey: string;
        k3sToken: string;
        kubeconfig: string;
        kubeconfigPath: string;
        serverUrl: string;
        installScriptUrl: string;
        internal: Internal;
    }) {
        this.dir = fields.dir;
        this.nodes = fields.nodes;
        this.clientPrivateKey = fields.clientPrivateKey;
        this.k3sToken = fields.k3sToken;
        this.kubeconfig = fields.kubeconfig;
        this.kubeconfigPath = fields.kubeconfigPath;
        this.serverUrl = fields.serverUrl;
        this.installScriptUrl = fields.installScriptUrl;
        this.s = fields.internal;
    }

    /** Why the lab cannot run here at all (not root, no `ip netns`), or undefined when it can. */
    static unavailableReason(): string | undefined {
        if (process.platform !== "linux") return "the node lab needs Linux network namespaces";
        if (process.getuid?.() !== 0) return "the node lab needs root (network namespaces, mounts, iptables)";
        if (sh("ip", ["netns", "list"]).code !== 0) return "`ip netns` is unavailable (install iproute2)";
        return undefined;
    }

    /** Tools the lab needs besides root and ip netns; start() fails naming the first one missing. */
    private static missingTool(): string | undefined {
        for (const [tool, pkg] of [
            ["/usr/sbin/sshd", "openssh-server"],
            ["ssh-keygen", "openssh-client"],
            ["iptables", "iptables"],
            ["openssl", "openssl"],
            ["curl", "curl"],
            ["nsenter", "util-linux"],
            ["unshare", "util-linux"],
            ["flock", "util-linux"],
            ["setsid", "util-linux"],
            ["timeout", "coreutils"],
        ]) {
            const found = tool.startsWith("/") ? existsSync(tool) : LAB_PATH.split(":").some((d) => existsSync(join(d, tool)));
            if (!found) return `${tool} is missing (Debian: apt-get install ${pkg})`;
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
        const problems: string[] = [];
        if (!Number.isInteger(subnet) || subnet < 0 || subnet > 255) problems.push(`subnet must be an integer 0-255 (got ${subnet})`);
        if (!(heartbeat > 0)) problems.push("heartbeatSeconds must be > 0");
        if (!(grace > 0)) problems.push("graceSeconds must be > 0");
        if (!Number.isInteger(lifetime) || lifetime < 10) problems.push("lifetimeSeconds must be an integer >= 10");
        if (specs.length === 0 || specs.length > 253) problems.push("nodes: between 1 and 253 nodes");
        if (specs.filter((n) => n.role === "server").length !== 1) problems.push("nodes: exactly one server");
        const seen = new Set<string>();
        for (const n of specs) {
            if (!NAME_RE.test(n.name)) problems.push(`node name ${JSON.stringify(n.name)} is not a DNS label`);
            if (seen.has(n.name)) problems.push(`node name ${n.name} is used twice`);
            seen.add(n.name);
            if (n.role !== "server" && n.role !== "agent") problems.push(`node ${n.name}: role must be server or agent`);
            if (n.version !== undefined && !VERSION_RE.test(n.version)) problems.push(`node ${n.name}: version ${n.version} is not vX.Y.Z+k3sN`);
        }
        const server = specs.find((n) => n.role === "server");
        if (server && !server.version && specs.some((n) => n.version)) problems.push("an agent cannot have k3s when the server has none");
        if (problems.length) throw new Error(`node lab: ${problems.join("; ")}`);
        const unavailable = NodeLab.unavailableReason() ?? NodeLab.missingTool();
        if (unavailable) throw new Error(`node lab: ${unavailable}`);

        removeStaleLabs();
        const prefix = `10.198.${subnet}`;
        if (
            sh("ip", ["-4", "-o", "addr", "show", "to", `${prefix}.0/24`]).stdout.trim() ||
            sh("ip", ["-4", "route", "show", "root", `${prefix}.0/24`]).stdout.trim()
        ) {
            throw new Error(`node lab: ${prefix}.0/24 is already in use in the root namespace (another lab?): pick another subnet`);
        }

        const tag = `${process.pid}s${subnet}`;
        const labNs = `oclab${tag}`;
        const rootVeth = `ol${tag}`;
        const nodeNs = (name: string) => `oclab${tag}-${name}`;
        const base = /^\/(etc|var)(\/|$)/.test(tmpdir()) ? "/tmp" : tmpdir();
        const dir = mkdtempSync(join(base, `oceanid-lab-${process.pid}-`));
        const internal: Internal = {
            tag,
            subnet,
            heartbeat,
            grace,
            lifetime,
            labNs,
            rootVeth,
            adminToken: randomBytes(24).toString("hex"),
            caPem: Buffer.alloc(0),
            specs,
            pid1: new Map(),
            children: [],
        };
        const address = (i: number) => `${prefix}.${i + 1}`;
        const serverIndex = specs.findIndex((n) => n.role === "server");
        const serverIp = address(serverIndex);
        const serverUrl = `https://${serverIp}:6443`;
        // A partially built lab that stop() can take down if anything below fails.
        const partial = new NodeLab({
            dir,
            nodes: specs.map((n, i) => ({ name: n.name, role: n.role, address: address(i), hostKey: "", netns: nodeNs(n.name) })),
            clientPrivateKey: "",
            k3sToken: "",
            kubeconfig: "",
            kubeconfigPath: join(dir, "kubeconfig.yaml"),
            serverUrl,
            installScriptUrl: `file://${join(dir, "share", "install-k3s.sh")}`,
            internal,
        });
        try {
            return await partial.build(t0);
        } catch (e) {
            const logs = partial.logs();
            await partial.stop();
            const tail = logs.split("\n").slice(-60).join("\n");
            throw new Error(`${(e as Error).message}\n--- lab logs (tail) ---\n${tail}`);
        }
    }

    private async build(t0: number): Promise<NodeLab> {
        const { dir } = this;
        const s = this.s;
        const logs = join(dir, "logs");
        for (const d of ["logs", "ssh", "tls", "share", "sbin"]) mkdirSync(join(dir, d), { recursive: true });
        for (const n of this.nodes) {
            for (const p of [...NODE_DIRS, "/ssh"]) mkdirSync(join(dir, "nodes", n.name, p), { recursive: true });
            chmodSync(join(dir, "nodes", n.name, "tmp"), 0o1777);
            chmodSync(join(dir, "nodes", n.name, "root"), 0o700);
        }

        // The safety net first: whatever happens from here on, the namespaces, veth and dir go away.
        const reaperLog = openSync(join(logs, "reaper.log"), "a");
        const reaperArgs = [join(LAB_SRC, "reaper.sh"), String(process.pid), String(s.lifetime), dir, s.rootVeth, s.labNs, ...this.nodes.map((n) => n.netns)];
        const reaper = spawn("timeout", ["-s", "KILL", String(s.lifetime + 60), "bash", ...reaperArgs], {
            detached: true,
            stdio: ["ignore", reaperLog, reaperLog],
            env: cleanEnv(),
        });
        closeSync(reaperLog);
        reaper.unref();
        s.reaperPid = reaper.pid;
        s.children.push(reaper);

        // Keys: one client key for root, one host key per node.
        const keygen = (file: string, comment: string) => runMust("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
        await Promise.all([
            keygen(join(dir, "ssh", "id_ed25519"), "node-lab-root"),
            ...this.nodes.map((n) => keygen(join(dir, "nodes", n.name, "ssh", "ssh_host_ed25519_key"), "")),
        ]);
        const clientPrivateKey = readFileSync(join(dir, "ssh", "id_ed25519"), "utf8");
        writeFileSync(join(dir, "ssh", "authorized_keys"), readFileSync(join(dir, "ssh", "id_ed25519.pub"), "utf8"), { mode: 0o600 });
        const nodes = this.nodes.map((n) => {
            const [type, key] = readFileSync(join(dir, "nodes", n.name, "ssh", "ssh_host_ed25519_key.pub"), "utf8")
                .trim()
                .split(/\s+/);
            return { ...n, hostKey: `${type} ${key}` };
        });

        // TLS: a lab CA (what /cacerts serves and the token's hash covers) and the serving cert.
        const server = nodes.find((n) => n.role === "server")!;
        const tls = join(dir, "tls");
        writeFileSync(
            join(tls, "openssl.cnf"),
            [
                "[req]",
                "distinguished_name = dn",
                "prompt = no",
                "[dn]",
                "CN = k3s-server-ca",
                "[ca]",
                "basicConstraints = critical, CA:TRUE",
                "keyUsage = critical, keyCertSign, cRLSign, digitalSignature",
                "subjectKeyIdentifier = hash",
                "[serving]",
                "basicConstraints = critical, CA:FALSE",
                "keyUsage = critical, digitalSignature, keyEncipherment",
                "extendedKeyUsage = serverAuth",
                `subjectAltName = IP:${server.address}, IP:127.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:localhost`,
                "authorityKeyIdentifier = keyid",
                "",
            ].join("\n"),
        );
        const cnf = join(tls, "openssl.cnf");
        const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        await runMust("openssl", [
            "req",
            "-x509",
            ...ecKey,
            "-config",
            cnf,
            "-extensions",
            "ca",
            "-days",
            "7",
            "-subj",
            `/CN=k3s-server-ca@${Math.floor(Date.now() / 1000)}`,
            "-keyout",
            join(tls, "ca.key"),
            "-out",
            join(tls, "ca.crt"),
        ]);
        await runMust("openssl", [
            "req",
            ...ecKey,
            "-config",
            cnf,
            "-subj",
            "/O=k3s/CN=k3s",
            "-keyout",
            join(tls, "serving.key"),
            "-out",
            join(tls, "serving.csr"),
        ]);
        await runMust("openssl", [
            "x509",
            "-req",
            "-in",
            join(tls, "serving.csr"),
            "-CA",
            join(tls, "ca.crt"),
            "-CAkey",
            join(tls, "ca.key"),
            "-CAcreateserial",
            "-days",
            "7",
            "-extfile",
            cnf,
            "-extensions",
            "serving",
            "-out",
            join(tls, "serving.crt"),
        ]);
        chmodSync(join(tls, "ca.key"), 0o600);
        chmodSync(join(tls, "serving.key"), 0o600);
        s.caPem = readFileSync(join(tls, "ca.crt"));
        const k3sToken = `K10${createHash("sha256").update(s.caPem).digest("hex")}::server:${randomBytes(16).toString("hex")}`;
        writeFileSync(join(tls, "admin-token"), s.adminToken + "\n", { mode: 0o600 });
        writeFileSync(join(tls, "k3s-token"), k3sToken + "\n", { mode: 0o600 });
        const kubeconfigFor = (url: string) =>
            [
                "apiVersion: v1",
                "kind: Config",
                "clusters:",
                "- name: default",
                "  cluster:",
                `    server: ${url}`,
                `    certificate-authority-data: ${s.caPem.toString("base64")}`,
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
                `    token: ${s.adminToken}`,
                "",
            ].join("\n");
        const kubeconfig = kubeconfigFor(this.serverUrl);
        writeFileSync(this.kubeconfigPath, kubeconfig, { mode: 0o600 });

        // Stand-ins, with the lab's values filled in.
        for (const f of readdirSync(join(STANDINS, "bin"))) {
            const text = readFileSync(join(STANDINS, "bin", f), "utf8");
            const filled = /^STANDIN_LIFETIME=/m.test(text) ? replaceLine(text, "STANDIN_LIFETIME=", `STANDIN_LIFETIME=${s.lifetime} # lab: lifetime`) : text;
            writeFileSync(join(dir, "sbin", f), filled, { mode: 0o755 });
        }
        const broken = join(dir, "share", "broken-releases");
        writeFileSync(broken, "");
        let k3s = readFileSync(join(STANDINS, "k3s.sh"), "utf8");
        k3s = replaceLine(k3s, "STANDIN_BROKEN_RELEASES=", `STANDIN_BROKEN_RELEASES=${broken} # lab: broken releases file`);
        k3s = replaceLine(k3s, "STANDIN_HEARTBEAT=", `STANDIN_HEARTBEAT=${s.heartbeat} # lab: heartbeat seconds`);
        writeFileSync(join(dir, "share", "k3s.sh"), k3s, { mode: 0o644 });
        const installer = replaceLine(
            readFileSync(join(STANDINS, "install-k3s.sh"), "utf8"),
            "STANDIN_K3S_TEMPLATE=",
            `STANDIN_K3S_TEMPLATE=${join(dir, "share", "k3s.sh")} # lab: k3s stand-in template`,
        );
        writeFileSync(join(dir, "share", "install-k3s.sh"), installer, { mode: 0o644 });
        copyFileSync(join(STANDINS, "node-init.sh"), join(dir, "share", "node-init.sh"));

        // Network: a bridge in the lab namespace, a veth per node, one from the root namespace.
        // IPv6 is off in the lab's namespaces: the lab speaks IPv4 only, and cutNetwork drops IPv4.
        const prefix = `10.198.${s.subnet}`;
        const batch = (args: string[], lines: string[]) => must("ip", [...args, "-batch", "-"], { input: lines.join("\n") + "\n" });
        batch([], [`netns add ${s.labNs}`, ...nodes.map((n) => `netns add ${n.netns}`)]);
        for (const ns of [s.labNs, ...nodes.map((n) => n.netns)]) {
            sh("ip", [
                "netns",
                "exec",
                ns,
                "sh",
                "-c",
                "for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do [ -w $f ] && echo 1 > $f; done; true",
            ]);
        }
        batch(
            [],
            [
                ...nodes.map((n, i) => `link add eth0 netns ${n.netns} type veth peer name n${i + 1} netns ${s.labNs}`),
                `link add ${s.rootVeth} type veth peer name up0 netns ${s.labNs}`,
            ],
        );
        sh("ip", ["link", "set", s.rootVeth, "addrgenmode", "none"]);
        batch([], [`addr add ${prefix}.254/24 dev ${s.rootVeth}`, `link set ${s.rootVeth} up`]);
        // Another process may have taken the subnet since the check in start(): two routes would mix the labs up.
        const holders = must("ip", ["-4", "-o", "addr", "show", "to", `${prefix}.0/24`])
            .trim()
            .split("\n");
        if (holders.length !== 1) throw new Error(`node lab: ${prefix}.0/24 was taken by another lab while this one started: pick another subnet`);
        batch(
            ["-n", s.labNs],
            [
                "link add br0 type bridge",
                "link set lo up",
                "link set br0 up",
                ...nodes.map((_, i) => `link set n${i + 1} master br0 up`),
                "link set up0 master br0 up",
            ],
        );
        for (const n of nodes) batch(["-n", n.netns], [`addr add ${n.address}/24 dev eth0`, "link set lo up", "link set eth0 up"]);

        // The API stand-in, in the server node's network namespace.
        const apiConfig = join(dir, "tls", "api.json");
        writeFileSync(
            apiConfig,
            JSON.stringify({
                listen: [server.address, "127.0.0.1"],
                port: 6443,
                caFile: join(tls, "ca.crt"),
                certFile: join(tls, "serving.crt"),
                keyFile: join(tls, "serving.key"),
                adminTokenFile: join(tls, "admin-token"),
                k3sTokenFile: join(tls, "k3s-token"),
                graceSeconds: s.grace,
                lifetimeSeconds: s.lifetime,
                serverNode: server.name,
            }),
            { mode: 0o600 },
        );
        const apiLog = openSync(join(logs, "api.log"), "a");
        const api = spawn(
            "ip",
            [
                "netns",
                "exec",
                server.netns,
                "timeout",
                "-s",
                "KILL",
                String(s.lifetime),
                process.execPath,
                "--import",
                "tsx",
                join(STANDINS, "k3s-api-standin.ts"),
                apiConfig,
            ],
            { cwd: PROJECT_ROOT, detached: true, stdio: ["ignore", apiLog, apiLog], env: cleanEnv() },
        );
        closeSync(apiLog);
        api.unref();
        s.children.push(api);

        // One sshd per node, as PID 1's child in the node's own namespaces.
        const [major, minor] = openSshVersion();
        const inits = new Map<string, ChildProcess>();
        for (const n of nodes) {
            const nodeDir = join(dir, "nodes", n.name);
            const cfg = join(nodeDir, "ssh", "sshd_config");
            writeFileSync(
                cfg,
                [
                    `# node-lab sshd for ${n.name}`,
                    `ListenAddress ${n.address}`,
                    "Port 22",
                    `HostKey ${join(nodeDir, "ssh", "ssh_host_ed25519_key")}`,
                    // root's key from the lab; other logins (added by a test) from their own home.
                    `AuthorizedKeysFile ${join(dir, "ssh", "authorized_keys")} .ssh/authorized_keys`,
                    "PidFile none",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "LogLevel VERBOSE",
                    "UseDNS no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "MaxStartups 64:30:128",
                    "MaxSessions 64",
                    "Subsystem sftp internal-sftp",
                    // Newer sshd blocks a source address after failed attempts; tests make those on purpose.
                    ...(major > 9 || (major === 9 && minor >= 8) ? ["PerSourcePenalties no"] : []),
                    "",
                ].join("\n"),
            );
            const nodeLog = openSync(join(logs, `node-${n.name}.log`), "a");
            const child = spawn(
                "ip",
                [
                    "netns",
                    "exec",
                    n.netns,
                    ...isolatedInit(s.lifetime),
                    "bash",
                    join(dir, "share", "node-init.sh"),
                    n.name,
                    nodeDir,
                    dir,
                    join(dir, "sbin"),
                    cfg,
                    join(logs, `sshd-${n.name}.log`),
                ],
                { detached: true, stdio: ["ignore", nodeLog, nodeLog], env: cleanEnv() },
            );
            closeSync(nodeLog);
            child.unref();
            s.children.push(child);
            inits.set(n.name, child);
        }
        await Promise.all(
            nodes.map(async (n) => {
                const deadline = Date.now() + 15_000;
                for (;;) {
                    if (!s.pid1.has(n.name)) {
                        const pid = netnsPids(n.netns).find((p) => {
                            const ns = nsPids(p);
                            return ns !== undefined && ns.length === 2 && ns[1] === 1;
                        });
                        if (pid) s.pid1.set(n.name, pid);
                    }
                    if (s.pid1.has(n.name) && (await tcpOpen(n.address, 22))) return;
                    if (inits.get(n.name)!.exitCode !== null) throw new Error(`node lab: node ${n.name} ended during start (see logs/node-${n.name}.log)`);
                    if (Date.now() > deadline) throw new Error(`node lab: sshd of ${n.name} did not come up at ${n.address}:22`);
                    await sleep(50);
                }
            }),
        );

        // Secrets on the nodes that run k3s, like a cluster before a change.
        for (const spec of s.specs) {
            if (!spec.version) continue;
            const tokenPath = this.nodePath(spec.name, TOKEN_FILE);
            mkdirSync(join(tokenPath, ".."), { recursive: true, mode: 0o700 });
            writeFileSync(tokenPath, k3sToken + "\n", { mode: 0o600 });
            if (spec.role === "server") {
                const serverDir = this.nodePath(spec.name, "/var/lib/rancher/k3s/server");
                mkdirSync(serverDir, { recursive: true, mode: 0o700 });
                writeFileSync(join(serverDir, "token"), k3sToken + "\n", { mode: 0o600 });
                writeFileSync(this.nodePath(spec.name, "/etc/rancher/k3s/k3s.yaml"), kubeconfigFor("https://127.0.0.1:6443"), { mode: 0o600 });
            }
        }

        Object.assign(this, { nodes, clientPrivateKey, k3sToken, kubeconfig });
        for (let deadline = Date.now() + 20_000; ;) {
            const r = await this.api("/ping", false).catch(() => undefined);
            if (r?.status === 200 && r.body === "pong") break;
            if (api.exitCode !== null || Date.now() > deadline) throw new Error("node lab: the API stand-in did not come up");
            await sleep(100);
        }

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

        const waiting = s.specs.filter((n) => n.version).map((n) => n.name);
        for (let deadline = Date.now() + 30_000; waiting.length;) {
            const [nodesR, leasesR] = await Promise.all([
                this.api("/api/v1/nodes"),
                this.api("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"),
            ]).catch(() => [undefined, undefined]);
            if (nodesR?.status === 200 && leasesR?.status === 200) {
                const ready = new Set(
                    (JSON.parse(nodesR.body).items as any[])
                        .filter((n) => n.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"))
                        .map((n) => n.metadata.name as string),
                );
                const fresh = new Set(
                    (JSON.parse(leasesR.body).items as any[])
                        .filter((l) => Date.parse(l.spec?.renewTime ?? "") >= installStart - 1000)
                        .map((l) => l.metadata.name as string),
                );
                for (let i = waiting.length - 1; i >= 0; i--) if (ready.has(waiting[i]) && fresh.has(waiting[i])) waiting.splice(i, 1);
            }
            if (!waiting.length) break;
            if (Date.now() > deadline) throw new Error(`node lab: no fresh Lease from ${waiting.join(", ")} 30 s after installing k3s`);
            await sleep(100);
        }
        appendFileSync(
            join(logs, "lab.log"),
            `${new Date().toISOString()} lab started in ${Date.now() - t0} ms: ${nodes.map((n) => `${n.name}=${n.address}`).join(" ")}\n`,
        );
        return this;
    }

    /** A request to the API stand-in from the test process (admin token unless auth is false). */
    private api(path: string, auth = true): Promise<{ status: number; body: string }> {
        const url = new URL(path, this.serverUrl);
        return new Promise((resolve, reject) => {
            const req = request(
                {
                    host: url.hostname,
                    port: url.port,
                    path: url.pathname + url.search,
                    ca: this.s.caPem,
                    timeout: 2000,
                    headers: auth ? { Authorization: `Bearer ${this.s.adminToken}` } : {},
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
            req.end();
        });
    }

    node(name: string): LabNode {
        const n = this.nodes.find((x) => x.name === name);
        if (!n) throw new Error(`node lab: no node ${name} (nodes: ${this.nodes.map((x) => x.name).join(", ")})`);
        return n;
    }

    /** The host path of a file as the node sees it, e.g. nodePath("calypso", "/usr/local/bin/k3s"). */
    nodePath(name: string, absPath: string): string {
        this.node(name);
        if (!absPath.startsWith("/")) throw new Error(`node lab: nodePath needs an absolute path (got ${absPath})`);
        const p = posix.normalize(absPath);
        if (p === "/usr/local/sbin" || p.startsWith("/usr/local/sbin/")) return join(this.dir, "sbin", p.slice("/usr/local/sbin".length));
        const root = NODE_DIRS.find((d) => p === d || p.startsWith(`${d}/`));
        if (!root) {
            throw new Error(
                `node lab: ${absPath} is not in a per-node directory (${NODE_DIRS.join(", ")}); read it with inNode(${JSON.stringify(name)}, "cat ${absPath}")`,
            );
        }
        return join(this.dir, "nodes", name, p);
    }

    /** The version baked into the node's /usr/local/bin/k3s, or undefined without one. */
    installedVersion(name: string): string | undefined {
        const text = tryRead(this.nodePath(name, "/usr/local/bin/k3s"));
        return text ? /^K3S_STANDIN_VERSION="([^"]*)"/m.exec(text)?.[1] : undefined;
    }

    /** The lines of the node's /var/lib/standin/installs.log: "<epoch> <version> <exec>", one per installer run. */
    installs(name: string): string[] {
        return (tryRead(this.nodePath(name, "/var/lib/standin/installs.log")) ?? "").split("\n").filter(Boolean);
    }

    /** Host pid of the node's k3s (server) / k3s-agent (agent) service process, if it runs. */
    servicePid(name: string): number | undefined {
        const node = this.node(name);
        const unit = node.role === "server" ? "k3s" : "k3s-agent";
        const inner = Number(tryRead(this.nodePath(name, `/var/lib/standin/systemd/${unit}.service.pid`))?.trim());
        const pid1 = this.s.pid1.get(name);
        if (!inner || !pid1) return undefined;
        let pidNs: string;
        try {
            pidNs = readlinkSync(`/proc/${pid1}/ns/pid`);
        } catch {
            return undefined;
        }
        for (const pid of netnsPids(node.netns)) {
            const ns = nsPids(pid);
            if (ns && ns.length === 2 && ns[1] === inner && procState(pid) !== "Z") {
                try {
                    if (readlinkSync(`/proc/${pid}/ns/pid`) === pidNs) return pid;
                } catch {
                    /* gone */
                }
            }
        }
        return undefined;
    }

    /** From now on, k3s of this version starts and never heartbeats (checked when the k3s process starts). */
    markBrokenRelease(version: string): void {
        if (!VERSION_RE.test(version)) throw new Error(`node lab: ${version} is not vX.Y.Z+k3sN`);
        const file = join(this.dir, "share", "broken-releases");
        if (!(tryRead(file) ?? "").split("\n").includes(version)) appendFileSync(file, version + "\n");
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
            while (sh("ip", ["netns", "exec", ns, "iptables", "-w", "-C", ...rule]).code === 0) {
                must("ip", ["netns", "exec", ns, "iptables", "-w", "-D", ...rule]);
            }
        }
    }

    private nsenterArgs(name: string, cmd: string): string[] {
        const pid1 = this.s.pid1.get(this.node(name).name);
        if (!pid1) throw new Error(`node lab: node ${name} is not running`);
        // Like an SSH session: root, sshd's default PATH, home /root, nothing from the test's environment.
        return [
            "-t",
            String(pid1),
            "-n",
            "-m",
            "-u",
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
     * Holds a pending transient timer (from the systemd-run stand-in) with SIGSTOP on its process
     * group, so it cannot fire while a test checks what "pending" means; releaseTimer resumes it.
     * Its deadline keeps running: released after it, the timer fires at once.
     */
    holdTimer(name: string, unit: string): void {
        this.signalTimer(name, unit, "STOP");
    }

    releaseTimer(name: string, unit: string): void {
        this.signalTimer(name, unit, "CONT");
    }

    private signalTimer(name: string, unit: string, signal: "STOP" | "CONT"): void {
        if (!/^[A-Za-z0-9:_.@-]+$/.test(unit)) throw new Error(`node lab: ${unit} is not a unit name`);
        const t = `/var/lib/standin/systemd/${unit}.timer`;
        // A fired timer has nothing left to hold; only a pending one (loaded, not fired) is signalled.
        const r = this.inNode(name, `[ -f ${t}.pgid ] && [ ! -f ${t}.fired ] && kill -${signal} -- "-$(cat ${t}.pgid)"`);
        if (r.code !== 0) throw new Error(`node lab: ${unit}.timer on ${name} is not pending (kill -${signal}: ${r.out.trim() || `exit ${r.code}`})`);
    }

    /** Runs cmd (bash) as root in the node's network, mount, UTS and pid namespaces; stdout and stderr together. */
    inNode(name: string, cmd: string): { code: number; out: string } {
        const r = sh("nsenter", this.nsenterArgs(name, cmd), { timeoutMs: 120_000 });
        return { code: r.code, out: r.stdout + r.stderr };
    }

    private async inNodeAsync(name: string, cmd: string): Promise<{ code: number; out: string }> {
        const r = await run("nsenter", this.nsenterArgs(name, cmd), { timeoutMs: 120_000 });
        return { code: r.code, out: r.stdout + r.stderr };
    }

    /** `ps -eo args` of the whole machine, one line per process (for secret checks). */
    processArgs(): string[] {
        return sh("ps", ["-eo", "args"]).stdout.split("\n").slice(1).filter(Boolean);
    }

    /** Every log the lab and its stand-ins write (sshd, node init, API, services, timers, installs), concatenated. */
    logs(): string {
        const files: string[] = [];
        const add = (d: string, filter: (f: string) => boolean) => {
            if (!existsSync(d)) return;
            for (const f of readdirSync(d).sort()) if (filter(f)) files.push(join(d, f));
        };
        add(join(this.dir, "logs"), (f) => f.endsWith(".log"));
        for (const n of this.nodes) {
            add(join(this.dir, "nodes", n.name, "var", "lib", "standin"), (f) => f === "installs.log");
            add(join(this.dir, "nodes", n.name, "var", "lib", "standin", "logs"), (f) => f.endsWith(".log"));
        }
        return files.map((f) => `==> ${f} <==\n${tryRead(f) ?? ""}`).join("\n");
    }

    /** Kills every process of the lab, deletes its namespaces, the root-side veth and the lab dir. */
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
        const namespaces = [...this.nodes.map((n) => n.netns), s.labNs];
        for (let attempt = 0; attempt < 50; attempt++) {
            const pids = namespaces.flatMap(netnsPids);
            if (pids.length === 0) break;
            for (const pid of pids) {
                try {
                    process.kill(pid, "SIGKILL");
                } catch {
                    /* gone */
                }
            }
            await sleep(100);
        }
        await Promise.all(
            s.children.map((c) =>
                c.exitCode !== null || c.signalCode !== null ? undefined : Promise.race([new Promise((r) => c.once("exit", r)), sleep(2000)]),
            ),
        );
        const existing = sh("ip", ["netns", "list"]).stdout;
        for (const ns of namespaces) if (existing.split("\n").some((l) => l.split(" ")[0] === ns)) sh("ip", ["netns", "del", ns]);
        if (sh("ip", ["link", "show", s.rootVeth]).code === 0) sh("ip", ["link", "del", s.rootVeth]);
        rmSync(this.dir, { recursive: true, force: true });
    }
}
