// A real Kubernetes control plane for one test file (scripts/test-cluster):
// started in beforeAll with a clean etcd, stopped in afterAll. It also stops by
// itself when this test process dies, so a crashed run leaves nothing behind.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { runAsync, TOOLS_BIN, type CliResult } from "./pulumi-cli";
import { ROOT } from "./stack-file";

const SCRIPT = join(ROOT, "scripts", "test-cluster");
/** Longer than any test file; the cluster ends with its test process anyway. */
const LIFETIME_SECONDS = 1800;

export interface TestCluster {
    /** The cluster's directory (logs under logs/). */
    readonly dir: string;
    /** The admin kubeconfig (group system:masters). */
    readonly kubeconfig: string;
    /** Seconds `scripts/test-cluster start` took. */
    readonly startSeconds: number;
    /** Runs the built kubectl against the cluster, from the repo root; `stdin` is fed as `-f -` input. */
    kubectl(args: string[], stdin?: string): CliResult;
}

const run = (cmd: string, args: string[]) => runAsync(cmd, args, { cwd: ROOT });

/**
 * Registers beforeAll/afterAll that start and stop a cluster for the calling
 * test file. The returned object is usable inside tests and hooks declared
 * after this call.
 */
export function useTestCluster(): TestCluster {
    let state: { dir: string; kubeconfig: string; startSeconds: number } | undefined;
    const get = () => {
        if (!state) throw new Error("the test cluster is not started: use it inside tests or hooks");
        return state;
    };

    beforeAll(async () => {
        if (!existsSync(join(TOOLS_BIN, "kube-apiserver"))) {
            throw new Error("kube-apiserver is not in .tools/bin: run `npm run setup` first");
        }
        const dir = mkdtempSync(join(tmpdir(), "oceanid-cluster-"));
        const t0 = Date.now();
        // The owner is this process: when it dies the cluster's reaper stops everything.
        const r = await run("bash", [SCRIPT, "start", "--dir", dir, "--owner", String(process.pid), "--lifetime", String(LIFETIME_SECONDS)]);
        const m = /^KUBECONFIG=(.+)\n$/.exec(r.stdout);
        if (r.code !== 0 || !m) throw new Error(`scripts/test-cluster start failed (${r.code}):\n${r.output}`);
        state = { dir, kubeconfig: m[1], startSeconds: (Date.now() - t0) / 1000 };
    }, 180_000);

    afterAll(async () => {
        if (!state) return;
        const r = await run("bash", [SCRIPT, "stop", "--dir", state.dir]);
        if (r.code !== 0) throw new Error(`scripts/test-cluster stop failed (${r.code}):\n${r.output}`);
        rmSync(state.dir, { recursive: true, force: true });
    }, 60_000);

    return {
        get dir() {
            return get().dir;
        },
        get kubeconfig() {
            return get().kubeconfig;
        },
        get startSeconds() {
            return get().startSeconds;
        },
        kubectl(args: string[], stdin?: string): CliResult {
            const { dir, kubeconfig } = get();
            const r = spawnSync(join(TOOLS_BIN, "kubectl"), ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "kube-cache"), ...args], {
                cwd: ROOT,
                encoding: "utf8",
                input: stdin,
                timeout: 60_000,
                env: { PATH: process.env.PATH, HOME: dir, LANG: "C" },
            });
            const stdout = r.stdout ?? "";
            const stderr = (r.stderr ?? "") + (r.error ? r.error.message : "");
            return { code: r.status ?? -1, stdout, stderr, output: stdout + stderr };
        },
    };
}

/**
 * Polls `probe` every 200 ms until it returns a value other than undefined;
 * throws with `what` and the last `describe()` after `timeoutMs`.
 */
export async function pollUntil<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000, describe?: () => string): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = probe();
        if (v !== undefined) return v;
        if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000}s${describe ? `; last seen: ${describe()}` : ""}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}
