// Each rule's own fixtures (policies/rules/<id>/fixtures/) through every gate:
// the oceanid-guard process, the pack as the analyzer calls it, and the
// admission CEL. A compliant file passes all rules; a broken file breaks its
// folder's rule and no other, and says what the message must contain
// (`# expect: …`). Files are read by the guard's reader, which reads what
// kubectl sends (test/policies/kubectl-parity.test.ts): what the API server receives.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parseManifests } from "../../policies/cli/read-manifests";
import { RULES } from "../../policies/rules";
import type { Obj } from "../fixtures/guard-cases";
import { admissionDenials } from "../helpers/admission";
import { asPulumiResources, guardConfig, packVerdictFor } from "../helpers/gates";
import { ROOT } from "../helpers/stack-file";

const RULES_DIR = join(ROOT, "policies", "rules");
const ruleFolders = readdirSync(RULES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

interface Fixture {
    rule: string;
    file: string;
    broken: boolean;
    expect: string[];
    /** Other rules the file breaks by design (`# also: <rule> (why)`): a directory above both rules' paths. */
    also: string[];
    objects: Obj[];
}

const fixtures: Fixture[] = ruleFolders.flatMap((rule) =>
    readdirSync(join(RULES_DIR, rule, "fixtures"))
        .sort()
        .map((name) => {
            const file = join(RULES_DIR, rule, "fixtures", name);
            const text = readFileSync(file, "utf8");
            return {
                rule,
                file: relative(ROOT, file),
                broken: name.startsWith("broken-"),
                expect: [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]),
                also: [...text.matchAll(/^# also: (\S+)/gm)].map((m) => m[1]),
                objects: [...parseManifests(text, file)].flatMap((item) => ("objects" in item ? item.objects.map((o) => o.body as Obj) : [])),
            };
        }),
);

/** One oceanid-guard process over every fixture: violations by file. */
function guardRun(): Map<string, { policy: string; message: string }[]> {
    const r = spawnSync(process.execPath, [join(ROOT, "policies", "cli", "oceanid-guard.cjs"), "--format", "json", "policies/rules"], {
        cwd: ROOT,
        encoding: "utf8",
    });
    if (r.status !== 0 && r.status !== 1) throw new Error(`oceanid-guard exited ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { violations: { file: string; policy: string; message: string }[] };
    const byFile = new Map<string, { policy: string; message: string }[]>();
    for (const v of out.violations) byFile.set(v.file, [...(byFile.get(v.file) ?? []), v]);
    return byFile;
}

describe("rule folders", () => {
    it("one folder per rule in RULES, and nothing else", () => {
        expect(ruleFolders).toEqual(RULES.map((r) => r.id).sort());
    });

    it.each(ruleFolders)("%s has a compliant and a broken fixture, and each broken one says what its message contains", (rule) => {
        const own = fixtures.filter((f) => f.rule === rule);
        expect(own.some((f) => !f.broken)).toBe(true);
        expect(own.some((f) => f.broken)).toBe(true);
        for (const f of own.filter((x) => x.broken)) expect(f.expect, f.file).not.toEqual([]);
    });

    it("every mandatory rule has admission CEL; a rule without says why", () => {
        for (const rule of RULES) {
            if (rule.enforcementLevel === "mandatory") expect("expression" in rule.admission, rule.id).toBe(true);
            else if ("none" in rule.admission) expect(rule.admission.none.length).toBeGreaterThan(20);
        }
    });
});

describe("rule fixtures through every gate", () => {
    const guard = guardRun();

    describe.each(fixtures)("$file", (f) => {
        const rule = RULES.find((r) => r.id === f.rule)!;
        const expected = f.broken ? [f.rule, ...f.also].sort() : [];

        it(`oceanid-guard: ${f.broken ? "only its rule" : "no rule"}`, () => {
            const found = guard.get(f.file) ?? [];
            expect([...new Set(found.map((v) => v.policy))].sort()).toEqual(expected);
            for (const text of f.expect) expect(found.map((v) => v.message).join("\n")).toContain(text);
        });

        it(`policy pack: ${f.broken ? "only its rule" : "no rule"}`, () => {
            const v = packVerdictFor(f.objects.flatMap(asPulumiResources), guardConfig());
            expect([...new Set([...v.mandatory, ...v.advisory])].sort()).toEqual(expected);
            for (const text of f.expect) expect(v.messages.join("\n")).toContain(text);
        });

        it(`admission CEL: ${f.broken && "expression" in rule.admission ? "only its rule" : "allowed"}`, () => {
            expect([...new Set(admissionDenials(f.objects).denied)].sort()).toEqual("expression" in rule.admission ? expected : []);
        });
    });
});
