// Where kubectl's reading of a manifest (k8s.io/cli-runtime and
// k8s.io/apimachinery's YAMLOrJSONDecoder, sigs.k8s.io/yaml on go-yaml v2)
// differs from the `yaml` package's defaults, written down once. A difference
// left here is a way around the guard: test/policies/kubectl-parity.test.ts
// compares what the guard reads with what kubectl's own reader sends.
import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair, type Tags, type YAMLMap } from "yaml";

/**
 * YAML 1.1 scalars (yes/no/on/off/y/n are booleans, 0777 is octal, 1_000 is a
 * number); a repeated key keeps its last value; go-yaml v2 turns neither
 * timestamps nor sexagesimal numbers (1:30) into values, so those tags are left
 * out. Merge keys are applied by applyMergeKeys, not by the `yaml` package,
 * whose order differs: its merge tag is left out too, so `<<` stays a key.
 */
const DROPPED_TAGS = new Set(["tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"]);

export const KUBECTL_YAML = {
    version: "1.1",
    merge: false,
    prettyErrors: false,
    uniqueKeys: false,
    customTags: (tags: Tags) => tags.filter((t) => typeof t === "string" || (!DROPPED_TAGS.has(t.tag) && t.format !== "TIME")),
} as const;

const isMergePair = (pair: Pair): boolean => isScalar(pair.key) && pair.key.type === "PLAIN" && pair.key.value === "<<";

/** A key as a JSON object key: go-yaml v2's value, printed (true for `yes`, 1 for `1`). */
const keyText = (key: unknown): string => (isScalar(key) ? String(key.value) : JSON.stringify(key));

/**
 * Merge keys (`<<`) as go-yaml v2 applies them: in position order, each
 * merged key overriding what came before it and overridden by what comes
 * after (the `yaml` package lets explicit keys win wherever they are); from a
 * list of maps, earlier maps win. Throws, as go-yaml does, when a merge value
 * is not a map or a list of maps.
 */
export function applyMergeKeys(doc: Document.Parsed): void {
    const done = new Set<Node>();
    const walk = (node: unknown): void => {
        if (!isMap(node) && !isSeq(node)) return;
        if (done.has(node)) return;
        done.add(node);
        if (isSeq(node)) {
            node.items.forEach(walk);
            return;
        }
        for (const pair of node.items) {
            walk(pair.key);
            walk(pair.value);
        }
        if (!node.items.some(isMergePair)) return;
        const merged = new Map<string, Pair>();
        for (const pair of node.items) {
            if (!isMergePair(pair)) {
                merged.delete(keyText(pair.key));
                merged.set(keyText(pair.key), pair);
                continue;
            }
            for (const source of mergeSources(pair.value, doc)) {
                walk(source);
                for (const p of source.items) {
                    merged.delete(keyText(p.key));
                    merged.set(keyText(p.key), p);
                }
            }
        }
        node.items = [...merged.values()];
    };
    walk(doc.contents);
}

/** The maps a merge value names, in the order they are applied (a list's last map first, so its first wins). */
function mergeSources(value: unknown, doc: Document.Parsed): YAMLMap[] {
    const asMap = (v: unknown): YAMLMap => {
        const target = isAlias(v) ? v.resolve(doc) : v;
        if (isAlias(v) && target === undefined) throw new Error(`Unresolved alias (the anchor must be set before the alias): ${v.source}`);
        if (!isMap(target)) throw new Error("map merge requires map or sequence of maps as the value");
        return target;
    };
    if (isSeq(value)) return [...value.items].reverse().map(asMap);
    return [asMap(value)];
}

/**
 * A file that starts with `{` holds a stream of JSON values, one after
 * another, as the decoder reads it. Returns each value's text and offset, or
 * undefined when the text is not such a stream (it is then read as YAML, as
 * kubectl falls back to YAML when JSON fails).
 */
export function jsonValues(text: string): Array<{ text: string; offset: number }> | undefined {
    const start = text.search(/\S/);
    if (start < 0 || text[start] !== "{") return undefined;
    const values: Array<{ text: string; offset: number }> = [];
    let i = start;
    while (i < text.length) {
        if (/\s/.test(text[i])) {
            i++;
            continue;
        }
        if (text[i] !== "{") return undefined;
        let depth = 0;
        let inString = false;
        let end = -1;
        for (let j = i; j < text.length; j++) {
            const c = text[j];
            if (inString) {
                if (c === "\\") j++;
                else if (c === '"') inString = false;
            } else if (c === '"') inString = true;
            else if (c === "{" || c === "[") depth++;
            else if (c === "}" || c === "]") {
                depth--;
                if (depth === 0) {
                    end = j + 1;
                    break;
                }
            }
        }
        if (end < 0) return undefined;
        values.push({ text: text.slice(i, end), offset: i });
        i = end;
    }
    return values;
}

/**
 * A file's text as kubectl's file reader decodes it: a byte-order mark
 * chooses UTF-16 (little or big endian) or UTF-8 and is dropped; without one
 * the bytes are UTF-8.
 */
export function decodeManifestBytes(bytes: Buffer): string {
    if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString("utf16le");
    if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString("utf16le");
    if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString("utf8");
    return bytes.toString("utf8");
}
