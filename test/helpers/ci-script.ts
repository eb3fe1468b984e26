// Runs a CI script (scripts/ci/) as a workflow step would: with its own scratch
// $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY files, read back after the run.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CliResult } from "./pulumi-cli";
import { ROOT } from "./stack-file";

export interface StepResult extends CliResult {
    /** What the step appended to $GITHUB_STEP_SUMMARY. */
    summary: string;
    /** What it appended to $GITHUB_OUTPUT, line by line. */
    outputs: string[];
}

/** Runs `scripts/ci/<script>` (a `.mjs` through node) from `cwd` (default the repo root). */
export function runStep(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): StepResult {
    const dir = mkdtempSync(join(tmpdir(), "oceanid-step-"));
    const summaryFile = join(dir, "summary.md");
    const outputFile = join(dir, "output");
    writeFileSync(summaryFile, "");
    writeFileSync(outputFile, "");
    const path = join(ROOT, "scripts", "ci", script);
    const [cmd, cmdArgs] = script.endsWith(".mjs") ? [process.execPath, [path, ...args]] : [path, args];
    const r = spawnSync(cmd, cmdArgs, {
        cwd: opts.cwd ?? ROOT,
        encoding: "utf8",
        env: { ...(opts.env ?? process.env), GITHUB_STEP_SUMMARY: summaryFile, GITHUB_OUTPUT: outputFile, GITHUB_ACTIONS: "" },
        maxBuffer: 64 << 20,
        timeout: 600_000,
    });
    const stdout = r.stdout ?? "";
    const stderr = r.stderr ?? "";
    return {
        code: r.status ?? -1,
        stdout,
        stderr,
        output: stdout + stderr,
        summary: readFileSync(summaryFile, "utf8"),
        outputs: readFileSync(outputFile, "utf8")
            .split("\n")
            .filter((l) => l !== ""),
    };
}
