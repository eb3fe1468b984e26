#!/usr/bin/env node
// oceanid-guard: the guardrail rules for plain Kubernetes YAML (see main.ts).
// tsx runs the TypeScript sources directly, the same files the policy pack uses.
"use strict";
require("tsx/cjs");
const { main } = require("./main.ts");
const { readFileSync } = require("node:fs");

let code;
try {
    code = main(process.argv.slice(2), {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        readStdin: () => readFileSync(0, "utf8"),
        now: () => new Date(),
    });
} catch (err) {
    process.stderr.write(`oceanid-guard: internal error: ${err && err.message ? err.message : String(err)}\n`);
    code = 2;
}
process.exitCode = code;
