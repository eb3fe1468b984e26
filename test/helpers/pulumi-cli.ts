import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { ROOT } from "./stack-file";

export const TOOLS_BIN = join(ROOT, ".tools", "bin");

export interface CliResult {
    code: number;
    stdout: string;
    stderr: string;
    /** stdout and stderr together, for "does the user see X" assertions. */
    output: string;
}

export interface SpawnHooks {
    started?: (child: ChildProcess) => void;
    detached?: boolean;
}

/**
 * Runs a command without blocking the event loop (so a test can act meanwhile); `stdin` is fed to it, then closed.
 * `started` gets the child process (to signal it); with `detached` it leads a process group of its own
 * (`process.kill(-child.pid, …)` then reaches everything it started).
 */
export function runAsync(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: string } & SpawnHooks): Promise<CliResult> {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"], detached: opts.detached });
        opts.started?.(child);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + e.message, output: stdout + stderr + e.message }));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, output: stdout + stderr }));
        child.stdin.end(opts.stdin ?? "");
    });
}

/**
 * A scratch Pulumi workspace for one test file: its own file backend and a copy
 * of a stack file that the test may edit, so tests never touch the repo's state
 * or Pulumi.<stack>.yaml.
 */
export class Workspace {
    readonly dir = mkdtempSync(join(tmpdir(), "oceanid-e2e-"));
    readonly backend = join(this.dir, "state");
    readonly configFile: string;
    /** Where pulumi runs: the repo root, or a scratch copy of a fixture project. */
    readonly cwd: string;
    /**
     * Another state backend for every later run: its PULUMI_BACKEND_URL and credentials
     * (an S3 bucket, test/helpers/s3-server.ts). The stack the constructor made stays in the file backend.
     */
    backendEnv: Record<string, string> = {};

    /**
     * @param project a Pulumi project directory to copy into the scratch space
     *   (its stack files get written there); defaults to the repo itself.
     */
    constructor(
        readonly stack: string,
        readonly passphrase = "oceanid-dev-only",
        sourceStack: string = stack,
        project?: string,
    ) {
        if (!existsSync(join(TOOLS_BIN, "pulumi"))) {
            throw new Error("the Pulumi CLI is not in .tools/bin: run `npm run setup` first");
        }
        mkdirSync(this.backend);
        if (project === undefined) {
            this.cwd = ROOT;
            this.configFile = join(this.dir, `Pulumi.${stack}.yaml`);
            cpSync(join(ROOT, `Pulumi.${sourceStack}.yaml`), this.configFile);
        } else {
            this.cwd = join(this.dir, "project");
            cpSync(project, this.cwd, { recursive: true });
            symlinkSync(join(ROOT, "node_modules"), join(this.cwd, "node_modules"));
            this.configFile = join(this.cwd, `Pulumi.${stack}.yaml`);
            if (!existsSync(this.configFile)) writeFileSync(this.configFile, "config: {}\n");
        }
        const init = this.pulumi(["stack", "init", stack, "--secrets-provider", "passphrase"]);
        if (init.code !== 0) throw new Error(`stack init failed: ${init.output}`);
    }

    /** Edits the copied stack file through `yaml`'s document API (comments and secure values kept). */
    editConfig(path: ReadonlyArray<string | number>, value: unknown): void {
        const doc = parseDocument(readFileSync(this.configFile, "utf8"));
        doc.setIn(["config", ...path], value);
        writeFileSync(this.configFile, doc.toString());
    }

    /** The environment every pulumi run of this workspace gets: the project's tools, its backend, offline. */
    env(extraEnv: Record<string, string> = {}): NodeJS.ProcessEnv {
        return {
            ...process.env,
            PATH: `${TOOLS_BIN}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`,
            PULUMI_HOME: join(ROOT, ".tools", "pulumi-home"),
            PULUMI_BACKEND_URL: `file://${this.backend}`,
            PULUMI_CONFIG_PASSPHRASE: this.passphrase,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
            // Programs are transpiled, not type-checked (`npm run typecheck` does that, once): type-checking
            // a program that imports @pulumi/kubernetes takes seconds per run. Node keeps compiled modules
            // in the workspace for the next run.
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            NODE_COMPILE_CACHE: join(this.dir, "node-compile-cache"),
            ...this.backendEnv,
            ...extraEnv,
        };
    }

    /** Runs the project's pulumi with this workspace's backend, offline. */
    pulumi(args: string[], extraEnv: Record<string, string> = {}): CliResult {
        const runsProgram = ["preview", "up", "destroy", "refresh"].includes(args[0]);
        const withConfig = runsProgram ? [...args, "--stack", this.stack, "--config-file", this.configFile] : args;
        const r = spawnSync(join(TOOLS_BIN, "pulumi"), [...withConfig, "--non-interactive", "--color", "never"], {
            cwd: this.cwd,
            encoding: "utf8",
            env: this.env(extraEnv),
            // The engine's output for a large program is more than spawnSync's 1 MB default.
            maxBuffer: 64 << 20,
            timeout: 600_000,
        });
        const stdout = r.stdout ?? "";
        const stderr = r.stderr ?? "";
        return { code: r.status ?? -1, stdout, stderr, output: stdout + stderr };
    }
}

/** A scratch copy of the dev stack that renders its manifests into the workspace (`<dir>/rendered`). */
export function renderingDevWorkspace(): Workspace {
    const ws = new Workspace("dev");
    ws.editConfig(["oceanid:kubernetes", "renderDir"], join(ws.dir, "rendered"));
    return ws;
}
