import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { isMap, isSeq, LineCounter, parseAllDocuments, type Node } from "yaml";
import { fromManifest, type KubeObject } from "../engine/kube-object";

/** A file (or stdin) that could not be read or parsed; reported with exit code 2. */
export interface InputError {
    readonly file: string;
    readonly line?: number;
    readonly message: string;
}

export interface ReadResult {
    readonly files: string[];
    readonly objects: KubeObject[];
    readonly errors: InputError[];
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
 * Parses one file's text: multi-document YAML (comments, empty documents and a
 * leading `---` allowed, as Helm writes them) or JSON. Every non-empty document
 * must be a Kubernetes object; `List` items are expanded with their own lines.
 */
export function parseManifests(text: string, file: string): { objects: KubeObject[]; errors: InputError[] } {
    if (text.includes("\u0000")) return { objects: [], errors: [{ file, message: "binary data (NUL bytes), not a YAML or JSON manifest" }] };
    const lineCounter = new LineCounter();
    const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
    const objects: KubeObject[] = [];
    const errors: InputError[] = [];
    let docs;
    try {
        docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
    } catch (err) {
        return { objects, errors: [{ file, message: `cannot parse: ${(err as Error).message}` }] };
    }
    if (!Array.isArray(docs)) docs = [docs];
    docs.forEach((doc, index) => {
        if (doc.errors.length > 0) {
            const e = doc.errors[0];
            errors.push({ file, line: lineOf(e.pos[0]), message: `document ${index + 1} is not valid YAML: ${e.message.split("\n")[0]}` });
            return;
        }
        const node = doc.contents as Node | null;
        if (node === null || (node as { value?: unknown }).value === null) return; // an empty document
        const line = lineOf(node.range?.[0]);
        if (!isMap(node)) {
            errors.push({ file, line, message: `document ${index + 1} is ${isSeq(node) ? "a list" : "a scalar"}, not a Kubernetes object` });
            return;
        }
        let value: Record<string, unknown>;
        try {
            // Aliases to missing anchors and alias bombs only fail here, not in parsing.
            value = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
        } catch (err) {
            errors.push({ file, line, message: `document ${index + 1} cannot be read: ${(err as Error).message.split("\n")[0]}` });
            return;
        }
        if (typeof value.apiVersion !== "string" || typeof value.kind !== "string") {
            errors.push({ file, line, message: `document ${index + 1} has no apiVersion/kind: not a Kubernetes manifest` });
            return;
        }
        objects.push(...expandWithLines(value, node, file, line, lineOf));
    });
    return { objects, errors };
}

/** A List's items carry the line of their own node; other objects the line of their document. */
function expandWithLines(
    value: Record<string, unknown>,
    node: Node,
    file: string,
    line: number | undefined,
    lineOf: (offset: number | undefined) => number | undefined,
): KubeObject[] {
    const items = isMap(node) ? node.get("items", true) : undefined;
    const kind = value.kind as string;
    if (!kind.endsWith("List") || !Array.isArray(value.items) || !isSeq(items)) return fromManifest(value, { file, line });
    const itemKind = kind === "List" ? undefined : kind.slice(0, -"List".length);
    return (value.items as unknown[]).flatMap((item, i) => {
        if (item === null || typeof item !== "object") return [];
        const own = item as Record<string, unknown>;
        const typed = { ...own, apiVersion: own.apiVersion ?? value.apiVersion, kind: own.kind ?? itemKind };
        const itemNode = items.items[i] as Node | undefined;
        const itemLine = lineOf(itemNode?.range?.[0]) ?? line;
        return itemNode ? expandWithLines(typed, itemNode, file, itemLine, lineOf) : fromManifest(typed, { file, line: itemLine });
    });
}

/** Reads every path; unreadable or unparsable files become errors and the rest are still read. */
export function readManifests(paths: readonly string[], readStdin: () => string): ReadResult {
    const { files, errors } = expandPaths(paths);
    const objects: KubeObject[] = [];
    for (const file of files) {
        let text: string;
        try {
            text = file === "-" ? readStdin() : readFileSync(file, "utf8");
        } catch (err) {
            errors.push({ file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
            continue;
        }
        const parsed = parseManifests(text, file === "-" ? "<stdin>" : file);
        objects.push(...parsed.objects);
        errors.push(...parsed.errors);
    }
    return { files: files.map((f) => (f === "-" ? "<stdin>" : f)), objects, errors };
}
