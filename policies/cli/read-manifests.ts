import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { Composer, isMap, isSeq, Parser, type Document, type Node } from "yaml";
import { fromManifest, type KubeObject } from "../engine/kube-object";
import { applyMergeKeys, decodeManifestBytes, jsonValues, KUBECTL_YAML } from "./kubectl-yaml";

/** A file (or stdin) that could not be read or parsed; reported with exit code 2. */
export interface InputError {
    readonly file: string;
    readonly line?: number;
    readonly message: string;
}

/** What one document of a file holds: its objects (a List's items, one by one), or why it cannot be read. */
export type ReadItem = { readonly objects: KubeObject[] } | { readonly error: InputError };

export interface ManifestReader {
    /** Every file that is read, `<stdin>` for `-`. */
    readonly files: string[];
    /** The documents, one at a time and file by file: nothing before the current document is kept. */
    readonly items: Iterable<ReadItem>;
}

const MANIFEST_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

/** Files to read for the given arguments: files as given, directories recursively (YAML and JSON only), `-` for stdin. */
export function expandPaths(paths: readonly string[]): { files: string[]; errors: InputError[] } {
    const files: string[] = [];
    const errors: InputError[] = [];
    const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const p = join(dir, entry.name);
            if (entry.isDirectory()) walk(p);
            else if (entry.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(p);
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

/**
 * Line numbers for parser offsets, like yaml's LineCounter, but it forgets the
 * lines of documents already read: a 10,000-document file would otherwise keep
 * a table of every line start to the end.
 */
class LineWindow {
    /** Offsets where lines start, from the first line still needed on. */
    private starts: number[] = [];
    /** Line starts forgotten before `starts[0]`. */
    private dropped = 0;

    /** The parser's onNewLine. */
    readonly addNewLine = (offset: number) => {
        this.starts.push(offset);
    };

    /** The 1-based line of `offset`, as LineCounter.linePos(offset).line gives it. */
    line(offset: number): number {
        let low = 0;
        let high = this.starts.length;
        while (low < high) {
            const mid = (low + high) >> 1;
            if (this.starts[mid] < offset) low = mid + 1;
            else high = mid;
        }
        return this.dropped + low + (this.starts[low] === offset ? 1 : 0);
    }

    /** Forgets line starts before `offset`; later questions are about offsets at or after it. */
    forgetBefore(offset: number): void {
        let n = 0;
        while (n < this.starts.length && this.starts[n] < offset) n++;
        this.starts.splice(0, n);
        this.dropped += n;
    }
}

/**
 * Parses one file's text, document by document: multi-document YAML (comments,
 * empty documents and a leading `---` allowed, as Helm writes them) or JSON
 * (several values in a row too), read as kubectl reads it (kubectl-yaml.ts).
 * Every non-empty document must be a Kubernetes object; the items of a list
 * are expanded with their own lines. Each document is composed only when the
 * one before has been used, so the text is the only thing held whole. (yaml's parser also takes text in
 * pieces, but in 2.9.1 a piece ending inside a line's indentation, or before a
 * `---` after a block scalar header, is read differently from the whole text.)
 */
export function* parseManifests(text: string, file: string): Generator<ReadItem> {
    if (text.includes("\u0000")) {
        yield { error: { file, message: "binary data (NUL bytes), not a YAML or JSON manifest" } };
        return;
    }
    let index = 0;
    const next = () => ++index;
    // Several JSON values one after another: kubectl reads each (one value is read as YAML below).
    const json = jsonValues(text);
    if (json !== undefined && json.length > 1) {
        let line = 0;
        let at = 0;
        for (const value of json) {
            for (; at < value.offset; at++) if (text[at] === "\n") line++;
            yield* parseYaml(value.text, file, line, next);
        }
        return;
    }
    yield* parseYaml(text, file, 0, next);
}

/** The YAML documents of `text`, which starts `lineBase` lines into the file. */
function* parseYaml(text: string, file: string, lineBase: number, nextIndex: () => number): Generator<ReadItem> {
    const lines = new LineWindow();
    const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lineBase + lines.line(offset));
    try {
        const docs = new Composer(KUBECTL_YAML).compose(new Parser(lines.addNewLine).parse(text));
        for (let next = docs.next(); !next.done; next = docs.next()) {
            const item = readDocument(next.value, nextIndex(), file, lineOf);
            lines.forgetBefore(next.value.range[0]);
            yield item;
        }
    } catch (err) {
        // The parser reports bad YAML as errors on a document; this is for what it did not foresee.
        yield { error: { file, message: `cannot parse: ${(err as Error).message}` } };
    }
}

function readDocument(doc: Document.Parsed, index: number, file: string, lineOf: (offset: number | undefined) => number | undefined): ReadItem {
    if (doc.errors.length > 0) {
        const e = doc.errors[0];
        return { error: { file, line: lineOf(e.pos[0]), message: `document ${index} is not valid YAML: ${e.message.split("\n")[0]}` } };
    }
    const node = doc.contents as Node | null;
    if (node === null || (node as { value?: unknown }).value === null) return { objects: [] }; // an empty document
    const line = lineOf(node.range?.[0]);
    if (!isMap(node)) {
        return { error: { file, line, message: `document ${index} is ${isSeq(node) ? "a list" : "a scalar"}, not a Kubernetes object` } };
    }
    let value: Record<string, unknown>;
    try {
        // Aliases to missing anchors and alias bombs only fail here, not in parsing.
        applyMergeKeys(doc);
        value = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
    } catch (err) {
        return { error: { file, line, message: `document ${index} cannot be read: ${(err as Error).message.split("\n")[0]}` } };
    }
    if (typeof value.apiVersion !== "string" || typeof value.kind !== "string") {
        return { error: { file, line, message: `document ${index} has no apiVersion/kind: not a Kubernetes manifest` } };
    }
    try {
        return { objects: expandWithLines(value, node, file, line, lineOf) };
    } catch (err) {
        return { error: { file, line, message: `document ${index} cannot be read: ${(err as Error).message}` } };
    }
}

/** A list's items carry the line of their own node; other objects the line of their document. */
function expandWithLines(
    value: Record<string, unknown>,
    node: Node,
    file: string,
    line: number | undefined,
    lineOf: (offset: number | undefined) => number | undefined,
): KubeObject[] {
    // kubectl decodes any object with an `items` key as a list and sends only its items, whatever
    // its kind (`kind: Anything` can carry a DaemonSet); an item without a kind takes the list's,
    // less a "List" suffix.
    if (!Object.hasOwn(value, "items")) return fromManifest(value, { file, line });
    if (value.items === null) return [];
    if (!Array.isArray(value.items)) throw new Error('"items" is not a list');
    const itemsNode = isMap(node) ? node.get("items", true) : undefined;
    const items = isSeq(itemsNode) ? itemsNode : { items: [] };
    const kind = value.kind as string;
    const itemKind = kind === "List" ? undefined : kind.endsWith("List") ? kind.slice(0, -"List".length) : kind;
    return (value.items as unknown[]).flatMap((item, i) => {
        if (item === null || typeof item !== "object") return [];
        const own = item as Record<string, unknown>;
        const typed = { ...own, apiVersion: own.apiVersion ?? value.apiVersion, kind: own.kind ?? itemKind };
        const itemNode = items.items[i] as Node | undefined;
        const itemLine = lineOf(itemNode?.range?.[0]) ?? line;
        return itemNode ? expandWithLines(typed, itemNode, file, itemLine, lineOf) : fromManifest(typed, { file, line: itemLine });
    });
}

/**
 * Reads every path, one file at a time: unreadable or unparsable files become
 * errors and the rest are still read. Errors for paths that do not exist come
 * first, then each file's documents in order.
 */
export function readManifests(paths: readonly string[], readStdin: () => string): ManifestReader {
    const { files, errors } = expandPaths(paths);
    function* items(): Generator<ReadItem> {
        for (const error of errors) yield { error };
        for (const file of files) {
            let text: string;
            try {
                text = file === "-" ? readStdin() : decodeManifestBytes(readFileSync(file));
            } catch (err) {
                yield { error: { file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` } };
                continue;
            }
            yield* parseManifests(text, file === "-" ? "<stdin>" : file);
        }
    }
    return { files: files.map((f) => (f === "-" ? "<stdin>" : f)), items: items() };
}
