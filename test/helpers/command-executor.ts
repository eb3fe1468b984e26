// A test executor for @pulumi/command resources, NOT an engine: the command
// provider plugin cannot be had here, so under the mock runtime this runs each
// remote.Command over real SSH (pinned host key, key auth, stdin), each
// remote.CopyToRemote of a FileAsset over SFTP, and each local.Command with
// /bin/sh (with withKubernetes also the Kubernetes resources a test names,
// through kubectl), as the providers would, and hands back stdout and
// stderr as the resource's state. The runtime registers a resource only after
// the resources it depends on, so steps run in dependency order; a non-zero
// exit fails the registration, and nothing that depends on it runs.
// With an EngineState it keeps what the engine keeps between runs of `pulumi up`:
// a step that succeeded is not run again while its inputs stay the same (it keeps
// its id and outputs); changed triggers replace it (a new id), other changed inputs
// update it (the provider runs `create` again, same id); a failed step is not kept.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { Client } from "ssh2";
import { parseHostKey } from "../../components/health/ssh-host";
import { MOCK_ID, plain } from "./mock-runtime";
import { ROOT } from "./stack-file";

/** What the engine keeps of each command resource between runs (no secret: inputs as a hash). */
export interface EngineState {
    resources: Record<string, { triggers: string; inputs: string; id: string; outputs: { stdout: string; stderr: string } }>;
}

/** How one registration went: run (created, replaced, updated) or kept from an earlier run. */
export type StepOperation = "create" | "replace" | "update" | "same";

/** One command the executor ran. */
export interface ExecutedStep {
    name: string;
    type: "remote" | "local";
    operation?: StepOperation;
    host?: string;
    code: number | null;
    stdout: string;
    stderr: string;
    startedAt: number;
    endedAt: number;
}

export class StepFailed extends Error {
    constructor(readonly step: ExecutedStep | { name: string; error: string }) {
        super("error" in step ? `${step.name}: ${step.error}` : `${step.name}: exit ${step.code}`);
    }
}

interface Connection {
    host: string;
    port?: number;
    user?: string;
    hostKey?: string;
    privateKey?: string;
    dialErrorLimit?: number;
    perDialTimeout?: number;
}

function connect(c: Connection): Promise<Client> {
    const attempts = Math.max(1, c.dialErrorLimit ?? 10);
    const once = () =>
        new Promise<Client>((resolve, reject) => {
            const client = new Client();
            client
                .on("ready", () => resolve(client))
                .on("error", (err) => reject(err))
                .connect({
                    host: c.host,
                    port: c.port ?? 22,
                    username: c.user ?? "root",
                    privateKey: c.privateKey,
                    readyTimeout: (c.perDialTimeout ?? 15) * 1000,
                    // A host cut off mid-command would otherwise hold the test forever.
                    keepaliveInterval: 5000,
                    keepaliveCountMax: 3,
                    // Like the provider's FixedHostKey: any other key ends the handshake.
                    ...(c.hostKey === undefined ? {} : { hostVerifier: (key: Buffer) => parseHostKey(c.hostKey!)?.blob.equals(key) === true }),
                });
        });
    return (async () => {
        let last: unknown;
        for (let i = 0; i < attempts; i++) {
            try {
                return await once();
            } catch (err) {
                last = err;
                // A wrong host key is not a dial error: retrying cannot fix it.
                if (String(err).includes("verification failed")) break;
            }
        }
        throw last;
    })();
}

/** A connection for step `name`, or the step failed naming the host. */
async function connectStep(name: string, c: Connection): Promise<Client> {
    try {
        return await connect(c);
    } catch (err) {
        throw new StepFailed({ name, error: `cannot connect to ${c.host}:${c.port ?? 22}: ${(err as Error).message}` });
    }
}

async function runRemote(name: string, c: Connection, command: string, stdin: string | undefined): Promise<ExecutedStep> {
    const startedAt = Date.now();
    const client = await connectStep(name, c);
    try {
        return await new Promise<ExecutedStep>((resolve, reject) => {
            client.exec(command, (err, stream) => {
                if (err) return reject(new StepFailed({ name, error: err.message }));
                let stdout = "";
                let stderr = "";
                stream.on("data", (d: Buffer) => (stdout += d.toString()));
                stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                stream.on("close", (code: number | null) =>
                    resolve({ name, type: "remote", host: c.host, code, stdout, stderr, startedAt, endedAt: Date.now() }),
                );
                stream.end(stdin ?? "");
            });
        });
    } finally {
        client.end();
    }
}

/** CopyToRemote's FileAsset, as the provider copies it: over SFTP to remotePath. */
async function copyRemote(name: string, c: Connection, source: unknown, remotePath: string): Promise<ExecutedStep> {
    const startedAt = Date.now();
    // The mock runtime hands back the FileAsset (its path a promise) or its serialized form.
    const path = await ((source as { path?: unknown }).path as Promise<string> | string | undefined);
    if (typeof path !== "string") throw new StepFailed({ name, error: `source is not a FileAsset: ${JSON.stringify(source)}` });
    const client = await connectStep(name, c);
    try {
        await new Promise<void>((resolve, reject) =>
            client.sftp((err, sftp) => {
                if (err) return reject(new StepFailed({ name, error: err.message }));
                sftp.fastPut(path, remotePath, (e) => (e ? reject(new StepFailed({ name, error: `${remotePath}: ${e.message}` })) : resolve()));
            }),
        );
    } finally {
        client.end();
    }
    return { name, type: "remote", host: c.host, code: 0, stdout: "", stderr: "", startedAt, endedAt: Date.now() };
}

