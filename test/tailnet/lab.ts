// The tailnet lab: a real tailnet in network namespaces, for the egress gateway
// (test/tailnet/README.md). headscale is the control server, derper the DERP/STUN
// server, tailscaled in userspace mode the exit node, containerboot the gateway
// with the environment the program renders. Needs root, `ip netns`, iptables and
// util-linux (unshare, setpriv). Traffic stays inside the namespaces the lab creates
// and loopback: no namespace has a default route, and there is no interface in the
// root namespace.
//
//   control  br0 10.197.0.254: headscale :8080, derper :8443 (TLS, self-signed), STUN :3478
//     ├─veth─ exit     eth0 10.197.0.1   tailscaled (exit node)   eth1 10.197.1.1 ─veth─ internet 10.197.1.2, server 203.0.113.10 (HTTP :80, DNS :53)
//     └─veth─ gateway  eth0 10.197.0.2   containerboot            eth1 10.197.2.1 ─veth─ client   10.197.2.2 (curl)
//
// Lifetimes follow test/lab/node-lab.ts: every process runs under `timeout -s KILL
// <lifetime>`, the daemons in their own pid namespace (`unshare --pid --kill-child`);
// test/lab/reaper.sh (detached, own session) kills what is left in the namespaces,
// deletes them and the lab dir once the test process is gone; start() removes the
// namespaces, processes and dirs of labs whose owner no longer exists.
import { spawn, type ChildProcess } from "node:child_process";
import {
    chmodSync,
    chownSync,
    closeSync,
    copyFileSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    openSync,
    readdirSync,
    realpathSync,
    rmSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { derpCertificate, derperArgs, DERP_PORT, HEADSCALE_PORT, headscaleConfig, writeDerpMap } from "../helpers/headscale";
import { cleanEnv, failure, isolatedInit, LAB_PATH, netnsPids, pidAlive, run, sh, sleep, tryRead, type RunResult } from "../lab/processes";

const LAB_SRC = __dirname;
const REAPER = join(LAB_SRC, "..", "lab", "reaper.sh");
const NS_RE = /^octn(\d+)x\d+-/;
const DIR_RE = /^oceanid-lab-tailnet-(\d+)-/;

/** The lab's addresses (links in 10.197.0.0/22: test/lab uses 10.198.N.0/24, test/e2e/recovery 10.199.0.0/16). */
export const LAB_ADDRESSES = {
    control: "10.197.0.254",
    exitTailnetSide: "10.197.0.1",
    gatewayTailnetSide: "10.197.0.2",
    exitInternetSide: "10.197.1.1",
    /** the internet's end of the exit node's link (its router) */
    internetLink: "10.197.1.2",
    /**
     * The internet server, one hop behind internetLink, on a documentation address (RFC 5737
     * TEST-NET-3, never routed anywhere; here only the exit node has a /32 route to it). It cannot be
     * a private address: an exit node removes RFC 1918, CGNAT, link-local and its own interfaces'
     * subnets from 0.0.0.0/0 (ipn/ipnlocal removeFromDefaultRoute, "guest Wi-Fi"), so a 10.x
     * "internet" is dropped at the exit node and proves nothing.
     */
    internet: "203.0.113.10",
    gatewayClientSide: "10.197.2.1",
    client: "10.197.2.2",
} as const;
/** A name the lab's DNS server (in `internet`, the exit node's only resolver) answers with LAB_ADDRESSES.internet. */
export const LAB_INTERNET_NAME = "www.internet.lab";
const CONTROL_PORT = HEADSCALE_PORT;
/** The uid/gid the gateway runs as: the Deployment's runAsUser/runAsGroup. */
const GATEWAY_UID = 1000;

export type LabNs = "control" | "exit" | "internet" | "gateway" | "client";
const NAMESPACES: readonly LabNs[] = ["control", "exit", "internet", "gateway", "client"];

export interface TailnetLabOptions {
    /** every process the lab starts ends by itself after this many seconds (default 900) */
    lifetimeSeconds?: number;
}

export interface EnvVar {
    name: string;
    value: string;
}

// --- small process helpers (the shared ones: test/lab/processes.ts) --------------------------
function must(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
    const r = sh(cmd, args, opts);
    if (r.code !== 0) throw failure("tailnet lab", cmd, args, r);
    return r.stdout;
}

function killAll(pids: number[]) {
    for (const pid of pids) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            /* gone */
        }
    }
}

