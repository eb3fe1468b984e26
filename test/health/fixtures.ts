// Loopback stand-ins for the health check's counterparts: a stack file, a kubeconfig, an HTTPS
// server playing the API server and k3s' /ping, and a real sshd. Nothing here leaves 127.0.0.1.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { main, type HealthIo } from "../../components/health/cli";

export const LOOPBACK = "127.0.0.1";
export const NOW = new Date("2026-03-02T10:00:00Z");

export function tmpDir(prefix = "oceanid-health-"): string {
    return mkdtempSync(join(tmpdir(), prefix));
}

/** A port that nothing listens on (bound once, then closed). */
export async function closedPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = createServer();
        srv.on("error", reject);
        srv.listen(0, LOOPBACK, () => {
            const { port } = srv.address() as { port: number };
            srv.close(() => resolve(port));
        });
    });
}

export interface StackNode {
    name: string;
    role: "server" | "agent";
    sshPort: number;
    hostKey: string;
    k3sVersion?: string;
}

/** A valid stack file whose nodes all answer SSH on 127.0.0.1 (each on its own port). */
export function writeStackFile(
    dir: string,
    stack: string,
    nodes: StackNode[],
    opts: { serverUrl: string; context?: string; extra?: Record<string, unknown> },
): string {
    const file = join(dir, `Pulumi.${stack}.yaml`);
    const config: Record<string, unknown> = {
        "oceanid:nodeAccess": "none",
        "oceanid:kubernetes": { mode: "cluster", ...(opts.context ? { context: opts.context } : {}) },
        "oceanid:nodes": nodes.map((n, i) => ({
            name: n.name,
            role: n.role,
            ...(n.role === "agent" && nodes.findIndex((m) => m.role === "agent") === i ? { canary: true } : {}),
            k3sVersion: n.k3sVersion ?? "v1.33.5+k3s1",
            addresses: { public: LOOPBACK, tailscale: `100.64.0.${10 + i}` },
            ssh: { user: "oceanid", port: n.sshPort, hostKey: n.hostKey },
            outOfBand: `test stand-in for ${n.name}'s console`,
        })),
        "oceanid:egress": { exitNode: "100.64.0.10" },
        "oceanid:nodeChanges": { serverUrl: opts.serverUrl },
        // Only whether a secret is set matters to validation; these are not real ciphertexts.
        "oceanid:kubeconfig": { secure: "v1:test:not-a-secret" },
        "oceanid:tailscaleAuthKey": { secure: "v1:test:not-a-secret" },
        ...opts.extra,
    };
    writeFileSync(file, stringify({ config }));
    return file;
}

/** A kubeconfig for `server`, with a bearer token so tests can check it is never printed. */
export function kubeconfigText(server: string, opts: { token?: string; caPem?: string; context?: string } = {}): string {
    const context = opts.context ?? "oceanid";
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
            { name: "oceanid", cluster: { server, ...(opts.caPem ? { "certificate-authority-data": Buffer.from(opts.caPem).toString("base64") } : {}) } },
        ],
        users: [{ name: "admin", user: { token: opts.token ?? "kubeconfig-token-DO-NOT-PRINT-0123456789" } }],
        contexts: [{ name: context, context: { cluster: "oceanid", user: "admin" } }],
        "current-context": context,
    });
}

export interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs oceanid-health in-process, the way the bin script does (real probes unless replaced). */
export async function run(args: string[], io: Partial<HealthIo> = {}): Promise<Run> {
    let stdout = "";
    let stderr = "";
    const code = await main(args, {
        stdout: (t) => (stdout += t),
        stderr: (t) => (stderr += t),
        readStdin: () => "",
        now: () => new Date(),
        env: {},
        ...io,
    });
    return { code, stdout, stderr };
}

/** A self-signed certificate for 127.0.0.1, made with openssl. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
    execFileSync(
        "openssl",
        [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            join(dir, "tls.key"),
            "-out",
            join(dir, "tls.crt"),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        { stdio: "ignore" },
    );
    return { cert: readFileSync(join(dir, "tls.crt"), "utf8"), key: readFileSync(join(dir, "tls.key"), "utf8") };
}

export interface FakeApi {
    url: string;
    /** The Authorization headers seen. */
    auth: string[];
    close(): Promise<void>;
}

/**
 * An HTTPS server on loopback answering like k3s: `/ping` → `pong`, and the node and Lease lists
 * from `state()` (status 401 when it returns "unauthorized").
 */
