// Process helpers the network-namespace labs share (test/lab/node-lab.ts,
// test/tailnet/lab.ts): commands run with a clean environment, and what a lab
// needs to find and stop its processes.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The PATH every lab process gets: the system's, nothing from the test's environment. */
export const LAB_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** What the lab's own processes get: the system PATH, no proxies, no secrets from the test's environment. */
export function cleanEnv(): NodeJS.ProcessEnv {
    return { PATH: LAB_PATH, LANG: "C" };
}

export function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunResult {
    // stdin is /dev/null unless there is input: bash run with a socket on stdin (what a
    // pipe from Node is) takes itself for an sshd session and sources ~/.bashrc.
    const r = spawnSync(cmd, args, {
        encoding: "utf8",
        input: opts.input,
        stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        timeout: opts.timeoutMs ?? 60_000,
        env: opts.env ?? cleanEnv(),
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? r.error.message : "") };
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { env: opts.env ?? cleanEnv(), stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs ?? 60_000 });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

/** A failed command as a lab reports it: which lab, the command, its exit code and output. */
export function failure(lab: string, cmd: string, args: string[], r: RunResult): Error {
    return new Error(`${lab}: ${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr || r.stdout}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 100 ms until it gives a value; throws naming `what` (and its last error) after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<{ value: T; ms: number }> {
    const t0 = Date.now();
    let last = "";
    for (;;) {
        const value = await probe().catch((e: Error) => void (last = e.message));
        if (value !== undefined) return { value, ms: Date.now() - t0 };
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
        await sleep(100);
    }
}

export function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** The pids of every process in a network namespace (`ip netns pids`); none when it is gone. */
export function netnsPids(ns: string): number[] {
    const r = sh("ip", ["netns", "pids", ns]);
    return r.code === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

export function tryRead(path: string): string | undefined {
    try {
        return readFileSync(path, "utf8");
    } catch {
        return undefined;
    }
}

/**
 * argv that runs a command as the init of its own mount, UTS and PID namespaces
 * (PID 1 with /proc of its own; everything in it dies with it), SIGKILLed after
 * `lifetimeSeconds` whatever the test does.
 */
export function isolatedInit(lifetimeSeconds: number): string[] {
    return [
        "timeout",
        "-s",
        "KILL",
        String(lifetimeSeconds),
        "unshare",
        "--mount",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--propagation",
        "private",
    ];
}
