import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { fromManifest, type KubeObject } from "../engine/kube-object";
import { decodeManifestBytes } from "./kubectl/bytes";
import { decodeYamlDocument } from "./kubectl/decoder";
import { manifestParts } from "./kubectl/documents";
import { jsonElements, jsonMembers, parseJson } from "./kubectl/json";
import { streamYamlList } from "./kubectl/list-stream";
import { kubectlObjectProblem } from "./kubectl/metadata";

/** A file (or stdin) that could not be read or parsed; reported with exit code 2. */
export interface InputError {
    readonly file: string;
    readonly line?: number;
    readonly message: string;
}

/** What one document of a file holds (one object, or one item of a list), or why it cannot be read. */
export type ReadItem = { readonly objects: KubeObject[] } | { readonly error: InputError };

export interface ManifestReader {
    /** Every file that is read, `<stdin>` for `-`. */
    readonly files: string[];
    /** The objects, one at a time and file by file (a list's items one by one): nothing before the current one is kept. */
    readonly items: Iterable<ReadItem>;
}

const MANIFEST_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

/**
 * Files to read for the given arguments: files as given, directories
 * recursively (YAML and JSON only), `-` for stdin. Symbolic links are
 * followed, to files as kubectl follows them and to directories too (kubectl
 * does not descend into those: reading more is the safe side), each directory
 * once, so a link back up the tree ends. A link to nothing is an error.
 */
