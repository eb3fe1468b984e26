// YAML scalars and tags as go-yaml v2 resolves them (YAML 1.1: yes/no/on/off
// are booleans, 0777 octal, !!binary decoded), and the `yaml` package's options
// that put these in place of its own tags: KUBECTL_YAML.
import { Scalar as YamlScalar, Schema, type CollectionTag, type Scalar, type ScalarTag } from "yaml";
import { goUtf8 } from "./bytes";
import { KubectlReadError } from "./read-error";

export const TAG = "tag:yaml.org,2002:";
const STR = `${TAG}str`;
const BOOL = `${TAG}bool`;
const INT = `${TAG}int`;
const FLOAT = `${TAG}float`;
const NULL = `${TAG}null`;
const TIMESTAMP = `${TAG}timestamp`;
const BINARY = `${TAG}binary`;
export const MERGE = `${TAG}merge`;

/** A scalar's Go value: what it turns into in JSON, and what it is as a Go map key. */
export type GoScalar =
    | { readonly type: "str"; readonly value: string }
    | { readonly type: "bool"; readonly value: boolean }
    | { readonly type: "null"; readonly value: null }
    /** An int64 (`uint` past its range); `exact` is its decimal digits, which a double may not hold. */
    | { readonly type: "int" | "uint"; readonly value: number; readonly exact: string }
    | { readonly type: "float"; readonly value: number };

const RESOLVE_MAP = new Map<string, GoScalar>();
for (const [value, words] of [
    [true, ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]],
    [false, ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]],
] as const) {
    for (const w of words) RESOLVE_MAP.set(w, { type: "bool", value });
}
for (const w of ["", "~", "null", "Null", "NULL"]) RESOLVE_MAP.set(w, { type: "null", value: null });
for (const w of [".nan", ".NaN", ".NAN"]) RESOLVE_MAP.set(w, { type: "float", value: NaN });
for (const w of [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"]) RESOLVE_MAP.set(w, { type: "float", value: Infinity });
for (const w of ["-.inf", "-.Inf", "-.INF"]) RESOLVE_MAP.set(w, { type: "float", value: -Infinity });

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Go's strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64): base prefixes 0x, 0o, 0b and a leading 0 for octal. */
function goParseInt(s: string, base: 0 | 2 = 0): GoScalar | undefined {
    const m = /^([-+]?)(.*)$/s.exec(s) as RegExpExecArray;
    const [, sign, body] = m;
    let digits: string;
    let radix: number;
    if (base === 2) [digits, radix] = [body, 2];
    else if (/^0[xX]/.test(body)) [digits, radix] = [body.slice(2), 16];
    else if (/^0[oO]/.test(body)) [digits, radix] = [body.slice(2), 8];
    else if (/^0[bB]/.test(body)) [digits, radix] = [body.slice(2), 2];
    else if (body.startsWith("0") && body.length > 1) [digits, radix] = [body.slice(1), 8];
    else [digits, radix] = [body, 10];
    const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[radix] as RegExp;
    if (!valid.test(digits)) return undefined;
    let n = 0n;
    for (const d of digits) n = n * BigInt(radix) + BigInt(parseInt(d, 16));
    if (sign === "-") n = -n;
    if (n >= INT64_MIN && n <= INT64_MAX) return { type: "int", value: Number(n), exact: n.toString() };
    if (sign === "" && n <= UINT64_MAX) return { type: "uint", value: Number(n), exact: n.toString() };
    return undefined;
}

/** go-yaml's timestamp forms (2001-12-14, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10), with Go's range checks. */
function isGoTimestamp(s: string): boolean {
    const m =
        /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[-+](\d{2}):(\d{2})))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$/.exec(
            s,
        );
    if (m === null) return false;
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (month < 1 || month > 12 || day < 1) return false;
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    if (day > [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]) return false;
    const [h, min, sec] = [m[4] ?? m[9], m[5] ?? m[10], m[6] ?? m[11]].map(Number);
    if (m[4] ?? m[9]) {
        if (h > 23 || min > 59 || sec > 59) return false;
    }
    if (m[7] !== undefined && (Number(m[7]) > 24 || Number(m[8]) > 60)) return false;
    return true;
}

const shortTag = (tag: string) => (tag.startsWith(TAG) ? `!!${tag.slice(TAG.length)}` : tag);

/**
 * go-yaml v2's resolve(): the value of a scalar with the given tag ("" for a
 * plain scalar without one). A value of another type than an explicit tag
 * asks for fails as go-yaml fails (`!!bool 1`); an int is a float where
 * `!!float` asks for one.
 */
export function goResolve(tag: string, text: string): GoScalar {
    const got = resolveUnchecked(tag, text);
    if (tag === "" || tag === STR || tag === BINARY) return got;
    const gotTag = { str: STR, bool: BOOL, null: NULL, int: INT, uint: INT, float: FLOAT }[got.type];
    if (tag === TIMESTAMP && got.type === "str" && isGoTimestamp(text)) return got;
    if (gotTag === tag) return got;
    if (tag === FLOAT && got.type === "int") return { type: "float", value: got.value };
    const actual = tag === TIMESTAMP && got.type === "str" && isGoTimestamp(text) ? TIMESTAMP : gotTag;
    throw new KubectlReadError(`cannot decode ${shortTag(actual)} \`${text}\` as a ${shortTag(tag)}`);
}

