#!/usr/bin/env node
// oceanid-health: whether every node of the cluster is healthy, and the gate of each node change
// (see cli.ts), run from the JavaScript that `npm run build` compiles into dist/.
"use strict";
const { loadCompiled } = require("../../policies/cli/compiled.cjs");

const cli = loadCompiled("oceanid-health", "components/health/cli.js");
if (cli !== undefined) cli.runProcess();
