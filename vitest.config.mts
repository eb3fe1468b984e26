import { readdirSync, readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

// Files that need root, network namespaces or the built toolchain say so with
// describeNeeding (test/helpers/needs.ts): they form the "system" project, and
// every other file is "unit" (`npm run test:unit`, seconds, no setup but npm ci).
const files = readdirSync("test", { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `test/${f}`)
    .sort();
const system = files.filter((f) => /=\s*describeNeeding\(/.test(readFileSync(f, "utf8")));
const unit = files.filter((f) => !system.includes(f));

export default defineConfig({
    test: {
        // End-to-end tests drive the real Pulumi CLI, a few seconds per run.
        testTimeout: 120_000,
        hookTimeout: 120_000,
        // Program tests replace Pulumi's runtime with mocks: one module registry per file.
        isolate: true,
        pool: "forks",
        // Two files at a time even on two cores (vitest would run one): the node-lab files spend most of
        // their time waiting for timers and gates, and each lab has its own subnet and namespaces.
        maxWorkers: 2,
        projects: [
            { extends: true, test: { name: "unit", include: unit } },
            { extends: true, test: { name: "system", include: system } },
        ],
    },
});
