// The CLIs on a Node.js older than package.json's "engines": one line naming the need, exit 2,
// before any dependency can fail with a stack trace. Run with the machine's own Node.js 20
// (/usr/bin/node), which is what a newcomer's `npx oceanid-health` picks up before setup.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "./helpers/stack-file";
import { describeNeeding } from "./helpers/needs";

const suite = describeNeeding(["/usr/bin/node"]);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { nodeProblem } = require("../policies/cli/compiled.cjs") as { nodeProblem(version: string): string | undefined };

const need = (tool: string, version: string) =>
    `${tool}: needs Node.js 22 or newer (package.json engines ">=22"), and this is Node.js ${version}: ` +
    `run it with the project's (npm run setup puts one in .tools/bin), e.g. bash scripts/with-tools npx ${tool} ...\n`;

suite("the CLIs on an old Node.js", () => {
    it("reads the need from package.json's engines: 21 is refused, 22 and later are not", () => {
        expect(nodeProblem("21.7.3")).toBe(
            need("<tool>", "21.7.3")
                .replace(/^<tool>: /, "")
                .replace(/\n$/, ""),
        );
        expect(nodeProblem("22.0.0")).toBeUndefined();
        expect(nodeProblem("24.9.0")).toBeUndefined();
    });

    it("oceanid-guard, oceanid-health and the gate say so in one line and exit 2, with the machine's Node.js 20", () => {
        const version = spawnSync("/usr/bin/node", ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
        // This machine kind's own Node.js is 20: the case the test is about. A newer one cannot show it.
        expect(Number(version.split(".")[0]), `/usr/bin/node is ${version}`).toBeLessThan(22);
        for (const [tool, args] of [
            ["oceanid-guard", [join(ROOT, "policies", "cli", "oceanid-guard.cjs"), "--help"]],
            ["oceanid-health", [join(ROOT, "components", "health", "oceanid-health.cjs"), "--help"]],
            ["oceanid-health", [join(ROOT, "components", "health", "oceanid-health.cjs"), "gate", "--node", "x"]],
        ] as const) {
            const r = spawnSync("/usr/bin/node", [...args], { encoding: "utf8" });
            expect({ code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 2, stdout: "", stderr: need(tool, version) });
        }
    });
});