/** POSIX sh single-quoting. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The directory holding `tool` on the test's PATH, or undefined. */
export function toolDir(tool: string, path = process.env.PATH ?? ""): string | undefined {
    for (const d of path.split(delimiter)) {
        if (d && existsSync(join(d, tool))) return d;
    }
    return undefined;
}

/** The lab's namespaces, processes and dirs of owners that no longer exist (their reaper normally removes them). */
export function removeStaleTailnetLabs(): string[] {
    const removed: string[] = [];
    for (const line of sh("ip", ["netns", "list"]).stdout.split("\n")) {
        const name = line.split(" ")[0];
        const m = NS_RE.exec(name);
        if (!m || pidAlive(Number(m[1]))) continue;
        killAll(netnsPids(name));
        sh("ip", ["netns", "del", name]);
        removed.push(name);
    }
    const base = labBase();
    for (const entry of readdirSync(base)) {
        const m = DIR_RE.exec(entry);
        if (!m || pidAlive(Number(m[1]))) continue;
        rmSync(join(base, entry), { recursive: true, force: true });
        removed.push(join(base, entry));
    }
    return removed;
}

function labBase(): string {
    return /^\/(etc|var)(\/|$)/.test(tmpdir()) ? "/tmp" : tmpdir();
}

let labCounter = 0;

/** A daemon the lab started: its log, and a way to stop it (SIGKILL to its process group). */
export class LabProcess {
    constructor(
        readonly name: string,
        readonly child: ChildProcess,
        readonly logPath: string,
    ) {}
    get exited(): boolean {
        return this.child.exitCode !== null || this.child.signalCode !== null;
    }
    log(): string {
        return tryRead(this.logPath) ?? "";
    }
    /** Resolves with the exit code (or -1 for a signal) once the process ends. */
    waitExit(timeoutMs: number): Promise<number | undefined> {
        if (this.exited) return Promise.resolve(this.child.exitCode ?? -1);
        return Promise.race([new Promise<number>((r) => this.child.once("exit", (code) => r(code ?? -1))), sleep(timeoutMs).then(() => undefined)]);
    }
    async stop(): Promise<void> {
        if (this.exited) return;
        try {
            process.kill(-this.child.pid!, "SIGKILL");
        } catch {
            /* gone */
        }
        await this.waitExit(5000);
    }
}

export class TailnetLab {
    readonly dir: string;
    /** namespace name per role, unique per run: octn<pid>x<n>-<role> */
    readonly ns: Record<LabNs, string>;
    /** headscale's URL, as nodes pass it to --login-server */
    readonly loginServer = `http://${LAB_ADDRESSES.control}:${CONTROL_PORT}`;
    /** the exit node's Tailscale IPv4, known once startExitNode() has run */
    exitTailscaleIp = "";
    private readonly lifetime: number;
    private readonly binDir: string;
    private readonly procs: LabProcess[] = [];
    private exitProc?: LabProcess;
    private exitSocket = "";
    private reaper?: ChildProcess;
    private userId = "";
    private stopped = false;

    private constructor(dir: string, ns: Record<LabNs, string>, lifetime: number, binDir: string) {
        this.dir = dir;
        this.ns = ns;
        this.lifetime = lifetime;
        this.binDir = binDir;
    }

