import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecuteReport, ExecuteSpec } from "./execute-program";
import { ROOT } from "./stack-file";

/**
 * Runs the program with the command executor in a fresh process (see
 * execute-program.ts) and resolves with what ran; the test's own event loop
 * stays free to inject faults meanwhile. `env` adds to the child's environment
 * (PULUMI_HOME with the plugin marker, PATH with the toolchain).
 */
export function executeProgram(
    spec: Omit<ExecuteSpec, "report">,
    env: NodeJS.ProcessEnv = {},
): Promise<ExecuteReport & { output: string }> & { ended(step: string): boolean; kill(): void } {
    const dir = mkdtempSync(join(tmpdir(), "oceanid-exec-"));
    const full: ExecuteSpec = { ...spec, report: join(dir, "report.json"), events: join(dir, "events") };
    writeFileSync(full.events!, "");
    writeFileSync(join(dir, "spec.json"), JSON.stringify(full), { mode: 0o600 });
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "test", "helpers", "execute-program.ts"), join(dir, "spec.json")], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 600_000,
        // A group of its own, so a kill takes the local commands it runs (a gate) with it.
        detached: true,
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const ended = new Set<string>();
    const result = new Promise<ExecuteReport & { output: string }>((resolve, reject) => {
        child.on("close", (code) => {
            try {
                const report = JSON.parse(readFileSync(full.report, "utf8")) as ExecuteReport;
                resolve({ ...report, output });
            } catch {
                if (child.signalCode !== null) resolve({ steps: [], error: "killed", output });
                else reject(new Error(`the executor wrote no report (exit ${code}):\n${output}`));
            } finally {
                // The spec holds the test secrets.
                rmSync(dir, { recursive: true, force: true });
            }
        });
    });
    /** Whether the step has ended (read from the child's event file while it runs). */
    const stepEnded = (step: string) => {
        if (!ended.has(step)) {
            try {
                for (const name of readFileSync(full.events!, "utf8").split("\n")) if (name) ended.add(name);
            } catch {
                // The run is over and its directory gone: only what was seen counts.
            }
        }
        return ended.has(step);
    };
    // SIGKILL, like a `pulumi up` killed mid-run: the report is whatever the steps recorded.
    const kill = () => {
        try {
            process.kill(-child.pid!, "SIGKILL");
        } catch {
            /* ended already */
        }
    };
    return Object.assign(result, { ended: stepEnded, kill });
}
