// Every fixture file, every case of the shared table and the real cluster software corpus, judged by the real
// API server (the admission policy the program deploys, with kubectl doing the
// YAML decoding) and by the other gates: oceanid-guard, the policy pack and the
// admission CEL under a JS CEL library. Per object and rule they must agree;
// only cases that declare `admissionMandatory` may be refused more by admission,
// and advisory rules have no admission at all.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { parseManifests } from "../../policies/cli/read-manifests";
import { admissionManifests } from "../../policies/engine/admission";
import { RULES } from "../../policies/rules";
import { asHelmOutput, GUARD_CASES, type GuardCase, type Obj } from "../fixtures/guard-cases";
import { admissionDenials } from "../helpers/admission";
import {
    crdsFor,
    inParallel,
    kubectlAsync,
    serverDryRun,
    type PolicyNames,
    type ServerError,
    type ServerObject,
    type ServerRun,
    type Unmapped,
} from "../helpers/cluster-admission";
import { asPulumiResources, guardConfig, NOW, packVerdictFor, runCliArgs, writeGuardConfig } from "../helpers/gates";
import { ROOT } from "../helpers/stack-file";
import { pollUntil, useTestCluster } from "../helpers/test-cluster";
import { CORPUS, corpusText } from "../policies/real-cluster-corpus";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["kube-apiserver", "kube-controller-manager", "etcd", "kubectl", "openssl"]);

const cluster = useTestCluster();

/** Rules the admission policy carries; advisory ones have none. */
const ADMISSION_RULES = RULES.filter((r) => "expression" in r.admission).map((r) => r.id);
const NAMES: PolicyNames = { policy: "oceanid-guardrails", denyBinding: "oceanid-guardrails-binding", warnBinding: "oceanid-guardrails-warn" };

interface GuardViolation {
    policy: string;
    enforcementLevel: string;
    kind: string;
    name: string;
    namespace?: string;
    file?: string;
}

/** One kubectl input: a fixture file, or a case of the table as Helm-style YAML, written to a file so one kubectl run reads many. */
interface Source {
    readonly label: string;
    /** What kubectl reads: the fixture, or the case written out (in beforeAll). */
    file: string;
    /** A case's YAML, which oceanid-guard reads on stdin. */
    readonly stdin?: string;
    /** The objects as oceanid-guard reads them (a list's items one by one). */
    readonly objects: Obj[];
    readonly exemptions: Obj[];
    /** The rules admission must deny over the whole source, where the source declares them. */
    readonly expected?: string[];
    /** Admission refuses more than the guard here, by design. */
    readonly admissionMandatory: boolean;
    guard?: GuardViolation[];
}

const readObjects = (text: string, file: string): Obj[] =>
    [...parseManifests(text, file)].flatMap((item) => {
        if ("error" in item) throw new Error(`${file}: ${item.error.message}`);
        return item.objects.map((o) => o.body as Obj);
    });

const onlyAdmission = (ids: string[]) => [...new Set(ids)].filter((id) => ADMISSION_RULES.includes(id)).sort();