    /** Why the lab cannot run at all, or which tool is missing; undefined when it can. */
    static unavailableReason(): string | undefined {
        if (process.platform !== "linux") return "the tailnet lab needs Linux network namespaces";
        if (process.getuid?.() !== 0) return "the tailnet lab needs root (network namespaces, mounts, iptables)";
        if (sh("ip", ["netns", "list"]).code !== 0) return "`ip netns` is unavailable (install iproute2)";
        for (const t of ["iptables", "unshare", "setpriv", "timeout", "curl", "openssl"]) {
            if (!toolDir(t, LAB_PATH)) return `${t} is missing`;
        }
        for (const t of ["tailscaled", "tailscale", "containerboot", "derper", "headscale"]) {
            if (!toolDir(t)) return `${t} is not on PATH (the tailnet lab toolchain: scripts/toolchain/tailscale, scripts/toolchain/headscale)`;
        }
        return undefined;
    }

    static async start(opts: TailnetLabOptions = {}): Promise<TailnetLab> {
        const lifetime = opts.lifetimeSeconds ?? 900;
        const why = TailnetLab.unavailableReason();
        if (why) throw new Error(`tailnet lab: ${why}`);
        // One directory must hold every Tailscale binary: containerboot runs tailscaled and tailscale from PATH.
        const binDir = toolDir("containerboot")!;
        for (const t of ["tailscaled", "tailscale", "derper"]) {
            if (!existsSync(join(binDir, t))) throw new Error(`tailnet lab: ${t} is not next to containerboot in ${binDir}`);
        }
        removeStaleTailnetLabs();
        const tag = `octn${process.pid}x${labCounter++}`;
        const ns = Object.fromEntries(NAMESPACES.map((r) => [r, `${tag}-${r}`])) as Record<LabNs, string>;
        const dir = mkdtempSync(join(labBase(), `oceanid-lab-tailnet-${process.pid}-`));
        chmodSync(dir, 0o755);
        const lab = new TailnetLab(dir, ns, lifetime, binDir);
        try {
            await lab.build();
            return lab;
        } catch (e) {
            const logs = lab.logs();
            await lab.stop();
            throw new Error(`${(e as Error).message}\n--- lab logs (tail) ---\n${logs.split("\n").slice(-80).join("\n")}`);
        }
    }

