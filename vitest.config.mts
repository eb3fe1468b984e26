import { readdirSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// Files that need root, network namespaces or the built toolchain say so with
// describeNeeding (test/helpers/needs.ts): they form the "system" project, and
// every other file is "unit" (`npm run test:unit`: no setup but npm ci).
const files = readdirSync("test", { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `test/${f}`)
    .sort();
const system = files.filter((f) => /=\s*describeNeeding\(/.test(readFileSync(f, "utf8")));
const unit = files.filter((f) => !system.includes(f));
// Program tests replace Pulumi's runtime with mocks, global to a module registry: each file gets
// its own (isolate). The other unit files are pure and share their workers' registries: loading
// the same modules again for each of them took as long as running them.
const program = unit.filter((f) => /\bsetMocks\(|mock-runtime/.test(readFileSync(f, "utf8")));
const pure = unit.filter((f) => !program.includes(f));
// Files that build network namespaces spend minutes waiting on timers and gates: they start first,
// then the rest of the system project, then the unit files fill the gaps, so no long file starts last.
const netns = system.filter((f) => /describeNeeding\(\[[^\]]*"netns"/.test(readFileSync(f, "utf8")));
const rank = (f: string) => (netns.includes(f) ? 0 : system.includes(f) ? 1 : 2);

class SlowFirst extends BaseSequencer {
    async sort(specs: TestSpecification[]): Promise<TestSpecification[]> {
        const sorted = await super.sort(specs);
        return sorted.sort((a, b) => rank(relative(process.cwd(), a.moduleId)) - rank(relative(process.cwd(), b.moduleId)));
    }
}

export default defineConfig({
    test: {
        // End-to-end tests drive the real Pulumi CLI, a few seconds per run.
        testTimeout: 120_000,
        hookTimeout: 120_000,
        // One module registry per file, but in the unit project (below).
        isolate: true,
        pool: "forks",
        // Each lab has its own subnet and namespaces, so its files run side by side.
        // Three files at a time on two cores (vitest alone would run one). Measured: the test phase took
        // 565 s with two workers and 579 s with three (files slow down under contention), so the
        // suite is CPU-bound at either; three is what the last full runs passed with.
        maxWorkers: 3,
        sequence: { sequencer: SlowFirst },
        projects: [
            { extends: true, test: { name: "unit", include: pure, isolate: false } },
            { extends: true, test: { name: "program", include: program } },
            { extends: true, test: { name: "system", include: system } },
        ],
    },
});
