// A parsed document's nodes to JSON as go-yaml v2 decodes into interface{} and
// sigs.k8s.io/yaml converts: aliases with go-yaml's expansion limit, merge keys
// in go-yaml's order, map keys as Go writes them (a float key in float32 form),
// which the `yaml` package's toJS does its own way.
import { isAlias, isMap, isScalar, isSeq, visit, type Alias, type Document, type Node, type YAMLMap } from "yaml";
import { KubectlReadError } from "./read-error";
import { goScalarOf, MERGE, type GoScalar } from "./scalars";

/** go-yaml v2's limits on alias expansion (decode.go allowedAliasRatio). */
function allowedAliasRatio(decodeCount: number): number {
    if (decodeCount <= 400_000) return 0.99;
    if (decodeCount >= 4_000_000) return 0.1;
    return 0.99 - 0.89 * ((decodeCount - 400_000) / 3_600_000);
}

const isMergeKey = (key: unknown): boolean => {
    if (!isScalar(key) || goScalarOf(key).value !== "<<") return false;
    // Plain and untagged, tagged `!` (go-yaml reads that as implicit too), or tagged !!merge.
    return (key.tag === undefined && key.type === "PLAIN") || key.tag === "!" || key.tag === MERGE;
};

/** A Go map key: its identity in the Go map, and the JSON key sigs.k8s.io/yaml makes of it. */
interface GoKey {
    readonly id: string | symbol;
    readonly json: string;
    readonly shown: string;
    /** Why sigs.k8s.io/yaml cannot make it a JSON key (when the map is converted, not when it is read). */
    readonly refused?: string;
}

/**
 * A document's value as kubectl sends it: go-yaml v2 decoding into
 * interface{} (aliases expanded, with its limit on expansion; merge keys in
 * position order, each overriding what came before, a list's earlier maps
 * winning), then sigs.k8s.io/yaml's JSON conversion (keys as strings: a float
 * key in Go's shortest float32 form; null, uint64 and collection keys refused;
 * NaN and infinities refused). Two keys that are different to Go but the same
 * JSON key are refused: kubectl keeps either at random.
 */
export function goValue(doc: Document.Parsed, { mayHaveAliases = true } = {}): { value: unknown; offsets: WeakMap<object, number> } {
    // Each alias's anchor: the last one set before it, in document order (an anchor is set where its node starts).
    const targets = new Map<Alias, Node | undefined>();
    const anchors = new Map<string, Node>();
    if (mayHaveAliases) {
        visit(doc, {
            Node: (_key, node) => {
                if (isAlias(node)) targets.set(node, anchors.get(node.source));
                else if (node.anchor) anchors.set(node.anchor, node);
            },
        });
    }
    const offsets = new WeakMap<object, number>();
    let decodeCount = 1; // the document node
    let aliasCount = 0;
    let aliasDepth = 0;
    const expanding = new Set<Alias>();

    const count = () => {
        decodeCount++;
        if (aliasDepth > 0) aliasCount++;
        if (aliasCount > 100 && decodeCount > 1000 && aliasCount / decodeCount > allowedAliasRatio(decodeCount)) {
            throw new KubectlReadError("document contains excessive aliasing");
        }
    };
    const target = (alias: Alias): Node => {
        const t = targets.get(alias);
        if (t === undefined) throw new KubectlReadError(`unknown anchor '${alias.source}' referenced`, alias.range?.[0]);
        return t;
    };
    const viaAlias = <T>(alias: Alias, f: (node: Node) => T): T => {
        if (expanding.has(alias)) throw new KubectlReadError(`anchor '${alias.source}' value contains itself`, alias.range?.[0]);
        expanding.add(alias);
        aliasDepth++;
        try {
            return f(target(alias));
        } finally {
            aliasDepth--;
            expanding.delete(alias);
        }
    };

    /** A node's Go value: scalars as GoScalar, maps as Map of key id to entry, lists as arrays. */
    type Go = GoScalar | GoMap | Go[];
    type GoMap = { map: Map<string | symbol, { key: GoKey; value: Go }>; offset?: number };
    const unmarshal = (node: unknown): Go => {
        count();
        if (isAlias(node)) return viaAlias(node, unmarshal);
        if (node === null || node === undefined) return { type: "null", value: null };
        if (isScalar(node)) return goScalarOf(node);
        if (isSeq(node)) return node.items.map(unmarshal);
        if (isMap(node)) {
            const into: GoMap = { map: new Map(), offset: node.range?.[0] };
            mappingInto(node, into);
            return into;
        }
        throw new KubectlReadError("unexpected YAML node");
    };
    const mappingInto = (node: YAMLMap, into: GoMap) => {
        for (const pair of node.items) {
            if (isMergeKey(pair.key)) {
                merge(pair.value, into);
                continue;
            }
            const key = unmarshal(pair.key);
            const value = unmarshal(pair.value);
            const goKey = toGoKey(key);
            // A Go map keeps the key it has and takes the new value (0.0 and -0.0 are one key).
            into.map.set(goKey.id, { key: into.map.get(goKey.id)?.key ?? goKey, value });
        }
    };
    const mergeOne = (node: unknown, into: GoMap) => {
        count();
        if (isAlias(node)) {
            viaAlias(node, (t) => {
                count();
                if (!isMap(t)) throw new KubectlReadError("map merge requires map or sequence of maps as the value");
                mappingInto(t, into);
            });
        } else if (isMap(node)) mappingInto(node, into);
        else throw new KubectlReadError("map merge requires map or sequence of maps as the value");
    };
    const merge = (value: unknown, into: GoMap) => {
        if (isSeq(value)) {
            // Earlier maps win: apply them last.
            for (const item of [...value.items].reverse()) {
                if (!isMap(item) && !(isAlias(item) && isMap(target(item)))) {
                    throw new KubectlReadError("map merge requires map or sequence of maps as the value");
                }
                mergeOne(item, into);
            }
        } else if (isMap(value) || (isAlias(value) && isMap(target(value)))) mergeOne(value, into);
        else throw new KubectlReadError("map merge requires map or sequence of maps as the value");
    };

    const toJson = (go: Go): unknown => {
        if (Array.isArray(go)) return go.map(toJson);
        if ("map" in go) {
            const obj: Record<string, unknown> = {};
            const seen = new Map<string, GoKey>();
            for (const { key, value } of go.map.values()) {
                if (key.refused) throw new KubectlReadError(key.refused);
                const other = seen.get(key.json);
                if (other) {
                    throw new KubectlReadError(
                        `keys ${other.shown} and ${key.shown} of one map are both "${key.json}" in JSON, and kubectl keeps either at random`,
                    );
                }
                seen.set(key.json, key);
                const v = toJson(value);
                if (key.json === "__proto__") Object.defineProperty(obj, key.json, { value: v, enumerable: true, writable: true, configurable: true });
                else obj[key.json] = v;
            }
            if (go.offset !== undefined) offsets.set(obj, go.offset);
            return obj;
        }
        if (go.type === "float" && !Number.isFinite(go.value)) {
            throw new KubectlReadError(`json: unsupported value: ${Number.isNaN(go.value) ? "NaN" : go.value > 0 ? "+Inf" : "-Inf"}`);
        }
        return go.value;
    };

    const root = doc.contents === null ? ({ type: "null", value: null } as const) : unmarshal(doc.contents);
    return { value: toJson(root), offsets };
}

