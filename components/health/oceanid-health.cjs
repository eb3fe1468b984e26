#!/usr/bin/env node
// oceanid-health: whether every node of the cluster is healthy, and the gate of each node change
// (see cli.ts), run from the JavaScript that `npm run build` compiles into dist/.
"use strict";
const { readFileSync } = require("node:fs");
const { loadCompiled } = require("../../policies/cli/compiled.cjs");

const cli = loadCompiled("oceanid-health", "components/health/cli.js");
if (cli !== undefined) {
    cli.main(process.argv.slice(2), {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        readStdin: () => readFileSync(0, "utf8"),
        now: () => new Date(),
        env: process.env,
    }).then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            // main never throws for bad input; this is a bug, said in one line without a stack trace.
            process.stderr.write(`oceanid-health: internal error: ${err && err.message ? err.message : String(err)}\n`);
            process.exitCode = 2;
        },
    );
}
