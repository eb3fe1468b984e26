// Child-process entry: runs index.ts under the mock runtime with the command
// executor, then writes what ran to a JSON report. A process of its own per run
// gives every run a fresh Pulumi runtime and module registry.
//   node --import tsx test/helpers/execute-program.ts <spec.json>
import { readFileSync, writeFileSync } from "node:fs";
import { commandExecutor, type ExecutedStep } from "./command-executor";
import { runProgram } from "./mock-runtime";

export interface ExecuteSpec {
    /** Stack file the config comes from (Pulumi.<stack>.yaml). */
    stack: string;
    /** Config keys to set on top of it (`oceanid:nodes`, ...). */
    config: Record<string, unknown>;
    /** Values of the secure keys. */
    secrets: Record<string, string>;
    report: string;
}

export interface ExecuteReport {
    steps: Array<ExecutedStep | { name: string; error: string }>;
    /** The first error that stopped the run, if any. */
    error?: string;
}

async function main() {
    const spec = JSON.parse(readFileSync(process.argv[2], "utf8")) as ExecuteSpec;
    const report: ExecuteReport = { steps: [] };
    const errors: string[] = [];
    // A failed registration rejects the promises of everything waiting on it; the engine reports the first.
    process.on("unhandledRejection", (err) => errors.push(String((err as Error)?.message ?? err)));
    try {
        await runProgram(spec.stack, (config) => Object.assign(config, spec.config), { secrets: spec.secrets, handle: commandExecutor(report.steps) });
    } catch (err) {
        errors.push(String((err as Error)?.message ?? err));
    }
    if (errors.length > 0) report.error = errors[0];
    writeFileSync(spec.report, JSON.stringify(report, null, 2));
}

void main().then(() => process.exit(0));