let nanKeys = 0;

/** sigs.k8s.io/yaml's JSON key for a Go map key; keys it cannot convert are refused. */
function toGoKey(key: GoScalar | object): GoKey {
    if (Array.isArray(key) || "map" in key) throw new KubectlReadError("invalid map key: a map or list as a key");
    const k = key as GoScalar;
    switch (k.type) {
        case "str":
            return { id: `s${k.value}`, json: k.value, shown: JSON.stringify(k.value) };
        case "bool":
            return { id: `b${k.value}`, json: String(k.value), shown: `${k.value} (a boolean)` };
        case "int":
            return { id: `i${k.exact}`, json: k.exact, shown: `${k.exact} (an integer)` };
        case "float": {
            // NaN is never equal to itself, so each NaN key is a key of its own in a Go map.
            const id = Number.isNaN(k.value) ? Symbol(`nan${nanKeys++}`) : `f${k.value === 0 ? 0 : k.value}`;
            const json = goFloat32Key(k.value);
            return { id, json, shown: `${json} (a float)` };
        }
        case "uint":
            return { id: `u${k.exact}`, json: k.exact, shown: k.exact, refused: `unsupported map key of type: uint64, key: 0x${BigInt(k.exact).toString(16)}` };
        case "null":
            return { id: "n", json: "", shown: "null", refused: "unsupported map key of type: nil (an empty or null key)" };
    }
}

/** strconv.FormatFloat(v, 'g', -1, 32), with go-yaml's .inf/-.inf/.nan: how sigs.k8s.io/yaml writes a float key. */
export function goFloat32Key(v: number): string {
    const f = Math.fround(v);
    if (Number.isNaN(f)) return ".nan";
    if (f === Infinity) return ".inf";
    if (f === -Infinity) return "-.inf";
    if (f === 0) return Object.is(f, -0) ? "-0" : "0";
    // The shortest decimal that reads back as the same float32.
    let digits = "";
    let exp = 0;
    for (let p = 1; p <= 9; p++) {
        const s = Math.abs(f).toExponential(p - 1);
        if (Math.fround(Number(s)) === Math.abs(f)) {
            const [mant, e] = s.split("e");
            digits = mant.replace(".", "").replace(/0+$/, "") || "0";
            exp = Number(e);
            break;
        }
    }
    const sign = f < 0 ? "-" : "";
    if (exp < -4 || exp >= 6) {
        const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
        const e = Math.abs(exp);
        return `${sign}${mant}e${exp < 0 ? "-" : "+"}${e < 10 ? `0${e}` : e}`;
    }
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}`;
    return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}