    private async build(): Promise<void> {
        const { dir, ns } = this;
        for (const d of ["logs", "control", "derp", "exit", "internet", "gateway"]) mkdirSync(join(dir, d), { recursive: true });

        // The safety net first: test/lab's reaper, with a root-side veth name that never exists (this lab has none).
        const reaperLog = openSync(join(dir, "logs", "reaper.log"), "a");
        this.reaper = spawn(
            "timeout",
            [
                "-s",
                "KILL",
                String(this.lifetime + 60),
                "bash",
                REAPER,
                String(process.pid),
                String(this.lifetime),
                dir,
                `${ns.control.split("-")[0]}-none`,
                ...NAMESPACES.map((r) => ns[r]),
            ],
            { detached: true, stdio: ["ignore", reaperLog, reaperLog], env: cleanEnv() },
        );
        closeSync(reaperLog);
        this.reaper.unref();

        // Network.
        must("ip", ["-batch", "-"], { input: NAMESPACES.map((r) => `netns add ${ns[r]}`).join("\n") + "\n" });
        for (const r of NAMESPACES) {
            // IPv4 only, no forwarding anywhere: the exit node relays in userspace, the gateway not at all.
            sh("ip", [
                "netns",
                "exec",
                ns[r],
                "sh",
                "-c",
                "for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do echo 1 > $f; done; echo 0 > /proc/sys/net/ipv4/ip_forward",
            ]);
        }
        must("ip", ["-batch", "-"], {
            input:
                [
                    `link add eth0 netns ${ns.exit} type veth peer name exit0 netns ${ns.control}`,
                    `link add eth0 netns ${ns.gateway} type veth peer name gateway0 netns ${ns.control}`,
                    `link add eth1 netns ${ns.exit} type veth peer name eth0 netns ${ns.internet}`,
                    `link add eth1 netns ${ns.gateway} type veth peer name eth0 netns ${ns.client}`,
                ].join("\n") + "\n",
        });
        const A = LAB_ADDRESSES;
        const batch = (n: LabNs, lines: string[]) => must("ip", ["-n", ns[n], "-batch", "-"], { input: ["link set lo up", ...lines].join("\n") + "\n" });
        batch("control", [
            "link add br0 type bridge",
            "link set br0 up",
            `addr add ${A.control}/24 dev br0`,
            "link set exit0 master br0 up",
            "link set gateway0 master br0 up",
        ]);
        batch("exit", [
            `addr add ${A.exitTailnetSide}/24 dev eth0`,
            "link set eth0 up",
            `addr add ${A.exitInternetSide}/24 dev eth1`,
            "link set eth1 up",
            `route add ${A.internet}/32 via ${A.internetLink} dev eth1`,
        ]);
        batch("internet", [`addr add ${A.internetLink}/24 dev eth0`, "link set eth0 up", `addr add ${A.internet}/32 dev lo`]);
        batch("gateway", [
            `addr add ${A.gatewayTailnetSide}/24 dev eth0`,
            "link set eth0 up",
            `addr add ${A.gatewayClientSide}/24 dev eth1`,
            "link set eth1 up",
        ]);
        batch("client", [`addr add ${A.client}/24 dev eth0`, "link set eth0 up"]);
        // The client reaches the gateway's proxy port and nothing else of it (a NetworkPolicy's job in the cluster).
        const proxyPort = 1055;
        for (const rule of [
            ["-A", "INPUT", "-i", "eth1", "-p", "tcp", "--dport", String(proxyPort), "-j", "ACCEPT"],
            ["-A", "INPUT", "-i", "eth1", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
            ["-A", "INPUT", "-i", "eth1", "-j", "DROP"],
        ]) {
            must("ip", ["netns", "exec", ns.gateway, "iptables", "-w", ...rule]);
        }

        // The internet: an HTTP server that answers with the caller's address (and logs it), and DNS for one name.
        const internetLog = join(dir, "internet", "requests.log");
        writeFileSync(internetLog, "");
        this.internetLog = internetLog;
        this.daemon("internet", "internet", [process.execPath, join(LAB_SRC, "internet-server.mjs"), A.internet, internetLog, LAB_INTERNET_NAME], {});

        // DERP/STUN and headscale as every lab runs them (test/helpers/headscale.ts).
        const derpDir = join(dir, "derp");
        const certSha256 = derpCertificate(derpDir, A.control);
        this.daemon("derper", "control", derperArgs(join(this.binDir, "derper"), A.control, derpDir));
        const derpMap = join(dir, "control", "derp.yaml");
        writeDerpMap(derpMap, A.control, certSha256);
        const hs = join(dir, "control");
        this.headscaleConfig = join(hs, "config.yaml");
        writeFileSync(
            this.headscaleConfig,
            headscaleConfig({ dir: hs, serverUrl: this.loginServer, listenAddr: `${A.control}:${CONTROL_PORT}`, derpMapPath: derpMap }),
        );
        this.daemon("headscale", "control", [toolDir("headscale")! + "/headscale", "-c", this.headscaleConfig, "serve"]);
        await this.until("headscale to answer on its unix socket", 30_000, async () => {
            const r = await this.headscale(["users", "list", "-o", "json"]);
            return r.code === 0 ? true : undefined;
        });
        await this.until("derper to listen", 15_000, async () => {
            const r = await this.inNs("control", ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", `https://${A.control}:${DERP_PORT}/derp/probe`]);
            return r.stdout.trim() === "200" ? true : undefined;
        });
        await this.until("the internet server to listen", 15_000, async () => {
            const r = await this.inNs("exit", ["curl", "-s", "--max-time", "2", `http://${A.internet}/`]);
            return r.code === 0 ? true : undefined;
        });
        const created = await this.headscaleJson(["users", "create", "lab", "-o", "json"]);
        this.userId = String(created.id);
    }

    private internetLog = "";
    private headscaleConfig = "";

    /** Runs `argv` in the lab namespace `n` (an `ip netns exec`, nothing else: host files and the test's PATH). */
    inNs(n: LabNs, argv: string[], timeoutMs = 60_000): Promise<RunResult> {
        return run("ip", ["netns", "exec", this.ns[n], "timeout", "-s", "KILL", String(Math.ceil(timeoutMs / 1000)), ...argv], {
            timeoutMs: timeoutMs + 5000,
            env: this.env(),
        });
    }

    /** The environment of every lab process: the lab's binaries first, HOME and caches in the lab dir, no Tailscale logs. */
    private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
        const home = join(this.dir, "home");
        mkdirSync(home, { recursive: true });
        return {
            PATH: `${this.binDir}:${dirname(toolDir("headscale")! + "/headscale")}:${LAB_PATH}`,
            LANG: "C",
            HOME: home,
            XDG_CACHE_HOME: join(home, ".cache"),
            XDG_CONFIG_HOME: join(home, ".config"),
            TS_NO_LOGS_NO_SUPPORT: "true",
            ...extra,
        };
    }

    /**
     * Starts `argv` as a daemon in namespace `n`: under `timeout -s KILL <lifetime>`, in its own
     * pid and mount namespace (`unshare --kill-child`), with `binds` ([host path, path inside])
     * mounted first, optionally as another user; output to logs/<name>.log.
     */
    private daemon(
        name: string,
        n: LabNs,
        argv: string[],
        opts: { binds?: [string, string][]; uid?: number; env?: Record<string, string>; envOnly?: boolean; hostname?: string } = {},
    ): LabProcess {
        const logPath = join(this.dir, "logs", `${name}.log`);
        const lines = ["set -e"];
        for (const [src, dst] of opts.binds ?? []) lines.push(`mount --bind ${q(src)} ${q(dst)}`);
        if (opts.hostname) lines.push(`hostname ${q(opts.hostname)}`);
        const user =
            opts.uid === undefined ? [] : ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.uid}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"];
        lines.push(`exec ${[...user, ...argv].map(q).join(" ")}`);
        const fd = openSync(logPath, "a");
        const env = opts.envOnly ? { ...opts.env } : this.env(opts.env);
        const child = spawn("ip", ["netns", "exec", this.ns[n], ...isolatedInit(this.lifetime), "/bin/sh", "-c", lines.join("\n")], {
            detached: true,
            stdio: ["ignore", fd, fd],
            env: { ...env, PATH: `${env.PATH ?? ""}:${LAB_PATH}` },
        });
        closeSync(fd);
        child.unref();
        const p = new LabProcess(name, child, logPath);
        this.procs.push(p);
        return p;
    }

