// Child-process entry: runs index.ts under the mock runtime with the command
// executor, then writes what ran to a JSON report. A process of its own per run
// gives every run a fresh Pulumi runtime and module registry.
//   node --import tsx test/helpers/execute-program.ts <spec.json>
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { commandExecutor, withKubernetes, type EngineState, type ExecutedStep } from "./command-executor";
import { runProgram } from "./mock-runtime";

export interface ExecuteSpec {
    /** Stack file the config comes from (Pulumi.<stack>.yaml). */
    stack: string;
    /** Config keys to set on top of it (`oceanid:nodes`, ...). */
    config: Record<string, unknown>;
    /** Values of the secure keys. */
    secrets: Record<string, string>;
    report: string;
    /** A file the name of each step is appended to as it ends, for tests that act between steps. */
    events?: string;
    /** The engine's state between runs (a JSON file, created when missing): steps that succeeded are kept. */
    state?: string;
    /** Steps to replace whatever their inputs, as `pulumi up --replace <urn>` does. */
    replace?: string[];
    /** Stop after this step, as Ctrl-C does: nothing after it starts (needs `state`). */
    interruptAfter?: string;
    /** Absolute path of the program to run instead of index.ts (a test's own). */
    program?: string;
    /**
     * Kubernetes resources whose names match `names` (a regex) are applied for real with kubectl to
     * the cluster this kubeconfig (a file) reaches, their live objects handed back as the provider
     * would; every other Kubernetes resource stays mocked.
     */
    kubernetes?: { kubeconfig: string; names: string };
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
    const statePath = spec.state;
    const engine =
        statePath === undefined
            ? undefined
            : {
                  state: (existsSync(statePath) ? JSON.parse(readFileSync(statePath, "utf8")) : { resources: {} }) as EngineState,
                  replace: spec.replace,
                  interruptAfter: spec.interruptAfter,
                  // Like the engine's checkpoint: written after every step, so a killed run keeps what it did.
                  onKept: () => {
                      writeFileSync(`${statePath}.new`, JSON.stringify(engine!.state, null, 2), { mode: 0o600 });
                      renameSync(`${statePath}.new`, statePath);
                  },
              };
    try {
        await runProgram(spec.stack, (config) => Object.assign(config, spec.config), {
            secrets: spec.secrets,
            handle: withKubernetes(
                spec.kubernetes,
                commandExecutor(report.steps, (name) => spec.events && appendFileSync(spec.events, `${name}\n`), engine),
            ),
            ...(spec.program === undefined ? {} : { program: spec.program }),
        });
    } catch (err) {
        errors.push(String((err as Error)?.message ?? err));
    }
    // Like the engine's summary: the step that stopped the run, else any other error.
    const failed = report.steps.find((s) => "error" in s || s.code !== 0);
    if (failed !== undefined) report.error = "error" in failed ? `${failed.name}: ${failed.error}` : `${failed.name}: exit ${failed.code}`;
    else if (errors.length > 0) report.error = errors[0];
    writeFileSync(spec.report, JSON.stringify(report, null, 2));
}

void main().then(() => process.exit(0));
