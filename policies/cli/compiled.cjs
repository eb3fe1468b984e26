// The launchers (oceanid-guard, oceanid-health, the policy pack) run the JavaScript that
// `npm run build` compiles from the TypeScript sources into dist/, never the sources through a
// runtime TypeScript loader: loading one costs more than checking a small file. Running a build
// older than the sources would enforce rules nobody reviewed, so a missing or stale build is an
// error that says what to run.
"use strict";
const { readFileSync, statSync } = require("node:fs");
const { join } = require("node:path");

const ROOT = join(__dirname, "..", "..");
/** Written by `npm run build` (scripts/build.mjs) when a build succeeds: the sources it read. */
const STAMP = ".built";

/**
 * Why the build in `<root>/dist` cannot be run, or undefined when it is complete and no source it
 * was built from (listed in dist/.built by scripts/build.mjs) changed since. One stat per source
 * (about 40): well under a millisecond.
 */
function buildProblem(root = ROOT) {
    const stamp = join(root, "dist", STAMP);
    let built;
    let sources;
    try {
        built = statSync(stamp).mtimeMs;
        sources = JSON.parse(readFileSync(stamp, "utf8")).sources;
    } catch {
        return "no compiled build in dist/";
    }
    for (const source of sources) {
        // A source deleted since has no stat: whatever imported it changed too.
        const stat = statSync(join(root, source), { throwIfNoEntry: false });
        if (stat !== undefined && stat.mtimeMs > built) return `the build in dist/ is older than ${source}`;
    }
    return undefined;
}

/**
 * Why this Node.js cannot run the tools, or undefined: the compiled code and its dependencies need
 * the major release package.json's "engines" names (">=22"); an older one fails deep inside a
 * dependency with a stack trace, so it is refused up front. Plain ES5-level code: it must parse
 * and run on any Node.js.
 */
function nodeProblem(version = process.versions.node, root = ROOT) {
    // A copy of the tools without package.json still needs the same release.
    var engines = ">=22";
    try {
        engines = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines.node;
    } catch (e) {
        // keep the default
    }
    var need = Number(/^>=\s*(\d+)/.exec(engines)[1]);
    if (Number(version.split(".")[0]) >= need) return undefined;
    return (
        "needs Node.js " +
        need +
        " or newer (package.json engines " +
        JSON.stringify(engines) +
        "), and this is Node.js " +
        version +
        ": run it with the project's (npm run setup puts one in .tools/bin), e.g. bash scripts/with-tools npx <tool> ..."
    );
}

/**
 * Loads `<root>/dist/<modulePath>` when this Node.js is new enough and the build is current;
 * otherwise says why on one line, sets exit code 2 and returns undefined.
 */
function loadCompiled(tool, modulePath, root = ROOT) {
    const problem = nodeProblem(process.versions.node, root)?.replace("<tool>", tool) ?? buildProblem(root);
    if (problem !== undefined) {
        process.stderr.write(problem.startsWith("needs Node.js") ? `${tool}: ${problem}\n` : `${tool}: ${problem}: run 'npm run build'\n`);
        process.exitCode = 2;
        return undefined;
    }
    // V8's compiled code for every module loaded from here on (yaml, zod, the rules) is cached on
    // disk (os.tmpdir()/node-compile-cache, keyed by content), so later runs skip compiling them.
    require("node:module").enableCompileCache?.();
    return require(join(root, "dist", modulePath));
}

module.exports = { buildProblem, loadCompiled, nodeProblem, ROOT };

// `node policies/cli/compiled.cjs`: exit 0 when dist/ is current, else 1 with the reason (scripts/setup).
if (require.main === module) {
    const problem = buildProblem();
    process.stdout.write(`${problem ?? "dist/ is current"}\n`);
    process.exitCode = problem === undefined ? 0 : 1;
}