// --- the fixture files --------------------------------------------------------
const RULES_DIR = join(ROOT, "policies", "rules");
const fixtureFiles = [
    ...readdirSync(RULES_DIR, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .flatMap((e) => readdirSync(join(RULES_DIR, e.name, "fixtures")).map((f) => join(RULES_DIR, e.name, "fixtures", f))),
    ...readdirSync(join(ROOT, "test", "fixtures", "incident")).map((f) => join(ROOT, "test", "fixtures", "incident", f)),
]
    .map((f) => relative(ROOT, f))
    .sort();

const fileSources: Source[] = fixtureFiles.map((file) => {
    const name = file.split("/").at(-1)!;
    const folder = /^policies\/rules\/([^/]+)\/fixtures\//.exec(file)?.[1];
    // A rule's broken file breaks only that rule; a compliant one none (the incident declares nothing).
    const also = [...readFileSync(join(ROOT, file), "utf8").matchAll(/^# also: (\S+)/gm)].map((m) => m[1]);
    const expected =
        folder === undefined ? undefined : name.startsWith("broken-") ? onlyAdmission([folder, ...also]) : name.startsWith("compliant") ? [] : undefined;
    return { label: file, file, objects: readObjects(readFileSync(join(ROOT, file), "utf8"), file), exemptions: [], expected, admissionMandatory: false };
});

// --- the case table -------------------------------------------------------------
// Platform exemptions are compiled into the one policy in the cluster: each
// case that brings some gets its objects' names suffixed (and its exemptions'
// with them), so one case's exemption never matches another case's objects.
function renamed(c: GuardCase, suffix: string): { objects: Obj[]; exemptions: Obj[] } {
    if (!c.platformExemptions) return { objects: c.objects, exemptions: [] };
    const rename = (o: Obj): Obj => ({
        ...o,
        ...(o.metadata ? { metadata: { ...o.metadata, name: `${o.metadata.name}${suffix}` } } : {}),
        ...(Array.isArray(o.items) ? { items: o.items.map(rename) } : {}),
    });
    return { objects: c.objects.map(rename), exemptions: c.platformExemptions.map((e) => ({ ...e, name: `${e.name}${suffix}` })) };
}

const caseSources: Source[] = GUARD_CASES.map((c, i) => {
    const { objects, exemptions } = renamed(c, `-c${i}`);
    const stdin = asHelmOutput(objects);
    return {
        label: `case "${c.name}"`,
        file: "",
        stdin,
        objects: readObjects(stdin, "<stdin>"),
        exemptions,
        expected: onlyAdmission(c.admissionMandatory ?? c.mandatory),
        admissionMandatory: c.admissionMandatory !== undefined,
    };
});

// --- real cluster software (test/fixtures/real-cluster) ----------------------------
// The test makes every namespace the objects name before it sends them: the files' own Namespace objects are left out.
const corpusSources: Source[] = CORPUS.map((e) => {
    const stdin = parseAllDocuments(corpusText(e))
        .filter((d) => (d.toJS() as Obj | null)?.kind !== "Namespace")
        .map((d) => d.toString())
        .join("---\n");
    return {
        label: `real-cluster ${e.file} (${e.repository})`,
        file: "",
        stdin,
        objects: readObjects(stdin, e.file),
        exemptions: [],
        expected: onlyAdmission(e.expected.map((x) => x.policy)),
        admissionMandatory: false,
    };
});

const sources = [...fileSources, ...caseSources, ...corpusSources];
const allObjects = sources.flatMap((s) => s.objects);
const platformExemptions = caseSources.flatMap((s) => s.exemptions);

// --- oceanid-guard --------------------------------------------------------------
function guardFiles(): void {
    const r = spawnSync(
        process.execPath,
        [join(ROOT, "policies", "cli", "oceanid-guard.cjs"), "--format", "json", "--config", writeGuardConfig(), ...fixtureFiles],
        { cwd: ROOT, encoding: "utf8" },
    );
    if (r.status !== 0 && r.status !== 1) throw new Error(`oceanid-guard exited ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { violations: GuardViolation[] };
    for (const s of fileSources) s.guard = out.violations.filter((v) => v.file === s.file);
}

function guardCases(): void {
    for (const s of [...caseSources, ...corpusSources]) {
        const run = runCliArgs(["--format", "json", "--config", writeGuardConfig(s.exemptions), "-"], s.stdin);
        if (run.code !== 0 && run.code !== 1) throw new Error(`oceanid-guard exited ${run.code} on ${s.label}: ${run.stderr}`);
        s.guard = (JSON.parse(run.stdout) as { violations: GuardViolation[] }).violations;
    }
}

// --- the cluster ----------------------------------------------------------------
function mustKubectl(args: string[], stdin?: string): string {
    const r = cluster.kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.output}`);
    return r.stdout;
}

const asYaml = (objects: Obj[]) => objects.map((m) => stringify(m, { lineWidth: 0 })).join("---\n");

/** The namespaces the objects name, with Pod Security at privileged so it refuses and warns about nothing. */
function namespaces(): string[] {
    return [...new Set(allObjects.map((o) => o.metadata?.namespace).filter((n): n is string => typeof n === "string"))].sort();
}

function renderPolicy() {
    const config = guardConfig(platformExemptions);
    const { policy, binding } = admissionManifests(NAMES.policy, RULES, { config, excludedNamespaces: config.admissionExcludedNamespaces, now: NOW });
    if (binding.metadata.name !== NAMES.denyBinding) throw new Error(`the binding is named ${binding.metadata.name}`);
    // The deciding binding names only the first failing validation; one that warns names each.
    const warn = { metadata: { name: NAMES.warnBinding }, spec: { ...binding.spec, validationActions: ["Warn"] } };
    const av = { apiVersion: "admissionregistration.k8s.io/v1" };
    return {
        policy,
        manifests: [
            { ...av, kind: "ValidatingAdmissionPolicy", ...policy },
            { ...av, kind: "ValidatingAdmissionPolicyBinding", ...binding },
            { ...av, kind: "ValidatingAdmissionPolicyBinding", ...warn },
        ],
    };
}

async function policyInEffect(): Promise<void> {
    // In effect once both bindings act on a hostNetwork DaemonSet.
    const canary = { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "canary", namespace: namespaces()[0] } };
    const canaryYaml = JSON.stringify({
        ...canary,
        spec: {
            selector: { matchLabels: { app: "canary" } },
            template: { metadata: { labels: { app: "canary" } }, spec: { hostNetwork: true, containers: [{ name: "c", image: "registry.example/c:1" }] } },
        },
    });
    let last = "";
    await pollUntil(
        "the admission policy and both bindings in effect",
        () => {
            last = cluster.kubectl(["apply", "--dry-run=server", "-f", "-"], canaryYaml).output;
            return last.includes(`binding '${NAMES.denyBinding}' denied`) && last.includes(`binding '${NAMES.warnBinding}'`) ? true : undefined;
        },
        30_000,
        () => last,
    );
}

// --- the verdicts ---------------------------------------------------------------
interface Judged {
    source: Source;
    /** Server objects paired with the guard reader's, in kubectl's order, with the error kubectl printed for it. */
    pairs: { object: Obj; server: ServerObject; error?: ServerError }[];
    /** Reader objects kubectl did not send, with kubectl's reason. */
    unserved: { object: Obj; unmapped: Unmapped }[];
    problems: string[];
}

const objectLabel = (o: Obj) => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}`;

/** Splits one kubectl run over `chunk` back into its sources. */
function pairChunk(chunk: Source[], run: ServerRun): { judged: Judged[]; problems: string[] } {
    const problems = run.unexplained.map((l) => `kubectl printed: ${l}`);
    const judged: Judged[] = chunk.map((source) => ({ source, pairs: [], unserved: [], problems: [] }));
    const sent: { j: Judged; object: Obj }[] = [];
    const usedUnmapped = new Set<Unmapped>();
    for (const j of judged) {
        const mine = run.unmapped.filter((u) => u.file === j.source.file);
        // A document kubectl cannot map whose kind the guard never reads: kubectl sends none of the items the guard reads in it.
        const container = mine.find((u) => !j.source.objects.some((o) => o.kind === u.kind));
        for (const object of j.source.objects) {
            const u = container ?? mine.find((x) => x.name === object.metadata?.name && x.kind === object.kind && x.apiVersion === object.apiVersion);
            if (u) {
                usedUnmapped.add(u);
                j.unserved.push({ object, unmapped: u });
            } else sent.push({ j, object });
        }
    }
    for (const u of run.unmapped) if (!usedUnmapped.has(u)) problems.push(`kubectl could not map an object the guard does not read: ${u.line}`);
    if (sent.length !== run.objects.length) {
        const names = new Set(run.objects.map((o) => `${o.namespace ?? ""}/${o.name}`));
        const missing = sent
            .filter(
                ({ object }) =>
                    !names.has(
                        `${object.metadata?.namespace ?? (object.kind === "Namespace" || object.kind.startsWith("Cluster") || object.kind === "PersistentVolume" ? "" : "default")}/${object.metadata?.name}`,
                    ),
            )
            .map(({ object }) => objectLabel(object));
        problems.push(
            `the guard reads ${sent.length} objects, kubectl sent ${run.objects.length}; not sent: ${missing.join(", ")}: ${run.objects.map((o) => `${o.resource}/${o.name}`).join(", ")}`,
        );
        return { judged, problems };
    }
    const usedErrors = new Set<ServerError>();
    sent.forEach(({ j, object }, i) => {
        const server = run.objects[i];
        const ns = object.metadata?.namespace;
        if (server.name !== object.metadata?.name || (ns !== undefined && server.namespace !== ns)) {
            j.problems.push(`kubectl sent ${server.resource}/${server.name} where the guard reads ${objectLabel(object)}`);
            return;
        }
        const error =
            server.status === 201
                ? undefined
                : run.errors.find((e) => !usedErrors.has(e) && (e.file === j.source.file || e.file === "") && (e.name ?? server.name) === server.name);
        if (error) usedErrors.add(error);
        j.pairs.push({ object, server, error });
    });
    for (const e of run.errors) if (!usedErrors.has(e)) problems.push(`kubectl printed an error for no object it sent: ${e.line}`);
    const admitted = run.objects.filter((o) => o.status === 201).length;
    if (run.printed.length !== admitted) problems.push(`kubectl printed ${run.printed.length} names for ${admitted} admitted objects`);
    return { judged, problems };
}

/** What the API server decided for one object: the rules it fails, or why it never reached admission. */
function serverRules(s: ServerObject, error?: ServerError): { rules: string[] } | { refused: string; status: number } {
    const rules = [...new Set(s.warned)].sort();
    if (s.status === 201 && rules.length === 0) return { rules };
    if (s.status === 403 && error?.denied !== undefined && rules.includes(error.denied)) return { rules };
    return { refused: `status ${s.status}, warned [${rules.join(", ")}]: ${error?.line ?? "no error printed"}`, status: s.status };
}

/** Objects the API server refused before its admission policy ran (the object itself is invalid), with the reason. */
const refusedBeforeAdmission: { source: string; object: string; reason: string; guard: string[] }[] = [];

/** Each disagreement as `<object>: <rule>: <who says what>`. */
function compare(j: Judged): string[] {
    const out = [...j.problems];
    const { source } = j;
    const config = guardConfig(source.exemptions);
    const serverUnion = new Set<string>();
    let refused = 0;
    for (const { object, server, error } of j.pairs) {
        const decided = serverRules(server, error);
        const what = objectLabel(object);
        // Real software draws the API server's own deprecation warnings (beta.kubernetes.io/os, node-role…/master): not the guardrails'.
        if (server.otherWarnings.length > 0 && !source.label.startsWith("real-cluster "))
            out.push(`${what}: other warnings: ${server.otherWarnings.join(" | ")}`);
        const guard = onlyAdmission(
            (source.guard ?? [])
                .filter(
                    (v) =>
                        v.enforcementLevel === "mandatory" &&
                        v.kind === object.kind &&
                        v.name === object.metadata?.name &&
                        (v.namespace ?? undefined) === object.metadata?.namespace,
                )
                .map((v) => v.policy),
        );
        if ("refused" in decided) {
            // An invalid object never reaches admission and never gets in; the guard must refuse it too.
            if ((decided.status === 400 || decided.status === 422) && guard.length > 0) {
                refused++;
                refusedBeforeAdmission.push({ source: source.label, object: what, reason: error?.line ?? "", guard });
            } else out.push(`${what}: not judged by the admission policy: ${decided.refused}`);
            continue;
        }
        decided.rules.forEach((r) => serverUnion.add(r));
        const gates: [string, string[]][] = [
            ["JS CEL", onlyAdmission(admissionDenials([object], source.exemptions).denied)],
            ...(source.admissionMandatory
                ? []
                : ([
                      ["oceanid-guard", guard],
                      ["policy pack", onlyAdmission(packVerdictFor(asPulumiResources(object), config).mandatory)],
                  ] as [string, string[]][])),
        ];
        for (const rule of ADMISSION_RULES) {
            const api = decided.rules.includes(rule);
            for (const [gate, rules] of gates) {
                if (rules.includes(rule) !== api)
                    out.push(`${what}: ${rule}: the API server ${api ? "denies" : "admits"}, ${gate} ${api ? "does not" : "denies"}`);
            }
        }
    }
    if (source.expected !== undefined && j.unserved.length === 0 && refused === 0) {
        const got = [...serverUnion].sort();
        if (JSON.stringify(got) !== JSON.stringify(source.expected))
            out.push(`the API server denies [${got.join(", ")}], the source declares [${source.expected.join(", ")}]`);
    }
    return out;
}

// --- the tests ------------------------------------------------------------------
const CHUNKS = 3;
let judged: Judged[] = [];
let chunkProblems: string[] = [];
let servedVersions: string[] = [];

/** The kinds the API server serves in `apiVersion` (none when it does not serve the version). */
function servedKinds(apiVersion: string): string[] {
    if (!servedVersions.includes(apiVersion)) return [];
    const doc = JSON.parse(mustKubectl(["get", "--raw", apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`])) as { resources: { kind: string }[] };
    return doc.resources.map((r) => r.kind);
}
let policy: ReturnType<typeof renderPolicy>["policy"];
const timings: Record<string, number> = {};

