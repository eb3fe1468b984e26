// The reader hands out one document at a time; what it finds is what yaml's parseAllDocuments
// over the whole text finds (the reader before it streamed): the same objects, lines and errors.
import fc from "fast-check";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isMap, isSeq, LineCounter, parseAllDocuments, stringify, type Node } from "yaml";
import { applyMergeKeys, KUBECTL_YAML } from "../../policies/cli/kubectl-yaml";
import { parseManifests, readManifests, type InputError } from "../../policies/cli/read-manifests";
import { fromManifest, type KubeObject } from "../../policies/engine/kube-object";
import { asHelmOutput, deployment, GUARD_CASES } from "../fixtures/guard-cases";
import { ROOT } from "../helpers/stack-file";

/** The reader as it was: every document parsed at once, lines from yaml's LineCounter. */
function allAtOnce(text: string, file: string): { objects: KubeObject[]; errors: InputError[] } {
    if (text.includes("\u0000")) return { objects: [], errors: [{ file, message: "binary data (NUL bytes), not a YAML or JSON manifest" }] };
    const lineCounter = new LineCounter();
    const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
    const objects: KubeObject[] = [];
    const errors: InputError[] = [];
    const expand = (value: Record<string, unknown>, node: Node, line: number | undefined): KubeObject[] => {
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
            return itemNode ? expand(typed, itemNode, itemLine) : fromManifest(typed, { file, line: itemLine });
        });
    };
    parseAllDocuments(text, { ...KUBECTL_YAML, lineCounter }).forEach((doc, index) => {
        if (doc.errors.length > 0) {
            const e = doc.errors[0];
            errors.push({ file, line: lineOf(e.pos[0]), message: `document ${index + 1} is not valid YAML: ${e.message.split("\n")[0]}` });
            return;
        }
        const node = doc.contents as Node | null;
        if (node === null || (node as { value?: unknown }).value === null) return;
        const line = lineOf(node.range?.[0]);
        if (!isMap(node)) {
            errors.push({ file, line, message: `document ${index + 1} is ${isSeq(node) ? "a list" : "a scalar"}, not a Kubernetes object` });
            return;
        }
        let value: Record<string, unknown>;
        try {
            applyMergeKeys(doc);
            value = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
        } catch (err) {
            errors.push({ file, line, message: `document ${index + 1} cannot be read: ${(err as Error).message.split("\n")[0]}` });
            return;
        }
        if (typeof value.apiVersion !== "string" || typeof value.kind !== "string") {
            errors.push({ file, line, message: `document ${index + 1} has no apiVersion/kind: not a Kubernetes manifest` });
            return;
        }
        try {
            objects.push(...expand(value, node, line));
        } catch (err) {
            errors.push({ file, line, message: `document ${index + 1} cannot be read: ${(err as Error).message}` });
        }
    });
    return { objects, errors };
}

function streamed(text: string, file: string): { objects: KubeObject[]; errors: InputError[] } {
    const objects: KubeObject[] = [];
    const errors: InputError[] = [];
    for (const item of parseManifests(text, file)) {
        if ("error" in item) errors.push(item.error);
        else objects.push(...item.objects);
    }
    return { objects, errors };
}

describe("one document at a time reads what parseAllDocuments reads", () => {
    it("the guard fixtures as Helm output, the incident, a List between bad documents, CRLF lines", () => {
        const texts = [
            asHelmOutput(GUARD_CASES.flatMap((c) => c.objects)),
            readFileSync(join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml"), "utf8"),
            `${stringify({ apiVersion: "v1", kind: "List", items: [deployment(), deployment()] })}---\nkind: [unclosed\n---\n- a\n---\n${stringify(deployment())}`,
            'apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\ndata:\r\n  k: "é ü 雪"\r\n---\r\napiVersion: v1\r\nkind: Pod\r\n',
        ];
        for (const text of texts) {
            const read = streamed(text, "f.yaml");
            expect(read).toEqual(allAtOnce(text, "f.yaml"));
            expect(read.objects.length + read.errors.length).toBeGreaterThan(0);
        }
    });

    it("on random YAML-looking text", () => {
        const parts = ["apiVersion: v1\n", "kind: Pod\n", "kind: List\nitems:\n", "- ", ": ", "---\n", "...\n", "\n", "  ", "    ", "{", "}", "[", "]"];
        const more = ["'", '"', "&a ", "*a", "<<: *a\n", "|\n", ">-\n", "#", "x", "é", "\r\n", "%YAML 1.2\n", "!!str ", "\u0000"];
        fc.assert(
            fc.property(fc.array(fc.constantFrom(...parts, ...more), { maxLength: 80 }), (pieces) => {
                const text = pieces.join("");
                expect(streamed(text, "f.yaml")).toEqual(allAtOnce(text, "f.yaml"));
            }),
            { numRuns: 500 },
        );
    });
});

describe("readManifests", () => {
    it("yields missing paths first, then each file's documents in order, one at a time", () => {
        const good = join(mkdtempSync(join(tmpdir(), "oceanid-read-")), "two.yaml");
        writeFileSync(good, `${stringify(deployment())}---\n${stringify(deployment(undefined, { name: "second" }))}`);
        const read = readManifests(["/nonexistent/a.yaml", good], () => "");
        expect(read.files).toEqual([good]);
        const items = read.items[Symbol.iterator]();
        expect(items.next().value).toEqual({ error: { file: "/nonexistent/a.yaml", message: "cannot read: ENOENT" } });
        const first = items.next().value as { objects: { body: { metadata: { name: string } }; source: unknown }[] };
        expect(first.objects.map((o) => [o.body.metadata.name, o.source])).toEqual([["web", { file: good, line: 1 }]]);
        const second = items.next().value as typeof first;
        expect(second.objects.map((o) => [o.body.metadata.name, o.source])).toEqual([
            ["second", { file: good, line: 1 + stringify(deployment()).split("\n").length }],
        ]);
        expect(items.next().done).toBe(true);
    });
});