    async headscale(args: string[]): Promise<RunResult> {
        return this.inNs("control", [join(toolDir("headscale")!, "headscale"), "-c", this.headscaleConfig, ...args], 30_000);
    }

    private async headscaleJson(args: string[]): Promise<any> {
        const r = await this.headscale(args);
        if (r.code !== 0) throw new Error(`tailnet lab: headscale ${args.join(" ")} failed (${r.code}): ${r.stderr || r.stdout}`);
        return JSON.parse(r.stdout);
    }

    /** A new pre-auth key of the lab's user (reusable unless said otherwise, valid for the lab's lifetime). */
    async preAuthKey(opts: { reusable?: boolean; ephemeral?: boolean } = {}): Promise<string> {
        const args = ["preauthkeys", "create", "--user", this.userId, "--expiration", `${this.lifetime}s`, "-o", "json"];
        if (opts.reusable ?? true) args.push("--reusable");
        if (opts.ephemeral) args.push("--ephemeral");
        const key = await this.headscaleJson(args);
        return String(key.key);
    }

    /** headscale's node list. */
    async nodes(): Promise<any[]> {
        return (await this.headscaleJson(["nodes", "list", "-o", "json"])) ?? [];
    }

    /**
     * The exit node: tailscaled in userspace mode in `exit` (state in the lab dir, so a restart keeps
     * its node key and Tailscale IP; /etc/resolv.conf is the lab's DNS server), logged in with a
     * pre-auth key, advertising exit routes, approved by headscale (unless `approve: false`).
     * Resolves with its Tailscale IPv4. `identity` names another node (own state, hostname
     * `lab-exit-<identity>`) for the same namespace: one exit node runs at a time.
     */
    async startExitNode(opts: { identity?: string; approve?: boolean } = {}): Promise<string> {
        const d = join(this.dir, "exit", opts.identity ?? "");
        mkdirSync(d, { recursive: true });
        const hostname = opts.identity ? `lab-exit-${opts.identity}` : "lab-exit";
        const sock = join(d, "tailscaled.sock");
        writeFileSync(join(d, "resolv.conf"), `nameserver ${LAB_ADDRESSES.internet}\n`);
        const first = !existsSync(join(d, "tailscaled.state"));
        this.exitSocket = sock;
        this.exitProc = this.daemon(
            opts.identity ? `exit-tailscaled-${opts.identity}` : "exit-tailscaled",
            "exit",
            [
                join(this.binDir, "tailscaled"),
                "--tun=userspace-networking",
                `--state=${join(d, "tailscaled.state")}`,
                `--statedir=${d}`,
                `--socket=${sock}`,
                "--port=41641",
                "--no-logs-no-support",
            ],
            // TS_LOGS_DIR: without it, logpolicy writes tailscaled.log.conf to the host's /var/lib/tailscale.
            {
                binds: [[join(d, "resolv.conf"), "/etc/resolv.conf"]],
                hostname,
                env: { TS_LOGS_DIR: d, ...(process.env.TAILNET_LAB_DEBUG ? { TS_DEBUG_NETSTACK: "true" } : {}) },
            },
        );
        await this.until("the exit node's tailscaled socket", 15_000, async () => (existsSync(sock) ? true : undefined));
        if (first) {
            const key = await this.preAuthKey({ reusable: false });
            const up = await this.inNs("exit", [
                join(this.binDir, "tailscale"),
                `--socket=${sock}`,
                "up",
                `--login-server=${this.loginServer}`,
                `--authkey=${key}`,
                `--hostname=${hostname}`,
                "--advertise-exit-node",
                "--accept-dns=false",
                "--timeout=60s",
            ]);
            if (up.code !== 0)
                throw new Error(`tailnet lab: tailscale up on the exit node failed (${up.code}): ${up.stderr || up.stdout}\n${this.exitProc.log()}`);
        }
        const ip = await this.until("the exit node's Tailscale IPv4", 30_000, async () => {
            const r = await this.inNs("exit", [join(this.binDir, "tailscale"), `--socket=${sock}`, "ip", "-4"]);
            return r.code === 0 && /^100\./.test(r.stdout.trim()) ? r.stdout.trim() : undefined;
        });
        if (first && (opts.approve ?? true)) await this.approveExitRoutes(hostname, true);
        this.exitTailscaleIp = ip;
        return ip;
    }

