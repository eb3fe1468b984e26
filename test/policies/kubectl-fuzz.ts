// The parity fuzzer: manifests generated in every spelling kubectl reads
// differently from a YAML 1.2 reader, and random mutations of the fixture
// table, each compared between kubectl's reader and the guard's
// (kubectl-harness.ts). kubectl-fuzz.test.ts runs a bounded batch;
// `npm run fuzz:parity -- --runs N [--seed S]` runs long and writes each
// disagreement, cut down to the lines that make it, into
// test/fixtures/kubectl-parity/found/, which kubectl-parity.test.ts reads.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { ROOT } from "../helpers/stack-file";
import { compare, type Disagreement } from "./kubectl-harness";

export const FOUND_DIR = join(ROOT, "test", "fixtures", "kubectl-parity", "found");

// ---------------------------------------------------------------------------
// Pieces of YAML, in the spellings that differ between readers

const BOOLS = ["true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON", "false", "no", "n", "N", "off", "Off", "FALSE"];
const NULLS = ["~", "null", "Null", "NULL", ""];
const INTS = [
    "0777",
    "0o17",
    "0O17",
    "0x1F",
    "0X1f",
    "-0x1F",
    "0b101",
    "-0b101",
    "0b-101",
    "1_000",
    "+12",
    "-0",
    "08",
    "0",
    "012345",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "0x_1F",
    "1__0",
];
const FLOATS = [
    "1e3",
    "1E3",
    "1.5",
    "-1.5e-3",
    ".5",
    "+.5",
    "1.",
    "1e400",
    ".inf",
    "-.Inf",
    ".NaN",
    ".nan",
    "1_0.5",
    "0.1",
    "1234567.0",
    "6.02e23",
    ".5e1",
    "1000000.0",
    "123456789.0",
    "-0.0",
    "1e-7",
];
const TEXTS = [
    "1:30",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-02-30",
    "<<",
    "=",
    "0x",
    ".",
    "-",
    "a#b",
    "a:b",
    "é",
    "雪",
    "x y",
    "'q'",
    "tab\there",
];
const PLAIN = [...BOOLS, ...NULLS, ...INTS, ...FLOATS, ...TEXTS];
const TAGS = [
    "!!str",
    "!!int",
    "!!bool",
    "!!float",
    "!!null",
    "!!binary",
    "!!timestamp",
    "!!merge",
    "!!map",
    "!!seq",
    "!!set",
    "!!omap",
    "!!pairs",
    "!",
    "!foo",
    "!<tag:yaml.org,2002:bool>",
    "!<tag:yaml.org,2002:str>",
    "!<!!bool>",
    "!!%62ool",
];
const BASE64 = ["aGVsbG8=", "dHJ1ZQ==", "/w==", "4oKs", "wA==", "aGk", "a GVs", "aG\n  Vs"];

const scalarSpelling: fc.Arbitrary<string> = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...PLAIN) },
    { weight: 2, arbitrary: fc.constantFrom(...PLAIN).map((s) => `"${s}"`) },
    { weight: 1, arbitrary: fc.constantFrom(...PLAIN).map((s) => `'${s}'`) },
    {
        weight: 3,
        arbitrary: fc.tuple(fc.constantFrom(...TAGS), fc.constantFrom(...PLAIN, ...BASE64)).map(([t, v]) => `${t} ${/[\s:#]/.test(v) ? `"${v}"` : v}`),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/) },
);

const FIELDS = [
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "privileged",
    "name",
    "image",
    "replicas",
    "1",
    "yes",
    "<<",
    "on",
    "0x1",
    "1.0",
    "1.5",
    "1e3",
    "~",
    "TS_USERSPACE",
    "items",
    "- x",
];
const keySpelling: fc.Arbitrary<string> = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...FIELDS) },
    { weight: 1, arbitrary: fc.constantFrom(...PLAIN).filter((s) => s !== "" && !s.includes(" ")) },
    {
        weight: 1,
        arbitrary: fc
            .tuple(fc.constantFrom("!!str", "!!int", "!!bool", "!!float", "!", "!foo", "!!merge", "!!binary"), fc.constantFrom(...FIELDS, "1", "true", "aGk="))
            .map(([t, k]) => `${t} ${k}`),
    },
    { weight: 1, arbitrary: fc.constantFrom(...FIELDS).map((k) => `"${k}"`) },
);