function runLocal(name: string, command: string, stdin: string | undefined, environment: Record<string, string> | undefined): Promise<ExecutedStep> {
    const startedAt = Date.now();
    return new Promise((resolve) => {
        // The provider runs local commands with /bin/sh -c in the program's directory.
        const child = spawn("/bin/sh", ["-c", command], { cwd: ROOT, env: { ...process.env, ...environment } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ name, type: "local", code, stdout, stderr, startedAt, endedAt: Date.now() }));
        child.stdin.end(stdin ?? "");
    });
}

const hash = (v: unknown) => createHash("sha256").update(JSON.stringify(v)).digest("hex");

/**
 * A mock `newResource` handler that runs command resources for real. Every
 * step it ran (or failed to start) is appended to `steps`; with `engine`, steps
 * kept from an earlier run are appended too, with operation "same" and nothing run.
 * `replace` names steps to replace whatever their inputs (`pulumi up --replace`).
 * `onKept` is called after each change to `engine`, so a killed run keeps what it did.
 */
export function commandExecutor(
    steps: Array<ExecutedStep | { name: string; error: string }>,
    onStep: (name: string) => void = () => {},
    engine?: { state: EngineState; replace?: readonly string[]; onKept?: () => void; interruptAfter?: string },
) {
    let interrupted = false;
    return async (args: { type: string; name: string; inputs: Record<string, any> }) => {
        const inputs = args.inputs;
        if (!["command:remote:Command", "command:local:Command", "command:remote:CopyToRemote"].includes(args.type)) return undefined;
        // Like Ctrl-C during `pulumi up`: the step in flight finishes, nothing after it starts.
        if (interrupted) {
            const step = { name: args.name, error: "interrupted" };
            steps.push(step);
            onStep(args.name);
            throw new StepFailed(step);
        }
        const triggers = hash(plain(inputs.triggers) ?? null);
        const all = hash(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, plain(v)])));
        const kept = engine?.state.resources[args.name];
        const forced = engine?.replace?.includes(args.name) === true;
        const operation: StepOperation =
            kept === undefined ? "create" : forced || kept.triggers !== triggers ? "replace" : kept.inputs !== all ? "update" : "same";
        if (kept !== undefined && operation === "same") {
            steps.push({
                name: args.name,
                type: args.type === "command:local:Command" ? "local" : "remote",
                operation,
                code: 0,
                ...kept.outputs,
                startedAt: Date.now(),
                endedAt: Date.now(),
            });
            onStep(args.name);
            return { ...kept.outputs, [MOCK_ID]: kept.id };
        }
        let step: ExecutedStep;
        try {
            if (args.type === "command:remote:CopyToRemote") {
                step = await copyRemote(args.name, plain(inputs.connection), inputs.source, plain(inputs.remotePath));
            } else if (args.type === "command:remote:Command") {
                step = await runRemote(args.name, plain(inputs.connection), plain(inputs.create), plain(inputs.stdin));
            } else {
                step = await runLocal(args.name, plain(inputs.create), plain(inputs.stdin), plain(inputs.environment));
            }
        } catch (err) {
            if (err instanceof StepFailed) steps.push(err.step);
            onStep(args.name);
            throw err;
        }
        step.operation = operation;
        steps.push(step);
        onStep(args.name);
        if (step.code !== 0) throw new StepFailed(step);
        const outputs = { stdout: step.stdout.replace(/\n$/, ""), stderr: step.stderr.replace(/\n$/, "") };
        const id = operation === "update" ? kept!.id : `${args.name}-${randomBytes(4).toString("hex")}`;
        if (engine) {
            engine.state.resources[args.name] = { triggers, inputs: all, id, outputs };
            engine.onKept?.();
            if (engine.interruptAfter === args.name) interrupted = true;
        }
        return { ...outputs, [MOCK_ID]: id };
    };
}

type Handler = ReturnType<typeof commandExecutor>;

/**
 * Kubernetes resources named by `opts.names` applied for real (kubectl apply --server-side) and
 * their live objects returned, a service-account token Secret once its token is filled in, as the
 * kubernetes provider does; everything else goes to `next`.
 */
export function withKubernetes(opts: { kubeconfig: string; names: string } | undefined, next: Handler): Handler {
    if (opts === undefined) return next;
    const names = new RegExp(opts.names);
    const kubectl = (args: string[], input?: string) => {
        const r = spawnSync("kubectl", ["--kubeconfig", opts.kubeconfig, "--request-timeout", "10s", ...args], { input, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr.trim()}`);
        return r.stdout;
    };
    return async (args) => {
        if (!args.type.startsWith("kubernetes:") || !names.test(args.name)) return next(args);
        const object = Object.fromEntries(Object.entries(args.inputs).map(([k, v]) => [k, plain(v)]));
        kubectl(["apply", "--server-side", "--field-manager", "pulumi-kubernetes", "-o", "json", "-f", "-"], JSON.stringify(object));
        const meta = object.metadata as { name: string; namespace?: string };
        const get = () =>
            JSON.parse(kubectl(["get", String(object.kind).toLowerCase(), meta.name, ...(meta.namespace ? ["-n", meta.namespace] : []), "-o", "json"]));
        let live = get();
        for (let i = 0; object.type === "kubernetes.io/service-account-token" && !live.data?.token && i < 100; i++) {
            await new Promise((r) => setTimeout(r, 100));
            live = get();
        }
        return { ...live, [MOCK_ID]: `${meta.namespace ?? ""}/${meta.name}` };
    };
}
