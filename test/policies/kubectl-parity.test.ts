// What oceanid-guard reads from a file must be what kubectl sends: kube-read
// (scripts/toolchain/kube-read, k8s.io/cli-runtime's resource builder at the
// cluster's Kubernetes version, built by setup) prints kubectl's objects and
// errors, and every file here must give the guard the same objects, field for
// field, or an error where kubectl has one (kubectl-harness.ts).
// policies/cli/kubectl/ holds what the guard does differently from the
// `yaml` package's defaults.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "../helpers/stack-file";
import { compare, DELIBERATE_REFUSALS, describe as show, guardReads, kubectlReads } from "./kubectl-harness";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["kube-read"]);

const PARITY = join(ROOT, "test", "fixtures", "kubectl-parity");

/** The manifest files under `dir`, recursively, in order. */
function manifests(dir: string): string[] {
    return readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort()
        .map((f) => join(dir, f))
        .filter((f) => statSync(f).isFile());
}

function expectSameReading(files: string[]): void {
    expect(files.length).toBeGreaterThan(0);
    const disagreements = compare(files);
    expect(disagreements.map(show)).toEqual([]);
}

suite("oceanid-guard reads what kubectl sends", () => {
    const fixtures = manifests(PARITY).filter((f) => !f.includes("/deliberate/"));

    it("the parity fixtures: scalars, tags, merge keys, line ends, document ends, JSON streams, lists, metadata, keys", () => {
        expectSameReading(fixtures);
    });

    it("refuses every file in refused/, as kubectl does", () => {
        const refused = fixtures.filter((f) => f.includes("/refused/"));
        expect(refused.length).toBeGreaterThan(40);
        const kubectl = kubectlReads(refused);
        for (const file of refused) {
            expect(kubectl.errors.get(file), `kubectl reads ${file}`).toBeDefined();
            expect(guardReads(file).errors, `the guard reads ${file}`).not.toEqual([]);
        }
    });

    it("refuses on purpose what kubectl reads differently from every other YAML reader, and says why", () => {
        const deliberate = manifests(join(PARITY, "deliberate"));
        expect(deliberate.length).toBe(3);
        const kubectl = kubectlReads(deliberate);
        for (const file of deliberate) {
            expect(kubectl.errors.get(file), file).toBeUndefined();
            expect(kubectl.objects.get(file)?.length, file).toBe(1);
            const { objects, errors } = guardReads(file);
            expect(objects).toEqual([]);
            expect(errors.length).toBe(1);
            expect(
                DELIBERATE_REFUSALS.some((re) => re.test(errors[0])),
                errors[0],
            ).toBe(true);
        }
    });

    it("every disagreement the fuzzer ever found (found/)", () => {
        const found = manifests(join(PARITY, "found"));
        expect(found.length).toBeGreaterThan(0);
        expectSameReading(found);
    });

    it("every rule fixture and the incident's manifest", () => {
        expectSameReading([...manifests(join(ROOT, "policies", "rules")), ...manifests(join(ROOT, "test", "fixtures", "incident"))]);
    });

    const dir = mkdtempSync(join(tmpdir(), "oceanid-parity-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("generated spellings of the incident's switches (booleans, merge keys, anchors, key order)", () => {
        const bools = [
            "true",
            "True",
            "TRUE",
            "yes",
            "Yes",
            "YES",
            "y",
            "Y",
            "on",
            "On",
            "ON",
            "false",
            "no",
            "n",
            "off",
            "OFF",
            '"true"',
            "!!bool yes",
            "!!str on",
        ];
        const spelling = fc.record({
            field: fc.constantFrom("hostNetwork", "hostPID", "hostIPC"),
            value: fc.constantFrom(...bools),
            other: fc.constantFrom(...bools),
            form: fc.constantFrom("plain", "merge-before", "merge-after", "anchor", "repeat", "merge-list"),
        });
        const files = fc.sample(fc.array(spelling, { minLength: 1, maxLength: 3 }), { numRuns: 150, seed: 20251013 }).map((fields, i) => {
            const lines = fields.map(({ field: f, value, other, form }) => {
                switch (form) {
                    case "plain":
                        return `${f}: ${value}`;
                    case "merge-before":
                        return `<<: {${f}: ${value}}\n${f}: ${other}`;
                    case "merge-after":
                        return `${f}: ${other}\n<<: {${f}: ${value}}`;
                    case "anchor":
                        return `${f}: &v${i} ${value}`;
                    case "repeat":
                        return `${f}: ${other}\n${f}: ${value}`;
                    case "merge-list":
                        return `<<: [{${f}: ${value}}, {${f}: ${other}}]`;
                }
            });
            const body = lines.join("\n").replace(/^/gm, "      ");
            const text = `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds${i}, namespace: apps}\nspec:\n  template:\n    spec:\n${body}\n      containers: [{name: a, image: b}]\n`;
            const file = join(dir, `g${String(i).padStart(3, "0")}.yaml`);
            writeFileSync(file, text);
            return file;
        });
        expectSameReading(files);
    });
});