export async function fakeApiServer(
    tls: { cert: string; key: string },
    state: () => { nodes: object[]; leases: object[] } | "unauthorized",
    opts: { ping?: string } = {},
): Promise<FakeApi> {
    const auth: string[] = [];
    const server: Server = createHttpsServer(tls, (req, res) => {
        auth.push(String(req.headers.authorization));
        const path = (req.url ?? "").split("?")[0];
        if (path === "/ping") {
            res.end(opts.ping ?? "pong");
            return;
        }
        const s = state();
        res.setHeader("content-type", "application/json");
        if (s === "unauthorized") {
            res.statusCode = 401;
            res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 }));
        } else if (path === "/api/v1/nodes") {
            res.end(JSON.stringify({ kind: "NodeList", apiVersion: "v1", metadata: {}, items: s.nodes }));
        } else if (path === "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases") {
            res.end(JSON.stringify({ kind: "LeaseList", apiVersion: "coordination.k8s.io/v1", metadata: {}, items: s.leases }));
        } else {
            res.statusCode = 404;
            res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: "not found", code: 404 }));
        }
    });
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
    const { port } = server.address() as { port: number };
    return {
        url: `https://${LOOPBACK}:${port}`,
        auth,
        close: () =>
            new Promise((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** A Node object as the API server lists it. */
export function nodeObject(
    name: string,
    opts: {
        ready?: string;
        reason?: string;
        message?: string;
        kubelet?: string;
        unschedulable?: boolean;
        annotations?: Record<string, string>;
        /** More conditions, after Ready (an OceanidNodeChange, say). */
        conditions?: object[];
    } = {},
): object {
    return {
        metadata: { name, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        ...(opts.unschedulable !== undefined ? { spec: { unschedulable: opts.unschedulable } } : {}),
        status: {
            conditions: [
                {
                    type: "Ready",
                    status: opts.ready ?? "True",
                    reason: opts.reason ?? "KubeletReady",
                    message: opts.message ?? "kubelet is posting ready status",
                    lastHeartbeatTime: NOW.toISOString(),
                    lastTransitionTime: NOW.toISOString(),
                },
                ...(opts.conditions ?? []),
            ],
            nodeInfo: {
                kubeletVersion: opts.kubelet ?? "v1.33.5+k3s1",
                machineID: "",
                systemUUID: "",
                bootID: "",
                kernelVersion: "",
                osImage: "",
                containerRuntimeVersion: "",
                kubeProxyVersion: "",
                operatingSystem: "linux",
                architecture: "amd64",
            },
        },
    };
}

/** A node's Lease in kube-node-lease, renewed at `renewTime`. */
export function leaseObject(name: string, renewTime: Date): object {
    return {
        metadata: { name, namespace: "kube-node-lease" },
        spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: renewTime.toISOString().replace(/Z$/, "000Z") },
    };
}

export interface Sshd {
    port: number;
    /** The host keys' public lines, `<type> <base64>`, by type. */
    hostKeys: Record<string, string>;
    /** What `ssh-keygen -lf` prints as the fingerprint of each host key, by type. */
    fingerprints: Record<string, string>;
    stop(): void;
}

/**
 * A real OpenSSH server on 127.0.0.1 with fresh ed25519 and ECDSA host keys and no way to log in.
 * It runs under `timeout 120`, so it stops by itself if a test run dies before `stop()`.
 */
export async function startSshd(): Promise<Sshd> {
    const dir = tmpDir("oceanid-health-sshd-");
    mkdirSync("/run/sshd", { recursive: true });
    const hostKeys: Record<string, string> = {};
    const fingerprints: Record<string, string> = {};
    for (const [type, name] of [
        ["ed25519", "ssh-ed25519"],
        ["ecdsa", "ecdsa-sha2-nistp256"],
    ]) {
        const key = join(dir, `ssh_host_${type}_key`);
        execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", key]);
        hostKeys[name] = readFileSync(`${key}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
        fingerprints[name] = execFileSync("ssh-keygen", ["-lf", `${key}.pub`], { encoding: "utf8" }).split(" ")[1];
    }
    const port = await closedPort();
    const cfg = join(dir, "sshd_config");
    writeFileSync(
        cfg,
        [
            `Port ${port}`,
            `ListenAddress ${LOOPBACK}`,
            `HostKey ${join(dir, "ssh_host_ed25519_key")}`,
            `HostKey ${join(dir, "ssh_host_ecdsa_key")}`,
            `PidFile ${join(dir, "sshd.pid")}`,
            "UsePAM no",
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication no",
            "AuthorizedKeysFile none",
            "",
        ].join("\n"),
    );
    const child: ChildProcess = spawn("timeout", ["120", "/usr/sbin/sshd", "-D", "-e", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    await waitForPort(port, 10_000, () => (child.exitCode !== null ? `sshd exited ${child.exitCode}: ${log}` : undefined));
    return { port, hostKeys, fingerprints, stop: () => void child.kill("SIGTERM") };
}

async function waitForPort(port: number, timeoutMs: number, failed: () => string | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const why = failed();
        if (why) throw new Error(why);
        const open = await new Promise<boolean>((resolve) => {
            const s = connect(port, LOOPBACK);
            s.once("connect", () => {
                s.destroy();
                resolve(true);
            });
            s.once("error", () => resolve(false));
        });
        if (open) return;
        if (Date.now() > deadline) throw new Error(`nothing listens on ${LOOPBACK}:${port} after ${timeoutMs}ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** A TCP server that accepts and never answers: an API server that hangs. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
    const sockets = new Set<import("node:net").Socket>();
    const srv = createServer((s) => {
        sockets.add(s);
        s.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => srv.listen(0, LOOPBACK, resolve));
    return {
        port: (srv.address() as { port: number }).port,
        close: () =>
            new Promise((resolve) => {
                for (const s of sockets) s.destroy();
                srv.close(() => resolve());
            }),
    };
}
