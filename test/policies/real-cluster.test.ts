// Real cluster software, gathered from public repositories with provenance
// (test/fixtures/real-cluster/corpus.yaml: repository, path, commit, what the
// gates must say and why), through every gate: oceanid-guard, the policy pack
// and the admission CEL, with no exemptions; then with the shipped platform
// config, which must let the node software it names pass and nothing else.
// test/cluster/admission-differential.test.ts runs the same files through the real API server.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseManifests } from "../../policies/cli/read-manifests";
import { loadGuardConfig } from "../../policies/engine/guard-config";
import { RULES } from "../../policies/rules";
import type { Obj } from "../fixtures/guard-cases";
import { admissionDenials } from "../helpers/admission";
import { asPulumiResources, guardConfig, packVerdictFor, runCliArgs, writeGuardConfig } from "../helpers/gates";
import { ROOT } from "../helpers/stack-file";
import { CORPUS, corpusText, type CorpusEntry } from "./real-cluster-corpus";

const ADMISSION = new Set(RULES.filter((r) => "expression" in r.admission).map((r) => r.id));
const key = (kind: string, namespace: string | undefined | null, name: string, policy: string) => `${kind} ${namespace ?? "-"}/${name} ${policy}`;

function objectsOf(e: CorpusEntry): Obj[] {
    return [...parseManifests(corpusText(e), e.file)].flatMap((item) => {
        if ("error" in item) throw new Error(`${e.file}: ${item.error.message}`);
        return item.objects.map((o) => o.body as Obj);
    });
}

function guardFindings(e: CorpusEntry, config: string): string[] {
    const run = runCliArgs(["--format", "json", "--config", config, "-"], corpusText(e));
    if (run.code === 2) throw new Error(`${e.file}: oceanid-guard exit 2: ${run.stderr}`);
    const out = JSON.parse(run.stdout) as { violations: { kind: string; namespace?: string; name: string; policy: string }[] };
    return [...new Set(out.violations.map((v) => key(v.kind, v.namespace, v.name, v.policy)))].sort();
}

function packFindings(e: CorpusEntry, config = guardConfig()): string[] {
    const out: string[] = [];
    for (const o of objectsOf(e)) {
        const v = packVerdictFor(asPulumiResources(o), config);
        const meta = (o.metadata ?? {}) as Obj;
        for (const p of [...v.mandatory, ...v.advisory]) out.push(key(o.kind, meta.namespace, meta.name, p));
    }
    return [...new Set(out)].sort();
}

function admissionFindings(e: CorpusEntry, config: Obj = {}): string[] {
    const out: string[] = [];
    for (const o of objectsOf(e)) {
        const meta = (o.metadata ?? {}) as Obj;
        for (const p of admissionDenials([o], [], { config }).denied) out.push(key(o.kind, meta.namespace, meta.name, p));
    }
    return [...new Set(out)].sort();
}

/** Expected findings as the gates' keys, sorted and once each (`only`: the rules one gate has). */
const keysOf = (expected: CorpusEntry["expected"], only?: (p: string) => boolean) =>
    [...new Set(expected.filter((x) => !only || only(x.policy)).map((x) => key(x.kind, x.namespace, x.name, x.policy)))].sort();
const expectedOf = (e: CorpusEntry, only?: (p: string) => boolean) => keysOf(e.expected, only);

describe("real cluster software through every gate, no exemptions", () => {
    const none = writeGuardConfig([]);
    describe.each(CORPUS)("$file ($repository)", (e) => {
        it(`oceanid-guard: ${e.expected.length} finding(s)`, () => {
            expect(guardFindings(e, none)).toEqual(expectedOf(e));
        });
        it("the policy pack: the same", () => {
            expect(packFindings(e)).toEqual(expectedOf(e));
        });
        it("admission CEL: the same mandatory findings", () => {
            expect(admissionFindings(e)).toEqual(expectedOf(e, (p) => ADMISSION.has(p)));
        });
    });
});

describe("with the shipped platform config (policies/guard-config.yaml)", () => {
    const file = join(ROOT, "policies", "guard-config.yaml");
    const shipped = loadGuardConfig(
        file,
        RULES.map((r) => r.id),
    );
    const named = (e: CorpusEntry) =>
        e.expected.filter((x) => shipped.exemptions.some((s) => s.kind === x.kind && s.name === x.name && (s.namespace ?? null) === (x.namespace ?? null)));

    it("the node exporter and the NVIDIA device plugin pass every gate; everything else keeps its verdict", () => {
        const passing: string[] = [];
        // Admission gets the platform config as the API server does: compiled from the file's entries.
        const raw = parse(readFileSync(file, "utf8")) as Obj;
        const platform = { exemptions: raw.exemptions, provisionedVolumes: raw.provisionedVolumes };
        for (const e of CORPUS) {
            const exempt = named(e);
            const left = e.expected.filter((x) => !exempt.includes(x));
            if (exempt.length > 0) passing.push(e.file);
            expect(guardFindings(e, file), e.file).toEqual(keysOf(left));
            expect(packFindings(e, shipped), e.file).toEqual(keysOf(left));
            expect(admissionFindings(e, platform), e.file).toEqual(keysOf(left, (p) => ADMISSION.has(p)));
        }
        expect(passing.sort()).toEqual(["kube-prometheus-node-exporter.yaml", "nvidia-device-plugin.yaml"]);
    });
});