    /** Approves (headscale `nodes approve-routes -r 0.0.0.0/0,::/0`) or withdraws (`-r ""`) the exit routes of node `hostname`. */
    async approveExitRoutes(hostname: string, approve: boolean): Promise<void> {
        const node = (await this.nodes()).find((n) => n.given_name === hostname || n.name === hostname);
        if (!node) throw new Error(`tailnet lab: headscale does not list ${hostname}`);
        await this.headscaleJson(["nodes", "approve-routes", "--identifier", String(node.id), "--routes", approve ? "0.0.0.0/0,::/0" : "", "-o", "json"]);
    }

    /** Kills the exit node's tailscaled (SIGKILL: no logout, the node just vanishes like a crashed host). */
    async killExitNode(): Promise<void> {
        await this.exitProc?.stop();
        await this.emptyNs("exit");
    }

    /**
     * Waits until no process is left in namespace `n` (killing stragglers): the wrapper a daemon was
     * started with can end before the processes of its pid namespace are gone, with their ports.
     */
    private async emptyNs(n: LabNs): Promise<void> {
        for (let attempt = 0; attempt < 50; attempt++) {
            const pids = netnsPids(this.ns[n]);
            if (pids.length === 0) return;
            killAll(pids);
            await sleep(100);
        }
        throw new Error(`tailnet lab: processes left in ${this.ns[n]}: ${netnsPids(this.ns[n]).join(" ")}`);
    }