beforeAll(async () => {
    let t = Date.now();
    const lap = (name: string) => {
        timings[name] = (Date.now() - t) / 1000;
        t = Date.now();
    };
    const caseDir = mkdtempSync(join(tmpdir(), "oceanid-cases-"));
    [...caseSources, ...corpusSources].forEach((s, i) => {
        s.file = join(caseDir, `case-${i}.yaml`);
        writeFileSync(s.file, s.stdin!);
    });
    guardFiles();
    guardCases();
    lap("guard");
    const nsObjects = namespaces().map((name) => ({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
            name,
            labels: {
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/warn": "privileged",
                "pod-security.kubernetes.io/audit": "privileged",
            },
        },
    }));
    const crds = crdsFor(allObjects);
    const rendered = renderPolicy();
    policy = rendered.policy;
    mustKubectl(["apply", "-f", "-"], asYaml([...nsObjects, ...crds, ...rendered.manifests]));
    if (crds.length > 0) mustKubectl(["wait", "--for=condition=Established", "--timeout=30s", ...crds.map((c) => `crd/${c.metadata.name}`)]);
    // Pods need their namespace's default ServiceAccount, which the controller manager makes.
    for (const ns of namespaces()) {
        await pollUntil(`serviceaccount ${ns}/default`, () => (cluster.kubectl(["get", "serviceaccount", "default", "-n", ns]).code === 0 ? true : undefined));
    }
    servedVersions = mustKubectl(["api-versions"]).split("\n").filter(Boolean);
    lap("namespaces, CRDs and policy applied");
    await policyInEffect();
    lap("policy in effect");
    // A few kubectl processes, each over a share of the sources: the API server's CPU is what it costs.
    const chunks = Array.from({ length: CHUNKS }, (_, k) => sources.filter((_s, i) => i % CHUNKS === k));
    const runs = await inParallel(chunks, CHUNKS, async (chunk) =>
        pairChunk(
            chunk,
            await serverDryRun(
                cluster,
                NAMES,
                chunk.map((s) => s.file),
            ),
        ),
    );
    judged = runs.flatMap((r) => r.judged);
    chunkProblems = runs.flatMap((r) => r.problems);
    lap("dry runs");
}, 120_000);