function resolveUnchecked(tag: string, text: string): GoScalar {
    const str: GoScalar = { type: "str", value: text };
    if (tag === STR || tag === BINARY) return str;
    const hint =
        text === "" ? "N" : /[-+]/.test(text[0]) ? "S" : /[0-9]/.test(text[0]) ? "D" : /[yYnNtTfFoO~]/.test(text[0]) ? "M" : text[0] === "." ? "." : "";
    if (hint === "") return str;
    const known = RESOLVE_MAP.get(text);
    if (known) return known;
    if (hint === ".") {
        if (/^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(text) && Number.isFinite(Number(text))) return { type: "float", value: Number(text) };
        return str;
    }
    if (hint === "D" || hint === "S") {
        // A timestamp stays the text it was written as; only the explicit tag checks it (goResolve).
        if ((tag === "" || tag === TIMESTAMP) && isGoTimestamp(text)) return str;
        const plain = text.replaceAll("_", "");
        const int = goParseInt(plain);
        if (int) return int;
        if (YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain))) return { type: "float", value: Number(plain) };
        if (plain.startsWith("0b")) {
            const bin = goParseInt(plain.slice(2), 2);
            if (bin) return bin;
        } else if (plain.startsWith("-0b")) {
            const bin = goParseInt(`-${plain.slice(3)}`, 2);
            if (bin && bin.type === "int") return bin;
        }
    }
    return str;
}

/** `!!binary` as go-yaml decodes it: standard base64 with padding (line ends ignored), the bytes read as Go reads a string. */
export function goBinary(text: string): string {
    const b64 = text.replace(/[\r\n]/g, "");
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) {
        throw new KubectlReadError("!!binary value contains invalid base64 data");
    }
    return goUtf8(Buffer.from(b64, "base64"));
}

/** A scalar node with its Go value: the node's value is the plain value; its Go type decides how it becomes a JSON key. */
type GoScalarNode = Scalar & { go?: GoScalar };

function scalarTag(tag: string, resolve: (text: string) => GoScalar, extra: Partial<ScalarTag> = {}): ScalarTag {
    return {
        tag,
        ...extra,
        resolve: (text, onError) => {
            let go: GoScalar;
            try {
                go = resolve(text);
            } catch (err) {
                onError((err as Error).message);
                go = { type: "str", value: text };
            }
            return Object.assign(new YamlScalar(go.value), { go });
        },
    };
}

/** `!!set`, `!!omap` and `!!pairs` are plain maps and lists to go-yaml (the tag is not looked at). */
const plainCollection = (tag: string, collection: "map" | "seq"): CollectionTag => ({ tag, collection, resolve: (c) => c });

const GO_TAGS: Array<ScalarTag | CollectionTag> = [
    scalarTag("tag:oceanid.dev,2025:go-yaml-plain", (t) => goResolve("", t), { default: true, test: /(?:)/ }),
    ...[STR, BOOL, INT, FLOAT, NULL, TIMESTAMP].map((tag) => scalarTag(tag, (t) => goResolve(tag, t))),
    scalarTag(BINARY, (t) => ({ type: "str", value: goBinary(t) })),
    scalarTag(MERGE, (t) => ({ type: "str", value: t })),
    plainCollection(`${TAG}set`, "map"),
    plainCollection(`${TAG}omap`, "seq"),
    plainCollection(`${TAG}pairs`, "seq"),
];

/**
 * The `yaml` package's options for kubectl's reading. Its tags are replaced by
 * go-yaml v2's: a plain scalar resolves as YAML 1.1 does in go-yaml (yes/no/
 * on/off/y/n are booleans, 0777 and 0o17 octal, 0b1 binary, 1_000 and 1e3
 * numbers; timestamps and 1:30 stay text); an explicit !!str, !!bool, !!int,
 * !!float, !!null, !!timestamp, !!binary checks and converts as go-yaml does;
 * any other tag (`!foo`, `!!map` on a scalar) leaves the text; collection tags
 * are not looked at. A repeated key keeps its last value. Merge keys and
 * aliases are applied by goValue, not by the `yaml` package.
 */
export const KUBECTL_YAML = {
    version: "1.1",
    merge: false,
    prettyErrors: false,
    uniqueKeys: false,
    // A copy each time: the `yaml` package adds to the list it is given.
    customTags: () => [...GO_TAGS],
} as const;

let sharedSchema: Schema | undefined;

/**
 * KUBECTL_YAML with one schema for every document: building the schema is a
 * good part of reading a small document. (The `yaml` package may add a tag it
 * knows to a schema's list; that is undone before each use. A document with
 * directives gets a schema of its own.)
 */
export function composerOptions(directives: boolean) {
    if (directives) return KUBECTL_YAML;
    // As the `yaml` package builds a YAML 1.1 document's schema.
    sharedSchema ??= new Schema({ ...KUBECTL_YAML, resolveKnownTags: false, schema: "yaml-1.1" });
    sharedSchema.tags.length = GO_TAGS.length;
    return { ...KUBECTL_YAML, schema: sharedSchema };
}

/** A scalar node's Go value (a node the tags above did not resolve, such as `!foo x`, is its text). */
export function goScalarOf(node: Scalar): GoScalar {
    const go = (node as GoScalarNode).go;
    if (go) return go;
    return { type: "str", value: typeof node.value === "string" ? node.value : String(node.source ?? "") };
}
