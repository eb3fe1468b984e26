// npm run fuzz:parity -- --runs N [--seed S]: the parity fuzzer's long run
// (kubectl-fuzz.ts). Each disagreement between kubectl's reader and the guard's
// is cut down and written into test/fixtures/kubectl-parity/found/. Exit 1 when
// there was one.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../helpers/stack-file";
import { describe } from "./kubectl-harness";
import { runFuzz, shrink, writeFound } from "./kubectl-fuzz";

const { values } = parseArgs({ options: { runs: { type: "string", default: "2000" }, seed: { type: "string" } } });
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
    process.stderr.write("usage: npm run fuzz:parity -- [--runs N] [--seed S]\n");
    process.exit(2);
}
const started = Date.now();
process.stdout.write(`fuzz:parity: ${runs} cases from seed ${seed}\n`);
const result = runFuzz({ runs, seed });
const work = mkdtempSync(join(tmpdir(), "oceanid-shrink-"));
try {
    for (const d of result.disagreements) {
        const small = shrink(d.case, d.why, work);
        const path = writeFound(small);
        process.stdout.write(`${describe(d)}\n  written (cut down) as ${relative(ROOT, path)}\n`);
    }
} finally {
    rmSync(work, { recursive: true, force: true });
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`fuzz:parity: ${result.cases} cases, ${result.disagreements.length} disagreements, ${seconds} s (seed ${seed})\n`);
process.exitCode = result.disagreements.length > 0 ? 1 : 0;
