// The lint rule that keeps Outputs (and secrets in them) out of template literals is wired in.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
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

describe("layers", () => {
    const importsOf = (dir: string) =>
        readdirSync(join(ROOT, dir), { recursive: true })
            .map(String)
            .filter((f) => f.endsWith(".ts"))
            .flatMap((f) =>
                [...readFileSync(join(ROOT, dir, f), "utf8").matchAll(/^(?:import|export) .* from "([^"]+)";$/gm)].map((m) => `${dir}/${f}: ${m[1]}`),
            );

    it("the program's modules load no @kubernetes/client-node (oceanid-health's client: half the modules of every run)", () => {
        // Everything index.ts imports, loaded the way the language host loads it, without running it.
        const imports = [...readFileSync(join(ROOT, "index.ts"), "utf8").matchAll(/^import .* from "(\.\/[^"]+)";$/gm)].map((m) => m[1]);
        expect(imports).toContain("./components/nodes/cluster-node");
        const script = [
            ...imports.map((i) => `require(${JSON.stringify(join(ROOT, i))});`),
            `const all = Object.keys(require.cache);`,
            `console.log(JSON.stringify({ all: all.length, client: all.filter((k) => k.includes("/@kubernetes/client-node/")).length }));`,
        ].join("\n");
        const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=commonjs", "-e", script], { cwd: ROOT, encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        const loaded = JSON.parse(r.stdout) as { all: number; client: number };
        expect(loaded.all).toBeGreaterThan(100);
        expect(loaded.client).toBe(0);
    });

    it("policies/ imports nothing from components/, and lib/ neither of them", () => {
        expect(importsOf("policies").filter((i) => i.includes("components/"))).toEqual([]);
        expect(importsOf("lib").filter((i) => /components\/|policies\//.test(i))).toEqual([]);
        expect(importsOf("policies").some((i) => i.includes("lib/"))).toBe(true);
    });
});
