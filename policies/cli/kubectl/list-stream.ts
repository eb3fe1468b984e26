// A large YAML List read one item at a time, as a stream of small documents:
// the `yaml` package's tree of a 50 MB List would take about 40 bytes per byte.
import { decodeYamlDocument, lowerBound, type YamlValue } from "./decoder";
import { KubectlReadError } from "./read-error";

/** What streamYamlList reads: the document without its items, and its items one at a time. */
export interface StreamedList {
    readonly head: YamlValue;
    /** Each item's value, or why kubectl refuses it; `line` is 0-based in the document's text. */
    readonly items: Iterable<{ readonly value: unknown; readonly line: number } | { readonly error: KubectlReadError; readonly line: number }>;
}

/**
 * A document of the form `...\nitems:\n- item\n- item...` (a List as kubectl
 * and Helm write one) read one item at a time, so that a 50 MB List needs its
 * text and one item, not the `yaml` package's tree of all of it (about 40
 * bytes for each byte of YAML). Each item is the text from its `-` to the next
 * one, read by decodeYamlDocument as a list of one; the rest of the document
 * is read without them. Returns undefined, for the document to be read whole,
 * where that could read differently: `items` not once at the start of a line
 * or not a block list, an alias that may name an anchor in another item,
 * line ends other than LF. (An item cut in the middle of a quoted scalar or
 * flow collection is refused as unclosed, as go-yaml would not refuse it.)
 */
export function streamYamlList(chunk: string): StreamedList | undefined {
    if (/[\r\u0085\u2028\u2029]/.test(chunk)) return undefined;
    const keys = [...chunk.matchAll(/^items:[ \t]*(?:#[^\n]*)?\n/gm)];
    if (keys.length !== 1) return undefined;
    const keyStart = keys[0].index;
    const blockStart = keyStart + keys[0][0].length;
    // The items: lines from one `-` in the first item's column to the next; the block ends left of that column.
    const starts: number[] = [];
    let column = -1;
    let end = chunk.length;
    for (let line = blockStart; line < chunk.length; line = chunk.indexOf("\n", line) + 1 || chunk.length) {
        const m = /^( *)(\S?)/.exec(chunk.slice(line, line + 512)) as RegExpExecArray;
        const [, indent, first] = m;
        if (first === "" || first === "#") continue;
        if (column < 0) {
            if (first !== "-") return undefined;
            column = indent.length;
        }
        const dash = indent.length === column && first === "-" && /^-(?: |$)/m.test(chunk.slice(line + column, line + column + 2));
        if (dash) starts.push(line);
        else if (indent.length < column || (indent.length === 0 && first !== "-")) {
            end = line;
            break;
        }
    }
    if (starts.length === 0) return undefined;
    // An alias that names an anchor set in another item (or outside the items) cannot be read item by item.
    const ranges = starts.map((s, i) => [s, i + 1 < starts.length ? starts[i + 1] : end] as const);
    const itemOf = (offset: number) => (offset < starts[0] || offset >= end ? -1 : lowerBound(starts, offset + 1) - 1);
    const anchorsAt = new Map<string, number[]>();
    for (const m of chunk.matchAll(/&([0-9A-Za-z_-]+)/g)) anchorsAt.set(m[1], [...(anchorsAt.get(m[1]) ?? []), itemOf(m.index)]);
    for (const m of chunk.matchAll(/\*([0-9A-Za-z_-]+)/g)) {
        const where = anchorsAt.get(m[1]);
        if (where && where.some((i) => i !== itemOf(m.index))) return undefined;
    }
    const head = decodeYamlDocument(`${chunk.slice(0, keyStart)}${" ".repeat(blockStart - keyStart - 1)}\n${chunk.slice(end)}`);
    if (head.value === null || typeof head.value !== "object" || Array.isArray(head.value) || Object.hasOwn(head.value, "items")) return undefined;
    const lineAt = (() => {
        let at = 0;
        let line = 0;
        return (offset: number) => {
            for (; at < offset; at++) if (chunk.charCodeAt(at) === 10) line++;
            return line;
        };
    })();
    function* items() {
        for (const [a, b] of ranges) {
            const base = lineAt(a);
            try {
                const item = decodeYamlDocument(chunk.slice(a, b));
                const value = Array.isArray(item.value) ? (item.value[0] as unknown) : item.value;
                const at = value !== null && typeof value === "object" ? item.offsets.get(value) : undefined;
                yield { value, line: base + (at === undefined ? 0 : item.lineOf(at)) };
            } catch (err) {
                if (!(err instanceof KubectlReadError)) throw err;
                yield { error: err, line: base + (err.line ?? 0) };
            }
        }
    }
    return { head, items: items() };
}