suite("the API server against oceanid-guard, the policy pack and the JS CEL", () => {
    it("type-checks the policy without a warning", () => {
        const status = JSON.parse(mustKubectl(["get", "validatingadmissionpolicy", NAMES.policy, "-o", "json"])).status;
        expect(status.typeChecking).toEqual({});
    });

    it("accounts for every line kubectl printed", () => {
        expect(chunkProblems).toEqual([]);
    });

    it.each(sources.map((s) => [s.label, s] as const))("%s", (_label, source) => {
        const j = judged.find((x) => x.source === source)!;
        expect(compare(j)).toEqual([]);
    });

    it("judges every object, but those in API versions this API server does not serve and invalid ones the guard refuses too", () => {
        const unserved = judged.flatMap((j) => j.unserved.map((u) => ({ ...u, source: j.source.label })));
        // kubectl's reason holds: the API server serves no such kind in that version.
        for (const u of unserved) expect(servedKinds(u.unmapped.apiVersion), `${u.source}: ${u.unmapped.line}`).not.toContain(u.unmapped.kind);
        const judgedCount = judged.reduce((n, j) => n + j.pairs.length, 0);
        console.log(
            [
                `admission differential: ${sources.length} sources, ${judgedCount} objects sent, ${refusedBeforeAdmission.length} of them invalid, ` +
                    `${unserved.length} not sent; cluster start ${cluster.startSeconds.toFixed(1)}s, ${Object.entries(timings)
                        .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
                        .join(", ")}`,
                ...unserved.map((u) => `  not sent: ${u.source}: ${objectLabel(u.object)}: ${u.unmapped.line}`),
                ...refusedBeforeAdmission.map((r) => `  invalid: ${r.source}: ${r.object} (guard: ${r.guard.join(", ")}): ${r.reason}`),
            ].join("\n"),
        );
        expect(judgedCount - refusedBeforeAdmission.length).toBeGreaterThan(unserved.length);
    });
});