export function expandPaths(paths: readonly string[]): { files: string[]; errors: InputError[] } {
    const files: string[] = [];
    const errors: InputError[] = [];
    const seenDirs = new Set<string>();
    const walk = (dir: string) => {
        const real = realpathSync(dir);
        if (seenDirs.has(real)) return;
        seenDirs.add(real);
        // Byte order of names, as Go's filepath.Walk sorts them.
        const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const entry of entries) {
            const p = join(dir, entry.name);
            if (entry.isDirectory()) walk(p);
            else if (entry.isSymbolicLink()) {
                let target;
                try {
                    target = statSync(p);
                } catch (err) {
                    if (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
                        errors.push({ file: p, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)} (a symbolic link to nothing)` });
                    }
                    continue;
                }
                if (target.isDirectory()) walk(p);
                else if (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(p);
            } else if (entry.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(p);
        }
    };
    for (const p of paths) {
        if (p === "-") {
            files.push(p);
            continue;
        }
        try {
            if (statSync(p).isDirectory()) walk(p);
            else files.push(p);
        } catch (err) {
            errors.push({ file: p, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
        }
    }
    return { files, errors };
}

/** One document's value, with its `items` (when it has that key) to be read one element at a time. */
interface DocumentValue {
    readonly value: unknown;
    readonly line: number;
    readonly items?:
        | { readonly value: unknown }
        | { readonly elements: Iterable<{ readonly value: unknown; readonly line: number } | { readonly error: string; readonly line: number }> };
}

/**
 * Parses one file's text, document by document, as kubectl reads it
 * (kubectl/documents.ts): YAML documents split at `---` lines, or JSON values one
 * after another. Every non-empty document must be a Kubernetes object; a list
 * (any object with `items`) gives its items one at a time, each with its own
 * line. A JSON list's items are parsed one at a time too, so a 50 MB List
 * never needs more than its text and one item.
 */
export function* parseManifests(text: string, file: string): Generator<ReadItem> {
    let index = 0;
    for (const part of manifestParts(text)) {
        index++;
        const fail = (message: string, line = part.line): ReadItem => ({ error: { file, line, message: `document ${index} ${message}` } });
        if ("error" in part) {
            yield fail(`cannot be read: ${part.error}`);
            continue;
        }
        let doc: DocumentValue;
        try {
            doc = "json" in part ? jsonDocument(part.json, part.line) : yamlDocument(part.yaml, part.line);
        } catch (err) {
            const { message, line } = err as Error & { line?: number };
            const what =
                "yaml" in part && part.yaml.includes("\u0000") ? "is binary data (NUL bytes), not a YAML or JSON manifest" : `cannot be read: ${message}`;
            yield fail(what, line ?? part.line);
            continue;
        }
        yield* documentObjects(doc, file, fail);
    }
}

/** Above this size, a YAML List is read one item at a time (streamYamlList). */
const STREAM_YAML_BYTES = 1 << 20;

/** A YAML document: whole, or a large List one item at a time. */
function yamlDocument(chunk: string, line: number): DocumentValue {
    let read;
    try {
        const streamed = chunk.length > STREAM_YAML_BYTES ? streamYamlList(chunk) : undefined;
        if (streamed) {
            const elements = function* () {
                for (const item of streamed.items) {
                    yield "error" in item ? { error: item.error.message, line: line + item.line } : { value: item.value, line: line + item.line };
                }
            };
            return { value: streamed.head.value, line: line + streamed.head.line, items: { elements: elements() } };
        }
        read = decodeYamlDocument(chunk);
    } catch (err) {
        const at = (err as { line?: number }).line;
        throw Object.assign(new Error((err as Error).message), { line: at === undefined ? undefined : line + at });
    }
    const { value, offsets, lineOf } = read;
    line += read.line;
    if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, "items")) return { value, line };
    const items = (value as { items: unknown }).items;
    if (!Array.isArray(items)) return { value, line, items: { value: items } };
    return {
        value,
        line,
        items: {
            elements: items.map((item: unknown) => {
                const at = item !== null && typeof item === "object" ? offsets.get(item) : undefined;
                return { value: item, line: at === undefined ? line : line + lineOf(at) };
            }),
        },
    };
}

/** A JSON value; an object's members are parsed one by one, and its `items` one element at a time. */
function jsonDocument(text: string, line: number): DocumentValue {
    if (text[0] !== "{") return { value: parseJson(text), line };
    const head: Record<string, unknown> = {};
    let items: { start: number; end: number } | undefined;
    for (const member of jsonMembers(text, 0)) {
        // A repeated key keeps its last value, as Go's encoding/json does.
        if (member.key === "items") {
            items = member;
            delete head.items;
            continue;
        }
        Object.defineProperty(head, member.key, {
            value: parseJson(text.slice(member.start, member.end)),
            enumerable: true,
            writable: true,
            configurable: true,
        });
    }
    if (items === undefined) return { value: head, line };
    if (text[items.start] !== "[") return { value: head, line, items: { value: parseJson(text.slice(items.start, items.end)) } };
    const range = items;
    function* elements() {
        let at = 0;
        let lines = 0;
        for (const element of jsonElements(text, range.start)) {
            for (; at < element.start; at++) if (text.charCodeAt(at) === 10) lines++;
            yield { value: parseJson(text.slice(element.start, element.end)), line: line + lines };
        }
    }
    return { value: head, line, items: { elements: elements() } };
}

/** apimachinery's reading of an object's type: a kind, and the version of its apiVersion ("" where it has none). */
function typeOf(obj: Record<string, unknown>): { kind: string; apiVersion: string; version: string } {
    const apiVersion = typeof obj.apiVersion === "string" ? obj.apiVersion : "";
    const kind = typeof obj.kind === "string" ? obj.kind : "";
    const slashes = apiVersion.split("/").length - 1;
    // An apiVersion with two slashes is no group/version: the object then has no kind either.
    if (slashes > 1) return { kind: "", apiVersion, version: "" };
    return { kind, apiVersion, version: slashes === 0 ? apiVersion : apiVersion.slice(apiVersion.indexOf("/") + 1) };
}

/**
 * kubectl's resource builder removes a namespace that is empty, null or not a
 * string before it sends an object (the namespace then comes from the
 * context, as for an object without one).
 */
function withoutEmptyNamespace(obj: Record<string, unknown>): Record<string, unknown> {
    const metadata = obj.metadata;
    if (!isObject(metadata) || !Object.hasOwn(metadata, "namespace")) return obj;
    if (typeof metadata.namespace === "string" && metadata.namespace !== "") return obj;
    const rest = { ...metadata };
    delete rest.namespace;
    return { ...obj, metadata: rest };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The objects kubectl sends for one document: the object itself; or, for an
 * object with `items` (whatever its kind), its items and nothing else. An item
 * with neither kind nor apiVersion takes the list's apiVersion and its kind
 * less a "List" suffix; an item that is a list itself is an error, as it is to kubectl.
 * An object kubectl cannot type is an error; the guard also refuses one
 * without a version, which kubectl could only resolve with a cluster.
 */
function* documentObjects(doc: DocumentValue, file: string, fail: (message: string, line?: number) => ReadItem): Generator<ReadItem> {
    const { value, line } = doc;
    if (value === null) return; // an empty document
    if (!isObject(value)) {
        yield fail(`is ${Array.isArray(value) ? "a list" : "a scalar"}, not a Kubernetes object`, line);
        return;
    }
    const type = typeOf(value);
    if (type.kind === "" || (doc.items === undefined && type.version === "")) {
        yield fail("has no apiVersion/kind: not a Kubernetes manifest", line);
        return;
    }
    const problem = kubectlObjectProblem(value);
    if (problem) {
        yield fail(`cannot be read: ${problem}`, line);
        return;
    }
    if (doc.items === undefined) {
        yield { objects: fromManifest(withoutEmptyNamespace(value), { file, line }) };
        return;
    }
    if ("value" in doc.items) {
        if (doc.items.value !== null) yield fail('cannot be read: "items" is not a list', line);
        return;
    }
    const itemKind = type.kind.endsWith("List") ? type.kind.slice(0, -"List".length) : type.kind;
    let i = 0;
    for (const element of doc.items.elements) {
        i++;
        if ("error" in element) {
            yield fail(`cannot be read: item ${i}: ${element.error}`, element.line);
            continue;
        }
        if (element.value !== null && !isObject(element.value)) {
            yield fail(`cannot be read: item ${i} of "items" is not an object`, element.line);
            continue;
        }
        let item = element.value ?? {};
        const own = typeOf(item);
        if (own.kind === "" && own.apiVersion === "") item = { ...item, kind: itemKind, apiVersion: type.apiVersion };
        yield* itemObjects(item, `item ${i}`, element.line, file, fail);
    }
}

/** One item of a list. */
function* itemObjects(
    item: Record<string, unknown>,
    name: string,
    line: number,
    file: string,
    fail: (message: string, line?: number) => ReadItem,
): Generator<ReadItem> {
    if (Array.isArray(item.items)) {
        // kubectl cannot expand a list inside a list: it sends none of the outer list's items. Its
        // items are checked all the same, so that the report says what such a file would hold.
        yield fail(`cannot be read: ${name} is a list itself (it has "items"), which kubectl does not expand`, line);
        let j = 0;
        for (const inner of item.items as unknown[]) {
            j++;
            if (isObject(inner)) yield* itemObjects(inner, `${name}.${j}`, line, file, fail);
        }
        return;
    }
    const type = typeOf(item);
    if (type.kind === "" || type.version === "") {
        yield fail(`${name} has no ${type.kind === "" ? "kind" : "apiVersion"}: not a Kubernetes object`, line);
        return;
    }
    yield { objects: fromManifest(withoutEmptyNamespace(item), { file, line }) };
}

/**
 * Reads every path, one file at a time: unreadable or unparsable files become
 * errors and the rest are still read. Errors for paths that do not exist come
 * first, then each file's documents in order. Stdin is decoded as a file is
 * when `readStdin` gives its bytes.
 */
export function readManifests(paths: readonly string[], readStdin: () => string | Uint8Array): ManifestReader {
    const { files, errors } = expandPaths(paths);
    function* items(): Generator<ReadItem> {
        for (const error of errors) yield { error };
        for (const file of files) {
            let text: string;
            try {
                const read = file === "-" ? readStdin() : readFileSync(file);
                text = typeof read === "string" ? read : decodeManifestBytes(read);
            } catch (err) {
                yield { error: { file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` } };
                continue;
            }
            yield* parseManifests(text, file === "-" ? "<stdin>" : file);
        }
    }
    return { files: files.map((f) => (f === "-" ? "<stdin>" : f)), items: items() };
}
