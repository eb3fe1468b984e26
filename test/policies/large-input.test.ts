// Large and hostile inputs through the oceanid-guard process: a 9 MB file of
// 150,000 documents and a 50 MB JSON List in a heap of 512 MB (the guard used
// to need 3.5 GB for a 50 MB List), and a YAML List read one item at a time in
// a heap of 128 MB, each ending with its one violation. The figures (peak
// memory and time for the 50 MB YAML List too, against kubectl's reader) are
// bench/run.mjs's "large" section.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAST_NAME, writeBigList, writeManyDocuments } from "../../bench/large-inputs.mjs";
import { ROOT } from "../helpers/stack-file";

interface Report {
    summary: { objects: number; mandatory: number; errors: number };
    violations: { name: string; policy: string; line?: number }[];
}

/** The guard's JSON report for a file, run with a heap of `heapMiB`. */
function guard(file: string, heapMiB: number): Promise<{ code: number | null; report?: Report; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [
            `--max-old-space-size=${heapMiB}`,
            join(ROOT, "policies", "cli", "oceanid-guard.cjs"),
            "--format",
            "json",
            file,
        ]);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stderr, report: stdout ? (JSON.parse(stdout) as Report) : undefined }));
    });
}

describe("large inputs", () => {
    const dir = mkdtempSync(join(tmpdir(), "oceanid-large-"));
    const inputs = {
        many: { file: join(dir, "many-documents.yaml"), made: { bytes: 0, objects: 0 } },
        json: { file: join(dir, "list.json"), made: { bytes: 0, objects: 0 } },
        yaml: { file: join(dir, "list.yaml"), made: { bytes: 0, objects: 0 } },
    };
    let runs: Record<keyof typeof inputs, Awaited<ReturnType<typeof guard>>>;

    beforeAll(async () => {
        inputs.many.made = writeManyDocuments(inputs.many.file, { documents: 150_000 });
        inputs.json.made = writeBigList(inputs.json.file, { bytes: 50_000_000, format: "json" });
        inputs.yaml.made = writeBigList(inputs.yaml.file, { bytes: 5_000_000, format: "yaml" });
        // One process each, side by side: the machine has two cores.
        const [many, json, yaml] = await Promise.all([guard(inputs.many.file, 512), guard(inputs.json.file, 512), guard(inputs.yaml.file, 128)]);
        runs = { many, json, yaml };
    }, 120_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
        ["a 9 MB file of 150,000 documents", "many", 9_000_000, 150_000],
        ["a 50 MB JSON List", "json", 50_000_000, 95_161],
        // Read whole, the `yaml` package's tree of 5 MB of YAML alone would not fit in 128 MB.
        ["a 5 MB YAML List in a heap of 128 MB (read one item at a time)", "yaml", 5_000_000, 6_820],
    ] as const)("%s: every object read, the violation in the last one found, exit 1", (_, key, bytes, objects) => {
        const { made } = inputs[key];
        expect(made.bytes).toBeGreaterThanOrEqual(bytes);
        expect(made.objects).toBe(objects);
        const run = runs[key];
        expect(run.stderr).toBe("");
        expect(run.code).toBe(1);
        expect(run.report?.summary).toMatchObject({ objects, mandatory: 1, errors: 0 });
        expect(run.report?.violations.map((v) => [v.name, v.policy])).toEqual([[LAST_NAME, "daemonset-no-host-network"]]);
    });
});