suite("exemptions in the API server", () => {
    const deniedBy = (kind: string, name: string, id: string, namespace = "apps") =>
        `Error from server (Forbidden): error when creating "STDIN": ${kind} "${name}" is forbidden: ` +
        `ValidatingAdmissionPolicy '${NAMES.policy}' with binding '${NAMES.denyBinding}' denied request: ${policy.spec.validations.find((v) => v.message.startsWith(`${id}: `))!.message}. ` +
        `If it is trusted with the node, exempt it in policies/guard-config.yaml: exemptions: [{kind: DaemonSet, namespace: ${namespace}, name: ${name}, policies: [${id}], reason: "<why this is safe>"}].`;

    it("ignores a self-service annotation exemption that the guard honours", async () => {
        const c = GUARD_CASES.find((x) => x.objects.some((o) => o.metadata?.annotations?.["guardrails.oceanid/exempt"]) && (x.exempted ?? []).length > 0)!;
        const [id] = c.exempted!;
        const source = caseSources[GUARD_CASES.indexOf(c)];
        expect(source.guard!.filter((v) => v.enforcementLevel === "mandatory")).toEqual([]);
        const r = await kubectlAsync(cluster, ["apply", "--dry-run=server", "-f", "-"], source.stdin);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        const obj = source.objects[0];
        expect(r.stderr.split("\n").filter((l) => l.startsWith("Error from server"))).toEqual([deniedBy("daemonsets.apps", obj.metadata.name, id)]);
    });

    it("honours a platform-listed exemption compiled into the policy, and only for the object it names", async () => {
        const c = GUARD_CASES.find((x) => (x.platformExemptions ?? []).some((e) => !e.expires || e.expires >= NOW.toISOString().slice(0, 10)))!;
        const source = caseSources[GUARD_CASES.indexOf(c)];
        const [obj] = source.objects;
        const [id] = source.exemptions[0].policies;
        expect(policy.spec.variables.find((v) => v.name === "exemptions")!.expression).toContain(JSON.stringify(obj.metadata.name));
        const exempt = await kubectlAsync(cluster, ["apply", "--dry-run=server", "-o", "name", "-f", "-"], JSON.stringify(obj));
        expect(exempt.output).toBe(`daemonset.apps/${obj.metadata.name}\n`);
        const other = { ...obj, metadata: { ...obj.metadata, name: `${obj.metadata.name}-other` } };
        const denied = await kubectlAsync(cluster, ["apply", "--dry-run=server", "-o", "name", "-f", "-"], JSON.stringify(other));
        expect(denied.stderr.split("\n").filter((l) => l.startsWith("Error from server"))).toEqual([
            deniedBy("daemonsets.apps", other.metadata.name, id, other.metadata.namespace),
        ]);
    });
});
