// The shared fixture table through the kubernetes provider's own reading of
// YAML, in the real engine with the policy pack: every rule fixture and
// kubectl-parity file as a yaml/v2 ConfigGroup, all in one `pulumi preview`.
// For each file the provider must register the objects kubectl sends (as
// oceanid-guard reads them), and the pack must report exactly what
// oceanid-guard reports for that file: same rules, objects, levels and
// messages. Where the provider reads differently (test/helpers/provider-yaml.ts)
// the difference is asserted; a file it refuses gets a preview of its own,
// because one refused file aborts the whole preview.
//
// ConfigFile runs the same Parse, Normalize and Register as ConfigGroup (it
// only skips glob expansion), so in the same preview it takes the
// kubectl-parity files, which exercise the reader, and one broken fixture of
// each rule, which exercises the pack: the rest would add seconds, not cover more.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeManifestBytes } from "../../policies/cli/kubectl/bytes";
import { parseManifests } from "../../policies/cli/read-manifests";
import type { KubeObject } from "../../policies/engine/kube-object";
import { RULES } from "../../policies/rules";
import { previewWithEvents, urnName, urnType, type PolicyViolationEvent, type PreviewRecord } from "../helpers/engine-events";
import { customKinds, PROVIDER_DEFAULT_NAMESPACE, providerReading } from "../helpers/provider-yaml";
import { Workspace } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["pulumi", "kube-read"]);

const PACK = join(ROOT, "policies");
const PROGRAM = join(ROOT, "test", "fixtures", "manifest-stack");
const RULES_DIR = join(ROOT, "policies", "rules");
const PARITY_DIR = join("test", "fixtures", "kubectl-parity");
const MANIFEST = /\.(ya?ml|json)$/;
const NOTICES = "guardrails-notices";

interface GuardViolation {
    policy: string;
    enforcementLevel: string;
    kind: string;
    name: string;
    namespace: string | null;
    file: string;
    message: string;
    remediation: string;
}
interface GuardExemption {
    policy: string;
    kind: string;
    name: string;
    namespace?: string;
}
interface GuardReport {
    violations: GuardViolation[];
    exemptions: GuardExemption[];
}

/** Every fixture file present now: the rule folders' fixtures and the kubectl-parity files. */
const dirs = [
    ...readdirSync(RULES_DIR, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => relative(ROOT, join(RULES_DIR, e.name, "fixtures"))),
    PARITY_DIR,
];

// The parity folder's own files only: its subfolders (refused/, deliberate/, found/: the fuzzer's hundreds of
// regression files) test the decoder kubectl and the provider share, and stay with the kube-read differential.
const fixtures = dirs
    .flatMap((dir) =>
        readdirSync(join(ROOT, dir), { withFileTypes: true })
            .filter((e) => e.isFile())
            .map((e) => e.name)
            .filter((f) => MANIFEST.test(f))
            .map((f) => join(dir, f)),
    )
    .sort()
    .map((file) => {
        const bytes = readFileSync(join(ROOT, file));
        const text = decodeManifestBytes(bytes);
        // One item per document: its objects, or why kubectl cannot read it.
        const documents = [...parseManifests(text, file)];
        const reading = providerReading(
            bytes,
            text,
            documents.some((d) => "error" in d),
        );
        const objectsOf = (ds: typeof documents) => ds.flatMap((d) => ("objects" in d ? d.objects : []));
        return {
            file,
            expect: [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]),
            /** What kubectl sends, as oceanid-guard reads it. */
            objects: objectsOf(documents),
            /** What the provider registers, when it reads the file. */
            providerObjects: "documents" in reading && reading.documents === "first" ? objectsOf(documents.slice(0, 1)) : objectsOf(documents),
            refused: "refused" in reading ? reading.refused : undefined,
        };
    });
const readFixtures = fixtures.filter((f) => f.refused === undefined);
const refusedFixtures = fixtures.filter((f) => f.refused !== undefined);

