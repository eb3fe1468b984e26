// The lint rule that keeps Outputs (and secrets in them) out of template literals is wired in.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/stack-file";

describe("eslint", () => {
    it("rejects an Output in a template literal, and accepts pulumi.interpolate", () => {
        const r = spawnSync(join(ROOT, "node_modules", ".bin", "eslint"), ["--no-ignore", "--format", "json", "test/fixtures/lint/output-in-template.ts"], {
            cwd: ROOT,
            encoding: "utf8",
        });
        expect(r.status).toBe(1);
        const [file] = JSON.parse(r.stdout) as { messages: { ruleId: string; line: number }[] }[];
        expect(file.messages.map((m) => [m.ruleId, m.line])).toEqual([["@pulumi/no-output-in-template-literal", 6]]);
    });
});