    /** The exit node as tailscale status sees it from the exit node itself. */
    async exitStatus(): Promise<any> {
        const r = await this.inNs("exit", [join(this.binDir, "tailscale"), `--socket=${this.exitSocket}`, "status", "--json"]);
        return JSON.parse(r.stdout);
    }

    /**
     * The gateway: containerboot in `gateway` with exactly `env` (and PATH to the lab's Tailscale
     * binaries), as uid/gid 1000 like the Deployment, in its own mount namespace whose /tmp is an
     * empty directory of the lab (the pod's emptyDir): containerboot's socket and state dir.
     */
    startGateway(name: string, env: EnvVar[]): LabProcess {
        // The "image": uid 1000 cannot reach the build cache under /root, so the gateway gets its own copies.
        const image = join(this.dir, "gateway", "bin");
        if (!existsSync(join(image, "containerboot"))) {
            mkdirSync(image, { recursive: true });
            for (const t of ["containerboot", "tailscaled", "tailscale"]) {
                copyFileSync(join(this.binDir, t), join(image, t));
                chmodSync(join(image, t), 0o755);
            }
        }
        const tmp = join(this.dir, "gateway", name, "tmp");
        mkdirSync(tmp, { recursive: true });
        chownSync(tmp, GATEWAY_UID, GATEWAY_UID);
        chownSync(dirname(tmp), GATEWAY_UID, GATEWAY_UID);
        // Inside: the copies at /usr/local/bin (where the image has them), the empty dir at /tmp.
        const vars: Record<string, string> = { PATH: LAB_PATH, HOME: "/tmp" };
        for (const e of env) vars[e.name] = e.value;
        this.gatewayVars.set(name, vars);
        return this.daemon(`gateway-${name}`, "gateway", ["/usr/local/bin/containerboot"], {
            binds: [
                [image, "/usr/local/bin"],
                [tmp, "/tmp"],
            ],
            uid: GATEWAY_UID,
            env: vars,
            envOnly: true,
            hostname: "egress-gateway-lab",
        });
    }

    private readonly gatewayVars = new Map<string, Record<string, string>>();

    /**
     * Runs `argv` as the kubelet runs an exec probe: inside the running gateway `name` (the network
     * and mount namespaces of its containerboot: the "image" on /usr/local/bin, its emptyDir on
     * /tmp), as uid/gid 1000 without capabilities, with exactly the container's environment, killed
     * after `timeoutSeconds`. `userland: "busybox"` puts a busybox binary (the image's userland:
     * Alpine's sh, tr, grep…) over the host's /bin/sh, tr and grep, in a private copy of that mount
     * namespace; "host" runs the host's.
     */
    async gatewayExec(name: string, argv: string[], opts: { timeoutSeconds: number; userland?: "host" | { busybox: string } }): Promise<RunResult> {
        const vars = this.gatewayVars.get(name);
        if (!vars) throw new Error(`tailnet lab: no gateway ${name} was started`);
        const boots = netnsPids(this.ns.gateway).filter((pid) => tryRead(`/proc/${pid}/comm`)?.trim() === "containerboot");
        if (boots.length !== 1) throw new Error(`tailnet lab: expected one containerboot in ${this.ns.gateway}, found ${boots.length}`);
        const asUser = [
            "setpriv",
            `--reuid=${GATEWAY_UID}`,
            `--regid=${GATEWAY_UID}`,
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "env",
            "-i",
            ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
            ...argv,
        ];
        const userland = opts.userland ?? "host";
        let inner = asUser;
        if (userland !== "host") {
            const targets = ["/bin/sh", "tr", "grep"].map((t) => realpathSync(t.startsWith("/") ? t : join(toolDir(t, LAB_PATH)!, t)));
            const binds = [...new Set(targets)].map((t) => `mount --bind ${q(userland.busybox)} ${q(t)}`).join(" && ");
            inner = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", `${binds} && exec "$@"`, "probe", ...asUser];
        }
        return run("timeout", ["-s", "KILL", String(opts.timeoutSeconds), "nsenter", `--target=${boots[0]}`, "--mount", "--net", "--", ...inner], {
            timeoutMs: opts.timeoutSeconds * 1000 + 5000,
            env: { PATH: LAB_PATH, LANG: "C" },
        });
    }

