import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // End-to-end tests drive the real Pulumi CLI, a few seconds per run.
        testTimeout: 120_000,
        hookTimeout: 120_000,
        // Program tests replace Pulumi's runtime with mocks: one module registry per file.
        isolate: true,
        pool: "forks",
        // Two files at a time even on two cores (vitest would run one): the node-lab files spend most of
        // their time waiting for timers and gates, and each lab has its own subnet and namespaces.
        maxWorkers: 2,
    },
});
