// What oceanid-guard reads from a file must be what kubectl sends: kube-read
// (scripts/toolchain/kube-read, k8s.io/cli-runtime's resource builder at the
// cluster's Kubernetes version, built by setup) prints kubectl's objects, and
// every file here must give the guard the same objects, field for field.
// A difference is a way around the gate; policies/cli/kubectl-yaml.ts holds
// what the guard does differently from the `yaml` package's defaults.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeManifestBytes } from "../../policies/cli/kubectl-yaml";
import { parseManifests } from "../../policies/cli/read-manifests";
import { TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";

type Json = unknown;

/** Key order does not matter to the API server. */
const canonical = (v: Json): Json =>
    Array.isArray(v)
        ? v.map(canonical)
        : v !== null && typeof v === "object"
          ? Object.fromEntries(
                Object.keys(v)
                    .sort()
                    .map((k) => [k, canonical((v as Record<string, Json>)[k])]),
            )
          : v;

/** kubectl's objects per file, in order, and the files it refuses whole (bad document separators). */
function kubectlReads(dir: string): { objects: Map<string, Json[]>; refused: Set<string> } {
    const r = spawnSync(join(TOOLS_BIN, "kube-read"), ["-dump", dir], { encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.error) throw new Error(`kube-read: ${r.error.message} (run npm run setup)`);
    const objects = new Map<string, Json[]>();
    for (const line of r.stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        const { source, object } = JSON.parse(line) as { source: string; object: Json };
        objects.set(source, [...(objects.get(source) ?? []), canonical(object)]);
    }
    const refused = new Set([...r.stderr.matchAll(/error parsing (\S+): /g)].map((m) => m[1]));
    return { objects, refused };
}

/** The guard's objects for one file, in order, and whether it reports the file (or a document) unreadable: exit 2. */
function guardReads(file: string): { objects: Json[]; unreadable: boolean } {
    const objects: Json[] = [];
    let unreadable = false;
    for (const item of parseManifests(decodeManifestBytes(readFileSync(file)), file)) {
        if ("error" in item) unreadable = true;
        else objects.push(...item.objects.map((o) => canonical(o.body)));
    }
    return { objects, unreadable };
}

function expectSameReading(dir: string): void {
    const kubectl = kubectlReads(dir);
    const files = readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .map((f) => join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
        const guard = guardReads(file);
        // A file kubectl refuses is applied by nobody: the guard must say it cannot read it.
        if (kubectl.refused.has(file)) expect(guard.unreadable, file).toBe(true);
        else expect(guard.objects, file).toEqual(kubectl.objects.get(file) ?? []);
    }
}

describe("oceanid-guard reads what kubectl sends", () => {
    it("YAML 1.1 scalars, merge keys in either order, repeated keys, anchors, JSON streams, Lists, CRLF, byte-order marks, separators", () => {
        expectSameReading(join(ROOT, "test", "fixtures", "kubectl-parity"));
    });

    it("every rule fixture and the incident's manifest", () => {
        expectSameReading(join(ROOT, "policies", "rules"));
        expectSameReading(join(ROOT, "test", "fixtures", "incident"));
    });

    it("generated spellings of the incident's switches (booleans, merge keys, anchors, key order)", () => {
        const bools = ["true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON", "false", "no", "n", "off", "OFF", '"true"'];
        const field = fc.constantFrom("hostNetwork", "hostPID", "hostIPC");
        const spelling = fc.record({
            field,
            value: fc.constantFrom(...bools),
            other: fc.constantFrom(...bools),
            form: fc.constantFrom("plain", "merge-before", "merge-after", "anchor", "repeat", "merge-list"),
        });
        const dir = mkdtempSync(join(tmpdir(), "oceanid-parity-"));
        fc.sample(fc.array(spelling, { minLength: 1, maxLength: 3 }), { numRuns: 150, seed: 20251013 }).forEach((fields, i) => {
            const lines = fields.map(({ field: f, value, other, form }) => {
                switch (form) {
                    case "plain":
                        return `  ${f}: ${value}`;
                    case "merge-before":
                        return `  <<: {${f}: ${value}}\n  ${f}: ${other}`;
                    case "merge-after":
                        return `  ${f}: ${other}\n  <<: {${f}: ${value}}`;
                    case "anchor":
                        return `  ${f}: &v${i} ${value}`;
                    case "repeat":
                        return `  ${f}: ${other}\n  ${f}: ${value}`;
                    case "merge-list":
                        return `  <<: [{${f}: ${value}}, {${f}: ${other}}]`;
                }
            });
            const text = `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds${i}, namespace: apps}\nspec:\n template:\n  spec:\n${lines.map((l) => l.replace(/^ {2}/gm, "   ")).join("\n")}\n   containers: [{name: a, image: b}]\n`;
            writeFileSync(join(dir, `g${String(i).padStart(3, "0")}.yaml`), text);
        });
        expectSameReading(dir);
    });
});
