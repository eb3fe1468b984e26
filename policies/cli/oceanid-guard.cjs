#!/usr/bin/env node
// oceanid-guard: the guardrail rules for plain Kubernetes YAML (see main.ts), run from the
// JavaScript that `npm run build` compiles into dist/.
"use strict";
const { readFileSync } = require("node:fs");
const { loadCompiled } = require("./compiled.cjs");

// The yaml parser reads process.env.LOG_TOKENS once per token, and a read of Node's live
// environment object is a call into C++: about a quarter of the parse. The guard neither changes
// its environment nor starts processes, so a plain copy of it answers the same, and fast.
process.env = { ...process.env };

const cli = loadCompiled("oceanid-guard", "policies/cli/main.js");
if (cli !== undefined) {
    let code;
    try {
        code = cli.main(process.argv.slice(2), {
            stdout: (t) => process.stdout.write(t),
            stderr: (t) => process.stderr.write(t),
            readStdin: () => readFileSync(0),
            now: () => new Date(),
        });
    } catch (err) {
        process.stderr.write(`oceanid-guard: internal error: ${err && err.message ? err.message : String(err)}\n`);
        code = 2;
    }
    process.exitCode = code;
}
