// npm run build: the JavaScript that oceanid-guard, oceanid-health and the policy pack run,
// compiled from the TypeScript sources into dist/ by esbuild (no type check here: that is
// `npm run typecheck`). The guard is one bundle with its libraries inside: a process that loads
// one file instead of a few hundred modules starts in half the time, which is what a pre-commit
// hook pays on every commit. The pack and oceanid-health keep their libraries external: the pack
// must share @pulumi/policy with Pulumi's policy runner, and neither starts per file checked.
//
// dist/.built lists every source a build read; policies/cli/compiled.cjs refuses to run a build
// older than any of them. It is written last, so a failed build leaves no stamp.
//
// A build that is current is left alone (`--force` rebuilds anyway): rebuilding removes the stamp
// first, and a launcher started meanwhile (a test, a hook) would find no build.
import { build } from "esbuild";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const STAMP = join(DIST, ".built");

const { buildProblem } = createRequire(import.meta.url)("../policies/cli/compiled.cjs");
if (!process.argv.includes("--force") && buildProblem(ROOT) === undefined) process.exit(0);

const ENTRIES = [
    { entry: "policies/cli/main.ts", bundleLibraries: true },
    { entry: "components/health/cli.ts", bundleLibraries: false },
    { entry: "policies/index.ts", bundleLibraries: false },
    // oceanid-health as one file with its libraries, for the monitoring host (components/monitoring):
    // it runs there with nothing but Node.js. ssh2's optional native addons stay out (it falls back
    // to its JavaScript crypto); jsonc-parser's UMD build requires its parts at run time, its ESM
    // build does not.
    {
        entry: "components/health/cli.ts",
        outfile: "oceanid-health.bundle.cjs",
        bundleLibraries: true,
        extra: { external: ["*.node", "cpu-features"], mainFields: ["module", "main"], minify: true, footer: { js: "module.exports.runProcess();" } },
    },
];

rmSync(STAMP, { force: true });
mkdirSync(DIST, { recursive: true });
const inputs = new Set();
try {
    for (const { entry, bundleLibraries, outfile, extra } of ENTRIES) {
        const result = await build({
            absWorkingDir: ROOT,
            entryPoints: [entry],
            // Same path under dist/ as the source, so __dirname-relative data files resolve.
            outfile: join(DIST, outfile ?? entry.replace(/\.ts$/, ".js")),
            bundle: true,
            packages: bundleLibraries ? "bundle" : "external",
            platform: "node",
            format: "cjs",
            target: "node22",
            metafile: true,
            logLevel: "warning",
            ...extra,
        });
        for (const input of Object.keys(result.metafile.inputs)) if (!input.startsWith("node_modules/")) inputs.add(input);
    }
} catch {
    // esbuild has printed what is wrong, with file and line.
    process.exit(1);
}
writeFileSync(STAMP, `${JSON.stringify({ sources: [...inputs].sort() }, null, 1)}\n`);