/** A value tree: rendered in block or flow style, with anchors, aliases and merge keys. */
type Tree = { s: string } | { map: [string, Tree][] } | { seq: Tree[] } | { alias: string } | { merge: Tree };

const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree; map: Tree; seq: Tree }>((tie) => ({
    t: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        { weight: 5, arbitrary: scalarSpelling.map((s) => ({ s })) },
        { weight: 2, arbitrary: tie("map") },
        { weight: 1, arbitrary: tie("seq") },
        { weight: 1, arbitrary: fc.constantFrom("a", "b", "c").map((alias) => ({ alias })) },
    ),
    map: fc
        .array(
            fc.oneof(
                { weight: 5, arbitrary: fc.tuple(keySpelling, tie("t")) },
                {
                    weight: 1,
                    arbitrary: fc
                        .oneof(
                            fc.constantFrom("a", "b").map((alias): Tree => ({ alias })),
                            fc
                                .array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 3 })
                                .map((as): Tree => ({ seq: as.map((alias) => ({ alias })) })),
                            tie("map"),
                        )
                        .map((v): [string, Tree] => ["<<", { merge: v }]),
                },
            ),
            { maxLength: 4 },
        )
        .map((map) => ({ map })),
    seq: fc.array(tie("t"), { maxLength: 3 }).map((seq) => ({ seq })),
})).t;

interface Style {
    flow: boolean;
    anchors: string[];
}

/** YAML text for a tree: block style at `indent`, or flow; some nodes get an anchor (&a, &b, &c). */
function render(t: Tree, indent: number, style: Style, anchorAt: (t: Tree) => string | undefined): string {
    const pad = " ".repeat(indent);
    const anchor = anchorAt(t);
    const a = anchor ? `&${anchor} ` : "";
    if ("s" in t) return `${a}${t.s}`;
    if ("alias" in t) return `*${t.alias}`;
    if ("merge" in t) return render(t.merge, indent, style, anchorAt);
    if ("seq" in t) {
        if (style.flow || t.seq.length === 0) return `${a}[${t.seq.map((x) => render(x, 0, { ...style, flow: true }, anchorAt)).join(", ")}]`;
        return `${a}\n${t.seq.map((x) => `${pad}- ${render(x, indent + 2, style, anchorAt).replace(/^\n\s*/, "")}`).join("\n")}`;
    }
    if (style.flow || t.map.length === 0) {
        return `${a}{${t.map.map(([k, v]) => `${k}: ${render(v, 0, { ...style, flow: true }, anchorAt)}`).join(", ")}}`;
    }
    return `${a}\n${t.map.map(([k, v]) => `${pad}${k}: ${render(v, indent + 2, style, anchorAt)}`).join("\n")}`;
}

const KINDS = ["Pod", "ConfigMap", "DaemonSet", "List", "ConfigMapList", "Whatever"];

/** Metadata in the spellings kubectl checks (a name or label YAML 1.1 makes a boolean, times, numbers). */
const metadataSpelling: fc.Arbitrary<string> = fc.oneof(
    { weight: 6, arbitrary: fc.stringMatching(/^[a-z]{1,6}$/).map((name) => `{name: ${name}}`) },
    {
        weight: 1,
        arbitrary: fc
            .record({
                name: fc.constantFrom("a", "y", "n", '"y"', "1", "~", "on"),
                namespace: fc.constantFrom("", "ns", '""', "~", "5"),
                label: fc.constantFrom("yes", '"yes"', "1", "x", "~"),
                time: fc.constantFrom("", "2001-12-14", "2001-12-14T21:59:43Z", "2001-12-14t21:59:43Z", "null", '"2001-02-30T00:00:00Z"'),
                generation: fc.constantFrom("", "1", "1.0", "1.5", "1e3", "0x10", "9223372036854775808"),
            })
            .map(({ name, namespace, label, time, generation }) =>
                [
                    `{name: ${name}`,
                    namespace && `namespace: ${namespace}`,
                    `labels: {a: ${label}}`,
                    time && `creationTimestamp: ${time}`,
                    generation && `generation: ${generation}`,
                ]
                    .filter(Boolean)
                    .join(", ")
                    .concat("}"),
            ),
    },
);