const asConfigFile = new Set([
    ...readFixtures.filter((f) => f.file.startsWith(`${PARITY_DIR}/`)).map((f) => f.file),
    ...dirs.flatMap((dir) => readFixtures.find((f) => f.file.startsWith(`${dir}/broken-`))?.file ?? []),
]);

const VIAS = [
    { via: "configgroup", prefix: "cg", type: "kubernetes:yaml/v2:ConfigGroup", takes: () => true },
    { via: "configfile", prefix: "cf", type: "kubernetes:yaml/v2:ConfigFile", takes: (file: string) => asConfigFile.has(file) },
] as const;

/** The component's name: the provider starts each of its objects' resource names with it and a colon. */
const componentName = (prefix: string, file: string) => `${prefix}/${file}`;

function runGuard(paths: string[]): GuardReport {
    const r = spawnSync(process.execPath, [join(ROOT, "policies", "cli", "oceanid-guard.cjs"), "--format", "json", ...paths], {
        cwd: ROOT,
        encoding: "utf8",
    });
    if (r.status === null || r.status > 2 || !r.stdout.startsWith("{")) throw new Error(`oceanid-guard exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout) as GuardReport;
}

/** An object's namespace as both gates place it: none and the provider's default are the same place. */
const place = (namespace: string | null | undefined, name: string) => `${namespace || PROVIDER_DEFAULT_NAMESPACE}/${name}`;
const objectKey = (o: KubeObject) => {
    const metadata = (o.body as { metadata?: { name?: string; namespace?: string } }).metadata;
    return `${o.kind} ${place(metadata?.namespace, metadata?.name ?? "")}`;
};
/** Messages name the object; the provider has put it in the default namespace. */
const unplaced = (message: string) => message.replaceAll(`${PROVIDER_DEFAULT_NAMESPACE}/`, "");

/**
 * What oceanid-guard reports, by file: one process over every fixture
 * directory, and (its exemptions name no file) one more for each file holding
 * an object it exempted.
 */
function guardByFile(): Map<string, GuardReport> {
    const all = runGuard(dirs);
    const byFile = new Map(fixtures.map((f) => [f.file, { violations: all.violations.filter((v) => v.file === f.file), exemptions: [] as GuardExemption[] }]));
    const exempted = new Set(all.exemptions.map((e) => `${e.kind} ${place(e.namespace, e.name)}`));
    for (const f of fixtures) {
        if (f.objects.some((o) => exempted.has(objectKey(o)))) byFile.get(f.file)!.exemptions = runGuard([f.file]).exemptions;
    }
    return byFile;
}

/**
 * What oceanid-guard reports for the file, on the objects the provider
 * registers from it. A violation below its rule's level (an unknown value
 * reported as advisory) is one the pack lists under its notices, without the fix.
 */
function guardVerdict(report: GuardReport, objects: KubeObject[]): string[] {
    const registered = new Set(objects.map(objectKey));
    const ruleLevel = new Map(RULES.map((r) => [r.id, r.enforcementLevel]));
    return [
        ...report.violations
            .filter((v) => registered.has(`${v.kind} ${place(v.namespace, v.name)}`))
            .map((v) =>
                ruleLevel.get(v.policy) === v.enforcementLevel
                    ? `${v.policy} [${v.enforcementLevel}] ${v.kind} ${place(v.namespace, v.name)}: ${unplaced(`${v.message}. Fix: ${v.remediation}`)}`
                    : `${v.policy} [${v.enforcementLevel}] ${v.kind} ${place(v.namespace, v.name)}: ${unplaced(v.message)}`,
            ),
        ...report.exemptions
            .filter((e) => registered.has(`${e.kind} ${place(e.namespace, e.name)}`))
            .map((e) => `${NOTICES} ${e.kind} ${place(e.namespace, e.name)}: exempt from ${e.policy}`),
    ].sort();
}

/** The object a resource of the component stands for: kind, namespace and name from its URN. */
function objectOf(urn: string, component: string): { kind: string; ns: string; name: string } | undefined {
    const name = urnName(urn);
    if (!name.startsWith(`${component}:`)) return undefined;
    const local = name.slice(component.length + 1);
    const slash = local.indexOf("/");
    const type = urnType(urn);
    return { kind: type.slice(type.lastIndexOf(":") + 1), ns: slash < 0 ? "" : local.slice(0, slash), name: local.slice(slash + 1) };
}

function packVerdict(violations: PolicyViolationEvent[], component: string): string[] {
    return violations
        .flatMap((v) => {
            const o = objectOf(v.resourceUrn, component);
            if (o === undefined) return [];
            // The engine puts the policy's description on the first line.
            const reported = v.message.slice(v.message.indexOf("\n") + 1).trimEnd();
            if (v.policyName === NOTICES) {
                const exempt = / is exempt from ([a-z-]+) by /.exec(reported);
                if (exempt) return [`${NOTICES} ${o.kind} ${place(o.ns, o.name)}: exempt from ${exempt[1]}`];
                // "[rule] message": that rule's violation, reported as advisory.
                const advisory = /^\[([a-z-]+)\] ([^]*)$/.exec(reported);
                if (advisory) return [`${advisory[1]} [advisory] ${o.kind} ${place(o.ns, o.name)}: ${unplaced(advisory[2])}`];
                return [`${NOTICES} ${reported}`];
            }
            return [`${v.policyName} [${v.enforcementLevel}] ${o.kind} ${place(o.ns, o.name)}: ${unplaced(reported)}`];
        })
        .sort();
}

type Json = unknown;
/**
 * Key order does not matter; an object in the default namespace is where one
 * without a namespace goes; a field holding "" or false is the field left out
 * (the provider's Check drops them, test/helpers/provider-yaml.ts).
 */
function canonical(v: Json, path = ""): Json {
    if (Array.isArray(v)) return v.map((x) => canonical(x, `${path}[]`));
    if (v === null || typeof v !== "object") return v;
    const entries = Object.entries(v as Record<string, Json>).filter(
        ([k, x]) => x !== "" && x !== false && !(`${path}.${k}` === ".metadata.namespace" && x === PROVIDER_DEFAULT_NAMESPACE),
    );
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, canonical(x, `${path}.${k}`)]));
}
const sortedJson = (objects: Json[]) => objects.map((o) => JSON.stringify(canonical(o))).sort();

/** Where `registered` differs from `sent` other than by leaving a field out: each such path, "" for none. */
function leftOut(registered: Json, sent: Json, path = ""): string[] {
    if (registered !== null && sent !== null && typeof registered === "object" && typeof sent === "object") {
        if (Array.isArray(registered) !== Array.isArray(sent)) return [path];
        if (Array.isArray(registered)) {
            const s = sent as Json[];
            return registered.length !== s.length ? [path] : registered.flatMap((x, i) => leftOut(x, s[i], `${path}[${i}]`));
        }
        const s = sent as Record<string, Json>;
        return Object.entries(registered).flatMap(([k, x]) => (k in s ? leftOut(x, s[k], `${path}.${k}`) : [`${path}.${k} (not sent)`]));
    }
    // The provider's Check turns a null in a list of strings (`finalizers: [a, ~]`) into "".
    return registered === sent || (registered === "" && sent === null) ? [] : [path];
}

let ws: Workspace;
let guard: Map<string, GuardReport>;
beforeAll(() => {
    guard = guardByFile();
    ws = new Workspace("fixtures", "manifest-replay-passphrase", undefined, PROGRAM);
    ws.editConfig(["manifest-replay:renderDir"], join(ws.dir, "rendered"));
});

suite("every fixture file the provider reads, in one preview with the pack", () => {
    let preview: PreviewRecord;

    beforeAll(() => {
        ws.editConfig(["manifest-replay:crds"], customKinds(readFixtures.flatMap((f) => f.providerObjects)));
        ws.editConfig(
            ["manifest-replay:manifests"],
            VIAS.flatMap(({ via, prefix, takes }) =>
                readFixtures.filter((f) => takes(f.file)).map((f) => ({ name: componentName(prefix, f.file), file: join(ROOT, f.file), via })),
            ),
        );
        preview = previewWithEvents(ws, ["--policy-pack", PACK]);
        // A refusal aborts the preview: say which file, not a hundred missing objects.
        const refusals = preview.errors.filter((e) => / has a problem: /.test(e) && !/client connection is closing|resource monitor shut down/.test(e));
        if (refusals.length > 0) throw new Error(`the provider refused a file that test/helpers/provider-yaml.ts says it reads:\n${refusals.join("")}`);
    }, 300_000);

    it("the table is not empty, and no file name holds the colon the provider puts after the component's name", () => {
        expect(readFixtures.length).toBeGreaterThan(40);
        expect(fixtures.filter((f) => f.file.includes(":"))).toEqual([]);
    });

    it("no component failed: the provider read every file", () => {
        expect(preview.errors).toEqual(["preview failed\n"]);
    });

    it("mandatory violations fail the preview, yet every file's objects are still registered and judged", () => {
        expect(preview.run.code).toBe(1);
        expect(preview.result).toBe("failed");
        const taken = VIAS.flatMap(({ type, takes }) => readFixtures.filter((f) => takes(f.file)).map((f) => ({ type, f })));
        const children = preview.resources.filter((r) => VIAS.some(({ type }) => r.parent.includes(`::${type}::`)));
        expect(children.length).toBe(taken.reduce((n, { f }) => n + f.providerObjects.length, 0));
        const mandatory = taken.flatMap(({ f }) => guardVerdict(guard.get(f.file)!, f.providerObjects).filter((v) => v.includes(" [mandatory] ")));
        expect(mandatory.length).toBeGreaterThan(0);
        expect(preview.violations.filter((v) => v.enforcementLevel === "mandatory").length).toBe(mandatory.length);
    });

    describe.each(readFixtures)("$file", (f) => {
        describe.each(VIAS.filter(({ takes }) => takes(f.file)))("as a $via", ({ prefix }) => {
            const component = componentName(prefix, f.file);
            const first = f.providerObjects.length < f.objects.length ? " from its first document" : "";

            // The provider's Check also prunes fields its schema for a known kind does not have (as the API
            // server would) and turns a null string in a list into "": what it registers must be kubectl's
            // objects with fields left out, never a value changed.
            it(`the provider registers the objects kubectl sends${first}, fields its schema lacks left out`, () => {
                const registered = sortedJson(preview.resources.filter((r) => objectOf(r.urn, component) !== undefined).map((r) => r.inputs));
                const sent = sortedJson(f.providerObjects.map((o) => o.body));
                expect(registered.length).toBe(sent.length);
                registered.forEach((r, i) => expect(leftOut(JSON.parse(r), JSON.parse(sent[i])), r).toEqual([]));
            });

            it("the pack reports what oceanid-guard reports for the file", () => {
                expect(packVerdict(preview.violations, component)).toEqual(guardVerdict(guard.get(f.file)!, f.providerObjects));
            });

            if (f.expect.length > 0) {
                it("the pack's messages say what the fixture expects", () => {
                    const messages = preview.violations.filter((v) => objectOf(v.resourceUrn, component) !== undefined).map((v) => v.message);
                    for (const text of f.expect) expect(messages.join("\n")).toContain(text);
                });
            }
        });
    });
});

// One preview each, without the pack: the refusal is the provider's.
suite("files the provider refuses: the preview fails, naming the ConfigGroup and why", () => {
    it.each(refusedFixtures)("$file", (f) => {
        const component = componentName("cg", f.file);
        ws.editConfig(["manifest-replay:crds"], []);
        ws.editConfig(["manifest-replay:manifests"], [{ name: component, file: join(ROOT, f.file), via: "configgroup" }]);
        const r = previewWithEvents(ws);
        expect(r.run.code, r.run.output).toBe(1);
        expect(r.result).toBe("failed");
        const problem = r.errors.find((e) => e.startsWith(`kubernetes:yaml/v2:ConfigGroup resource '${component}' has a problem: `));
        expect(problem, r.errors.join("\n")).toMatch(f.refused!);
        expect(r.resources.filter((res) => objectOf(res.urn, component) !== undefined)).toEqual([]);
    });
});
