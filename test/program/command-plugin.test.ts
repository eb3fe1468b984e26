// A stack with node access, on a machine without the command provider plugin:
// the program stops with one line saying how to install it.
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commandPluginProblem } from "../../components/platform/command-plugin";
import { runProgram } from "../helpers/mock-runtime";
import { withNodeAccess } from "../helpers/ssh-stack";

const MESSAGE =
    'nodeAccess "ssh" runs node changes with the command provider plugin 1.2.1, which is not installed: ' +
    "run 'pulumi plugin install resource command 1.2.1' (stacks with nodeAccess \"none\", like dev, do not need it)";

describe("the command provider plugin", () => {
    it("is looked for in PULUMI_HOME's plugins, and on PATH unless ambient plugins are ignored", () => {
        const has = (paths: string[]) => (p: string) => paths.includes(p);
        expect(commandPluginProblem({ PULUMI_HOME: "/h" }, has(["/h/plugins/resource-command-v1.2.1"]))).toBeUndefined();
        expect(commandPluginProblem({ PULUMI_HOME: "/h" }, has([]))).toBe(MESSAGE);
        expect(commandPluginProblem({ PULUMI_HOME: "/h", PATH: "/a:/b" }, has(["/b/pulumi-resource-command"]))).toBeUndefined();
        expect(commandPluginProblem({ PULUMI_HOME: "/h", PATH: "/b", PULUMI_IGNORE_AMBIENT_PLUGINS: "true" }, has(["/b/pulumi-resource-command"]))).toBe(
            MESSAGE,
        );
    });

    it("missing, stops a stack with nodeAccess ssh with a RunError (no stack trace) before any node command", async () => {
        process.env.PULUMI_HOME = mkdtempSync(join(tmpdir(), "oceanid-no-plugins-"));
        process.env.PULUMI_IGNORE_AMBIENT_PLUGINS = "true";
        const run = runProgram("dev", withNodeAccess);
        await expect(run).rejects.toBeInstanceOf(pulumi.RunError);
        await expect(run).rejects.toThrow(MESSAGE);
    });
});