    /** The tailscale CLI (as root, from the gateway's namespace) against the socket of gateway `name`. */
    gatewayCli(name: string, args: string[]): Promise<RunResult> {
        return this.inNs("gateway", [join(this.binDir, "tailscale"), `--socket=${join(this.dir, "gateway", name, "tmp", "tailscaled.sock")}`, ...args]);
    }

    /** The tail of a lab log (logs/<name>.log). */
    logTail(name: string, lines = 40): string {
        return (tryRead(join(this.dir, "logs", `${name}.log`)) ?? "").split("\n").slice(-lines).join("\n");
    }

    /** Stops the gateway, and waits until its processes (and so its ports) are gone. */
    async stopGateway(p: LabProcess): Promise<void> {
        await p.stop();
        await this.emptyNs("gateway");
    }

    /** Drops (REJECT) the gateway's traffic to the control server, or lets it through again. */
    blockGatewayControl(block: boolean): void {
        const rule = ["OUTPUT", "-d", LAB_ADDRESSES.control, "-p", "tcp", "--dport", String(CONTROL_PORT), "-j", "REJECT"];
        const exists = sh("ip", ["netns", "exec", this.ns.gateway, "iptables", "-w", "-C", ...rule]).code === 0;
        if (block && !exists) must("ip", ["netns", "exec", this.ns.gateway, "iptables", "-w", "-I", ...rule]);
        if (!block && exists) must("ip", ["netns", "exec", this.ns.gateway, "iptables", "-w", "-D", ...rule]);
    }

    /** The requests the internet server has seen: source address, method, URL. */
    internetRequests(): { source: string; method: string; url: string; host: string }[] {
        return (tryRead(this.internetLog) ?? "")
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l));
    }

    /** curl from the client namespace; stdout, stderr and exit code. */
    curl(args: string[], timeoutSeconds = 15): Promise<RunResult> {
        return this.inNs("client", ["curl", "-sS", "--max-time", String(timeoutSeconds), ...args], (timeoutSeconds + 5) * 1000);
    }

    async until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
        const t0 = Date.now();
        for (;;) {
            const v = await probe().catch(() => undefined);
            if (v !== undefined) return v;
            if (Date.now() - t0 > timeoutMs) throw new Error(`tailnet lab: timed out after ${timeoutMs} ms waiting for ${what}`);
            await sleep(200);
        }
    }

    /** Every process whose network namespace is one of the lab's. */
    pids(): number[] {
        return NAMESPACES.flatMap((r) => netnsPids(this.ns[r]));
    }

    logs(): string {
        const d = join(this.dir, "logs");
        if (!existsSync(d)) return "";
        return readdirSync(d)
            .sort()
            .map((f) => `==> ${f} <==\n${tryRead(join(d, f)) ?? ""}`)
            .join("\n");
    }

    /** Kills every process of the lab, deletes its namespaces and the lab dir. Idempotent. */
    async stop(): Promise<void> {
        if (this.stopped) return;
        this.stopped = true;
        if (this.reaper?.pid) {
            try {
                process.kill(-this.reaper.pid, "SIGKILL");
            } catch {
                /* gone */
            }
        }
        for (const p of this.procs) {
            try {
                process.kill(-p.child.pid!, "SIGKILL");
            } catch {
                /* gone */
            }
        }
        for (let attempt = 0; attempt < 50; attempt++) {
            const pids = this.pids();
            if (pids.length === 0) break;
            killAll(pids);
            await sleep(100);
        }
        await Promise.all(this.procs.map((p) => p.waitExit(2000)));
        const existing = sh("ip", ["netns", "list"]).stdout;
        for (const r of NAMESPACES) {
            if (existing.split("\n").some((l) => l.split(" ")[0] === this.ns[r])) sh("ip", ["netns", "del", this.ns[r]]);
        }
        rmSync(this.dir, { recursive: true, force: true });
    }
}