/** List items in the shapes kubectl reads differently: no kind, null, a scalar, a list inside, a kind without version. */
const itemSpelling: fc.Arbitrary<string> = fc.constantFrom(
    "{metadata: {name: i1}}",
    "",
    "~",
    "5",
    "[1]",
    "{kind: Pod, metadata: {name: i2}}",
    "{apiVersion: v1, metadata: {name: i3}}",
    "{kind: 5, apiVersion: true}",
    "{apiVersion: v1, kind: List, items: [{apiVersion: v1, kind: Pod, metadata: {name: i4}}]}",
    "{apiVersion: v1, kind: Pod, metadata: {name: i5, namespace: ~}}",
    "{apiVersion: a/b/c, kind: Pod}",
    "{apiVersion: apps/, kind: DaemonSet}",
);

/** Aliases expanded up to and past go-yaml's limit: `width` aliases of the level below, `depth` levels. */
const aliasBomb: fc.Arbitrary<string> = fc.record({ width: fc.integer({ min: 2, max: 12 }), depth: fc.integer({ min: 1, max: 5 }) }).map(({ width, depth }) => {
    const levels = Array.from({ length: depth + 1 }, (_, i) =>
        i === 0
            ? `  l0: &l0 [${Array(width).fill("x").join(", ")}]`
            : `  l${i}: &l${i} [${Array(width)
                  .fill(`*l${i - 1}`)
                  .join(", ")}]`,
    );
    return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n${levels.join("\n")}\n`;
});

/** A manifest whose body is a generated tree: a Pod-ish object, or a list whose items are trees. */
const generatedManifest: fc.Arbitrary<string> = fc
    .record({
        kind: fc.constantFrom(...KINDS),
        body: tree,
        items: fc.array(fc.oneof(tree, fc.constant<Tree>({ s: "" })), { maxLength: 3 }),
        flow: fc.boolean(),
        anchors: fc.array(fc.nat(20), { maxLength: 3 }),
        metadata: metadataSpelling,
        special: fc.array(itemSpelling, { maxLength: 2 }),
    })
    .map(({ kind, body, items, flow, anchors, metadata, special }) => {
        let n = 0;
        const names = ["a", "b", "c"];
        const anchorAt = () => (anchors.includes(n++) ? names[n % 3] : undefined);
        const style = { flow, anchors: [] };
        const head = `apiVersion: v1\nkind: ${kind}\nmetadata: ${metadata}\n`;
        if (kind.endsWith("List") || kind === "Whatever") {
            const rendered = [...items.map((it) => render(it, 2, style, anchorAt).replace(/^\n\s*/, "")), ...special];
            return `${head}items:\n${rendered.map((r) => `- ${r}`).join("\n")}\n`;
        }
        return `${head}spec: ${render(body, 2, style, anchorAt)}\n`;
    });

// ---------------------------------------------------------------------------
// Text mutations: line ends, comments, separators, encodings

const BREAKS = ["\r", "\r\n", "\u0085", "\u2028", "\u2029", "\f", "\t", "\v", "\u0000", "\u0007", "\ufeff", "\u00a0", "\ud800", "\uffff"];
const INSERTS = [
    ...BREAKS,
    "# c",
    " # c",
    "#",
    "\n---\n",
    "\n--- # c\n",
    "\n---x\n",
    "\n----\n",
    "\n--- \t\n",
    "\n...\n",
    "\n... x\n",
    "\n...\n]]\n",
    "...\n",
    "%YAML 1.1\n---\n",
    "%YAML 1.2\n---\n",
    "\n  hostNetwork: true\n",
    "hostNetwork: true\n",
    ": ",
    "- ",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!bool ",
    "!foo ",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "|\n",
    ">-\n",
    "  ",
    "\n%YAML 1.1\n",
    "\n%TAG ! tag:x,2000:\n",
    " #",
    "?",
    ":",
    "-",
    "\n  |\n",
];

type Mutation = { at: number; insert: string } | { line: number; op: "delete" | "dup" | "indent" | "dedent" };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ at: fc.nat(), insert: fc.constantFrom(...INSERTS) }) },
    { weight: 1, arbitrary: fc.record({ line: fc.nat(), op: fc.constantFrom("delete" as const, "dup" as const, "indent" as const, "dedent" as const) }) },
);

function mutate(text: string, m: Mutation): string {
    if ("insert" in m) {
        const at = text.length === 0 ? 0 : m.at % (text.length + 1);
        return text.slice(0, at) + m.insert + text.slice(at);
    }
    const lines = text.split("\n");
    const i = lines.length === 0 ? 0 : m.line % lines.length;
    if (m.op === "delete") lines.splice(i, 1);
    else if (m.op === "dup") lines.splice(i, 0, lines[i]);
    else if (m.op === "indent") lines[i] = `  ${lines[i]}`;
    else lines[i] = lines[i].replace(/^ {1,2}/, "");
    return lines.join("\n");
}

/** The fixture table: every rule's fixtures, the parity fixtures, the incident. */
export function fixtureTexts(): string[] {
    const dirs = [
        ...readdirSync(join(ROOT, "policies", "rules")).map((r) => join(ROOT, "policies", "rules", r, "fixtures")),
        join(ROOT, "test", "fixtures", "kubectl-parity"),
        join(ROOT, "test", "fixtures", "incident"),
    ];
    const texts: string[] = [];
    for (const dir of dirs) {
        let names: string[];
        try {
            names = readdirSync(dir);
        } catch {
            continue;
        }
        for (const name of names.sort()) {
            if (!/\.(ya?ml|json)$/.test(name)) continue;
            const bytes = readFileSync(join(dir, name));
            // UTF-16 fixtures are mutated as text and encoded again by the encoding step.
            if (bytes[0] === 0xff || bytes[0] === 0xfe) continue;
            texts.push(bytes.toString("utf8"));
        }
    }
    return texts;
}

/** JSON streams: values one after another, with what may follow them. */
const jsonStream: fc.Arbitrary<string> = fc
    .record({
        values: fc.array(
            fc.record({
                kind: fc.constantFrom("Pod", "List", "ConfigMap"),
                name: fc.stringMatching(/^[a-z]{1,5}$/),
                hostNetwork: fc.constantFrom<unknown>(true, false, "yes", 1, null),
                items: fc.boolean(),
            }),
            { minLength: 1, maxLength: 3 },
        ),
        sep: fc.constantFrom("", "\n", " ", "\r\n", "\n\n"),
        tail: fc.constantFrom(
            "",
            "\n",
            "\napiVersion: v1\nkind: Pod\nmetadata: {name: tail}\n",
            " x\n",
            "\n[1]\n",
            ",\n",
            '\n{"a": }\n',
            "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: t2}\n",
        ),
        lead: fc.constantFrom("", "  ", "\n", "\ufeff"),
    })
    .map(
        ({ values, sep, tail, lead }) =>
            lead +
            values
                .map((v) =>
                    JSON.stringify(
                        v.items
                            ? {
                                  apiVersion: "v1",
                                  kind: v.kind,
                                  items: [{ apiVersion: "v1", kind: "Pod", metadata: { name: v.name }, spec: { hostNetwork: v.hostNetwork } }],
                              }
                            : { apiVersion: "v1", kind: v.kind, metadata: { name: v.name }, spec: { hostNetwork: v.hostNetwork } },
                    ),
                )
                .join(sep) +
            tail,
    );

export interface FuzzCase {
    readonly text: string;
    readonly encoding: "utf8" | "utf8-bom" | "utf16le" | "utf16be";
}

/** Bytes of a case as a file. */
export function caseBytes(c: FuzzCase): Buffer {
    if (c.encoding === "utf8") return Buffer.from(c.text, "utf8");
    if (c.encoding === "utf8-bom") return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(c.text, "utf8")]);
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(c.text, "utf16le")]);
    return c.encoding === "utf16le" ? le : le.swap16();
}

/** Every case: a generated manifest, a JSON stream or a fixture, mutated 0-3 times, in one of four encodings. */
export function fuzzCases(fixtures: string[]): fc.Arbitrary<FuzzCase> {
    const base = fc.oneof(
        { weight: 4, arbitrary: generatedManifest },
        { weight: 1, arbitrary: jsonStream },
        { weight: 3, arbitrary: fc.constantFrom(...fixtures) },
        { weight: 1, arbitrary: fc.array(generatedManifest, { minLength: 2, maxLength: 3 }).map((docs) => docs.join("---\n")) },
        { weight: 1, arbitrary: aliasBomb },
    );
    return fc
        .record({
            text: base,
            mutations: fc.array(mutation, { maxLength: 3 }),
            encoding: fc.constantFrom<FuzzCase["encoding"]>("utf8", "utf8", "utf8", "utf8", "utf8", "utf8", "utf8-bom", "utf16le", "utf16be"),
        })
        .map(({ text, mutations, encoding }) => ({ text: mutations.reduce(mutate, text), encoding }));
}

// ---------------------------------------------------------------------------
// Running

export interface FuzzResult {
    readonly cases: number;
    readonly disagreements: Array<Disagreement & { readonly case: FuzzCase }>;
}

/** Runs `runs` cases from `seed`, in batches of `batch` files per kube-read call. */
export function runFuzz({ runs, seed, batch = 500, dir }: { runs: number; seed: number; batch?: number; dir?: string }): FuzzResult {
    const fixtures = fixtureTexts();
    const cases = fc.sample(fuzzCases(fixtures), { numRuns: runs, seed });
    const work = dir ?? mkdtempSync(join(tmpdir(), "oceanid-fuzz-"));
    const disagreements: FuzzResult["disagreements"] = [];
    try {
        for (let start = 0; start < cases.length; start += batch) {
            const files = cases.slice(start, start + batch).map((c, i) => {
                const file = join(work, `case-${String(start + i).padStart(6, "0")}.yaml`);
                writeFileSync(file, caseBytes(c));
                return file;
            });
            for (const d of compare(files)) disagreements.push({ ...d, case: cases[start + files.indexOf(d.file)] });
            for (const f of files) rmSync(f, { force: true });
        }
    } finally {
        if (dir === undefined) rmSync(work, { recursive: true, force: true });
    }
    return { cases: cases.length, disagreements };
}

/**
 * A disagreement cut down: lines dropped one at a time while kube-read and
 * the guard still disagree in the same way. Returns the smallest case found.
 */
export function shrink(c: FuzzCase, why: string, dir: string): FuzzCase {
    const file = join(dir, "shrink.yaml");
    const still = (candidate: FuzzCase): boolean => {
        writeFileSync(file, caseBytes(candidate));
        return compare([file]).some((d) => d.why === why);
    };
    let lines = c.text.split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
        const fewer = [...lines.slice(0, i), ...lines.slice(i + 1)];
        if (still({ ...c, text: fewer.join("\n") })) lines = fewer;
    }
    return { ...c, text: lines.join("\n") };
}

/** Writes a disagreement as a regression fixture named by its content; returns the path. */
export function writeFound(c: FuzzCase): string {
    mkdirSync(FOUND_DIR, { recursive: true });
    const bytes = caseBytes(c);
    const name = `${createHash("sha256").update(bytes).digest("hex").slice(0, 12)}.yaml`;
    const path = join(FOUND_DIR, name);
    writeFileSync(path, bytes);
    return path;
}
