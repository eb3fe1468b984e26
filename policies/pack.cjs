// The policy pack's entry point (package.json "main"): the pack compiled into dist/ by
// `npm run build`. The Node.js language host then runs JavaScript, instead of ts-node type-checking
// every source file each time a preview loads the pack.
"use strict";
const { buildProblem } = require("./cli/compiled.cjs");

const problem = buildProblem();
if (problem !== undefined) {
    // Pulumi prints a RunError as its message alone, without a stack trace.
    const { RunError } = require("@pulumi/pulumi/errors");
    throw new RunError(`oceanid-guardrails: ${problem}: run 'npm run build'`);
}
require("../dist/policies/index.js");
