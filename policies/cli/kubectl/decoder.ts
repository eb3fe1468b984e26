// One YAML document as go-yaml v2 reads it into JSON for kubectl: the `yaml`
// package parses it, after its text is rewritten where the two lexers cut it
// into different tokens, and every place go-yaml refuses what the `yaml`
// package reads (tabs, unclosed quotes, directives, control characters) is
// checked here.
import { Composer, CST, isAlias, Parser, visit, type Document, type Node } from "yaml";
import { KubectlReadError } from "./read-error";
import { composerOptions, TAG } from "./scalars";
import { goValue } from "./values";

/** Characters go-yaml's reader refuses ("control characters are not allowed"). */
const NOT_PRINTABLE = /[^\t\n\r\x20-\x7e\u0085\u00a0-\ud7ff\ue000-\ufffd\ud800-\udfff]/;

/** What a YAML document holds, where each of its maps starts, and the line (0-based, in the document) of an offset. */
export interface YamlValue {
    readonly value: unknown;
    readonly offsets: WeakMap<object, number>;
    /** The line (0-based, in the document's text) where its value starts, after comments and `---`. */
    readonly line: number;
    lineOf(offset: number): number;
}

/**
 * The document's text as go-yaml reads it: CR LF, CR, NEL, LS and PS all end
 * a line (go-yaml's read_line), written here as LF. Returns the text, the
 * offsets of LFs that were not there (for line numbers) and of LS/PS.
 */
function goLineBreaks(chunk: string): { text: string; added: number[]; separators: number[] } {
    const added: number[] = [];
    const separators: number[] = [];
    let shift = 0;
    const text = chunk.replace(/\r\n|[\r\u0085\u2028\u2029]/g, (m: string, offset: number) => {
        const at = offset - shift;
        if (m === "\r\n") shift += 1;
        else added.push(at);
        if (m === "\u2028" || m === "\u2029") separators.push(at);
        return "\n";
    });
    return { text, added, separators };
}

/**
 * The first document of one piece of YAML (a manifestParts `yaml` part), as
 * go-yaml v2 reads it into JSON for kubectl: only the first document counts
 * (text after a `...` or a second `---` is not read); CR, NEL, LS and PS end
 * lines as LF does; a directive needs an explicit `---` after it; `#` starts a
 * comment after any token, not only after white space. Throws
 * KubectlReadError where kubectl refuses the document.
 */
export function decodeYamlDocument(chunk: string): YamlValue {
    const { text, lineOf, separators, first, tagErrors } = goText(chunk);
    try {
        return decodeGoText(text, first, lineOf, separators, tagErrors);
    } catch (err) {
        // An error at the very end belongs to the last line, not the one after its line end.
        if (err instanceof KubectlReadError && err.offset !== undefined) err.line = lineOf(Math.min(err.offset, Math.max(0, text.length - 1)));
        throw err;
    }
}

/**
 * Byte-order marks where a document starts: go-yaml's reader drops one, then
 * its scanner skips one more in column 0 like a blank (what follows is in
 * column 1). Before a flow collection or quoted scalar that is read here as
 * the `yaml` package's own byte-order mark and a space; anywhere else go-yaml
 * loses track of its columns, and the document is refused.
 */
function goMarks(chunk: string): string {
    if (!chunk.startsWith("\ufeff\ufeff")) return chunk;
    // Before a block collection (or a third mark), go-yaml's columns no longer match the text.
    if (chunk.startsWith("\ufeff\ufeff\ufeff") || !/^\ufeff\ufeff[ \t]*["'[{]/.test(chunk)) {
        throw new KubectlReadError("byte-order marks at the start of a document, which kubectl reads out of step with the text: not read", 0);
    }
    return `\ufeff ${chunk.slice(2)}`;
}

function goText(original: string) {
    const chunk = goMarks(original);
    const broken = chunk.includes("\r") || /[\u0085\u2028\u2029]/.test(chunk) ? goLineBreaks(chunk) : { text: chunk, added: [], separators: [] };
    const { text, shift, first, tagErrors } = goLexing(broken.text);
    const added = broken.added.map(shift);
    const separators = broken.separators.map(shift);
    let breaks: Int32Array | undefined;
    const lineOf = (offset: number): number => {
        // LFs before the offset, less those that stand for CR, NEL, LS or PS.
        breaks ??= Int32Array.from(
            (function* () {
                for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) yield i;
            })(),
        );
        return lowerBound(breaks, offset) - lowerBound(added, offset);
    };
    return { text, lineOf, separators, first, tagErrors };
}

const isQuoted = (t: CST.Token | undefined): t is CST.FlowScalar => t !== undefined && (t.type === "double-quoted-scalar" || t.type === "single-quoted-scalar");
const column = (text: string, offset: number) => offset - (text.lastIndexOf("\n", offset - 1) + 1);

/** `remove` characters at `at` replaced by `insert`. */
interface Edit {
    readonly at: number;
    readonly remove: number;
    readonly insert: string;
}

/**
 * Rewrites, without changing what any value means, the places where the
 * `yaml` package's lexer cuts the text into other tokens than go-yaml's
 * scanner does:
 * - a quoted scalar or flow collection runs to its closing quote or bracket
 *   in go-yaml however its lines are indented; the `yaml` package ends it at a
 *   line indented no deeper than the block around it. Such lines are indented
 *   (their leading spaces belong to no value);
 * - a block scalar in the column of the key it is the value of is indented
 *   by one space (go-yaml takes it as the value; the `yaml` package does not);
 * - `-` before `,`, `]` or `}` in a flow collection is a plain scalar to
 *   go-yaml, a block sequence to the `yaml` package: it is quoted;
 * - `?x` in a flow collection is an explicit key to go-yaml, a plain scalar to
 *   the `yaml` package: a space goes after the `?`;
 * - `a:` before `,`, `]` or `}` in a flow collection is one plain scalar to
 *   go-yaml (a colon ends one only before a blank), a key to the `yaml`
 *   package: it is quoted (a plain scalar with a colon in it is text anyway);
 * - a tag runs over every URI character in go-yaml (`!!nu[ll`), and a handle
 *   is `!`, `!!` or `!name!` at its start (`!!i!!bool` is
 *   tag:yaml.org,2002:i!!bool): such a tag is written out verbatim.
 * Returns the text and a map from offsets in the given text to offsets in it.
 */
function goLexing(original: string): { text: string; shift: (offset: number) => number; first: FirstDocument; tagErrors: KubectlReadError[] } {
    let text = original;
    let first = firstDocument(text);
    const maps: Array<(offset: number) => number> = [];
    let tagErrors: KubectlReadError[] = [];
    for (let round = 0; round < 64; round++) {
        tagErrors = [];
        const edits = goLexingEdits(text, first, tagErrors);
        if (edits.length === 0) break;
        edits.sort((a, b) => a.at - b.at);
        let out = "";
        let at = 0;
        for (const e of edits) {
            out += text.slice(at, e.at) + e.insert;
            at = e.at + e.remove;
        }
        text = out + text.slice(at);
        first = firstDocument(text);
        maps.push((offset) => {
            let o = offset;
            for (const e of edits) if (e.at + e.remove <= offset) o += e.insert.length - e.remove;
            return o;
        });
    }
    return { text, first, tagErrors, shift: (offset) => maps.reduce((o, f) => f(o), offset) };
}

/** Characters go-yaml reads as part of a tag. */
const GO_TAG_CHAR = /[0-9A-Za-z_\-;/?:@&=+$,.!~*'()[\]%]/;

function goLexingEdits(text: string, { doc }: FirstDocument, tagErrors: KubectlReadError[]): Edit[] {
    if (doc === undefined) return [];
    const edits: Edit[] = [];
    // Tags, block scalars, and `-` before a flow indicator (looked for only where the text has them).
    const walk = (t: unknown, inFlow: boolean) => {
        if (t === null || typeof t !== "object") return;
        if (Array.isArray(t)) return t.forEach((x) => walk(x, inFlow));
        const token = t as CST.Token;
        if (token.type === "tag") {
            if (token.source.startsWith("!<")) {
                // A verbatim tag holds URI characters only, up to its `>`.
                if (!/^!<[0-9A-Za-z_\-;/?:@&=+$,.!~*'()[\]%]*>$/.test(token.source))
                    tagErrors.push(new KubectlReadError("did not find the expected '>'", token.offset));
                return;
            }
            let end = token.offset;
            while (end < text.length && GO_TAG_CHAR.test(text[end])) end++;
            const run = text.slice(token.offset, end);
            const [, handle, suffix] = /^(!(?:[0-9A-Za-z_-]*!)?)(.*)$/s.exec(run) as RegExpExecArray;
            const splitDiffers = suffix.includes("!") && (handle === "!!" || handle === "!");
            if (!/^[ \t\n]?$/.test(text[end] ?? "")) {
                tagErrors.push(new KubectlReadError("did not find expected whitespace or line break after a tag", end));
                return;
            }
            if (run.length === token.source.length && !splitDiffers) return;
            let name: string;
            try {
                name = handle === "!!" ? `${TAG}${decodeURIComponent(suffix)}` : handle === "!" ? `!${suffix}` : run;
            } catch {
                return;
            }
            if (handle !== "!!" && handle !== "!") return; // a named handle needs a %TAG directive either way
            if (!name.includes(">")) edits.push({ at: token.offset, remove: run.length, insert: `!<${name}>` });
            return;
        }
        if (token.type === "block-map") {
            // `key:` and on the next line, in the key's column, a block scalar: its value to go-yaml.
            token.items.forEach((item, i) => {
                const before = token.items[i - 1];
                const lastSep = before?.sep?.filter((x) => x.type !== "space").at(-1);
                if (item.key?.type !== "block-scalar" || !before || before.value !== undefined || lastSep?.type !== "newline") return;
                const first = [...item.start.filter((x) => x.type !== "space" && x.type !== "newline"), item.key][0];
                edits.push({ at: first.offset, remove: 0, insert: " " });
            });
        }
        const colon =
            inFlow && token.type === "scalar"
                ? /^[ \t\n]*:[,\]}]/.exec(text.slice(token.offset + token.source.length, token.offset + token.source.length + 64))
                : null;
        if (colon && token.type === "scalar" && !/^:|\?/.test(token.source)) {
            // `a:` before `,`, `]` or `}` in a flow collection (on its line or the next): one plain scalar,
            // with its colon, to go-yaml. In double quotes its lines fold as a plain scalar's do.
            const scalar = text.slice(token.offset, token.offset + token.source.length + colon[0].length - 1);
            edits.push({ at: token.offset, remove: scalar.length, insert: `"${scalar.replace(/[\\"]/g, "\\$&")}"` });
            return;
        }
        if (inFlow && token.type === "scalar" && /^\?[^ \t\n]/.test(token.source)) {
            // `?x` in a flow collection: go-yaml's explicit-key indicator, then x.
            edits.push({ at: token.offset + 1, remove: 0, insert: " " });
            return;
        }
        if (inFlow && token.type === "block-seq") {
            const dash = token.items[0]?.start.find((x) => x.type === "seq-item-ind");
            if (dash && token.items.length === 1 && token.items[0].value === undefined && /^[,\]}[{]/.test(text[dash.offset + 1] ?? "")) {
                edits.push({ at: dash.offset, remove: 1, insert: '"-"' });
            }
            return;
        }
        const flow = inFlow || token.type === "flow-collection";
        for (const v of Object.values(token)) walk(v, flow);
    };
    if (/[!|>?]|-[,\]}[{]|:[,\]}]/.test(text)) walk(doc, false);
    if (edits.length > 0) return edits;
    // Under-indented lines of the first quoted scalar or flow collection the `yaml` package cut short.
    const start = firstUnclosed(doc);
    if (start !== undefined) {
        const end = goExtent(text, start);
        const want = column(text, start);
        for (let nl = text.indexOf("\n", start); nl >= 0 && nl < end - 1; nl = text.indexOf("\n", nl + 1)) {
            const line = nl + 1;
            const indent = /^ */.exec(text.slice(line, line + want))?.[0].length ?? 0;
            const rest = text.slice(line + indent, line + indent + 4);
            // Blank lines need no indentation; a document marker at column 0 is an error to go-yaml too.
            if (indent >= want || rest[0] === "\n" || rest === "" || (indent === 0 && /^(?:---|\.\.\.)(?:[ \t\n]|$)/.test(rest))) continue;
            edits.push({ at: line, remove: 0, insert: " ".repeat(want - indent) });
        }
    }
    return edits;
}

/** Where the first quoted scalar or flow collection that the `yaml` package did not find the end of starts. */
function firstUnclosed(doc: CST.Document): number | undefined {
    let first: number | undefined;
    const see = (t: CST.Token | undefined) => {
        if (t === undefined) return;
        const open =
            (isQuoted(t) && quoteEnd(t.source, 0) !== t.source.length) ||
            (t.type === "flow-collection" && !t.end.some((e) => e.type === "flow-map-end" || e.type === "flow-seq-end"));
        if (open && (first === undefined || t.offset < first)) first = t.offset;
    };
    see(doc.value);
    eachItem(doc, (item) => {
        see(item.key ?? undefined);
        see(item.value);
    });
    return first;
}

/** The end of the quoted scalar at `i` (after its closing quote), or -1 when it has none. */
function quoteEnd(text: string, i: number): number {
    const q = text[i];
    for (let j = i + 1; j < text.length; j++) {
        if (q === '"' && text[j] === "\\") j++;
        else if (q === "'" && text[j] === "'" && text[j + 1] === "'") j++;
        else if (text[j] === q) return j + 1;
    }
    return -1;
}

/**
 * The end of the quoted scalar or flow collection at `start`, as go-yaml's
 * scanner finds it (the text's end if it has none): a quote starts a scalar
 * where a token starts (inside a plain scalar it is text); `#` starts a
 * comment there or after a blank.
 */
function goExtent(text: string, start: number): number {
    if (text[start] === '"' || text[start] === "'") {
        const end = quoteEnd(text, start);
        return end < 0 ? text.length : end;
    }
    let depth = 0;
    let plain = false; // inside a plain scalar, where quotes are text
    let blank = false;
    for (let i = start; i < text.length; i++) {
        const c = text[i];
        if (c === " " || c === "\t" || c === "\n") {
            blank = true;
            continue;
        }
        if (c === "#" && blank) {
            // A comment, which also ends a plain scalar.
            const eol = text.indexOf("\n", i);
            if (eol < 0) return text.length;
            i = eol - 1;
            plain = false;
            continue;
        }
        blank = false;
        if ("[]{},".includes(c) || (c === ":" && (!plain || /^[ \t\n]?$/.test(text[i + 1] ?? "")))) {
            plain = false;
            if (c === "[" || c === "{") depth++;
            else if (c === "]" || c === "}") {
                depth--;
                if (depth === 0) return i + 1;
            }
            continue;
        }
        if (plain) continue;
        if (c === '"' || c === "'") {
            const end = quoteEnd(text, i);
            if (end < 0) return text.length;
            i = end - 1;
            continue;
        }
        if (c === "#") {
            // `#` where a token starts begins a comment to go-yaml.
            const eol = text.indexOf("\n", i);
            if (eol < 0) return text.length;
            i = eol - 1;
            continue;
        }
        plain = true;
    }
    return text.length;
}

/** The tokens of the first document (with what precedes it), up to the next `...` or `---`, and where that is. */
interface FirstDocument {
    readonly tokens: CST.Token[];
    readonly doc?: CST.Document;
    readonly directives: number;
    /** Why go-yaml refuses a directive before the document, and where. */
    readonly badDirective?: { readonly message: string; readonly offset: number };
    /** A `...` before any document. */
    readonly leadingDocEnd?: number;
    /** Where the first document ends: at a `...`, a second `---` or the end. */
    readonly stop: number;
}

/** The tokens of the first document (with what precedes it), up to the next `...` or `---`. */
function firstDocument(text: string): FirstDocument {
    const tokens: CST.Token[] = [];
    let directives = 0;
    let doc: CST.Document | undefined;
    let badDirective: FirstDocument["badDirective"];
    let leadingDocEnd: number | undefined;
    for (const token of new Parser().parse(text)) {
        if (doc) {
            // After a `...` or at a second `---`, go-yaml's first document has ended: nothing more is read.
            if (token.type === "document" || token.type === "doc-end") return { tokens, doc, directives, badDirective, leadingDocEnd, stop: token.offset };
        } else if (token.type === "document") doc = token;
        else if (token.type === "doc-end") leadingDocEnd ??= token.offset;
        else if (token.type === "directive") {
            const d = token.source.trim();
            if (!/^%(?:YAML\s+1\.1|TAG\s)/.test(d)) {
                badDirective ??= { message: /^%YAML\b/.test(d) ? "found incompatible YAML document" : "found unknown directive name", offset: token.offset };
            }
            directives++;
        }
        tokens.push(token);
    }
    return { tokens, doc, directives, badDirective, leadingDocEnd, stop: text.length };
}

/**
 * Where go-yaml's first document ends when its root node ends before the text
 * does: right after a flow collection or a quoted scalar at the root, or, for
 * a block collection, at the first line that starts left of it or with `%`
 * (a directive to go-yaml wherever it is). What follows is not read.
 */
function rootEnd(text: string, doc: CST.Document): number | undefined {
    const root = doc.value;
    if (root === undefined) return undefined;
    if (root.type === "flow-collection") {
        const close = root.end.find((t) => t.type === "flow-map-end" || t.type === "flow-seq-end");
        return close ? close.offset + close.source.length : undefined;
    }
    if (root.type === "double-quoted-scalar" || root.type === "single-quoted-scalar") return root.offset + root.source.length;
    if (root.type !== "block-map" && root.type !== "block-seq") return undefined;
    // `{...} {...}`: the `yaml` package waits for a `:` after the first as a key; go-yaml's root is the first.
    const head = root.items[0];
    const afterKey = head?.sep?.find((t) => t.type !== "space");
    if (root.type === "block-map" && head?.key && afterKey?.type !== "map-value-ind") {
        const key = head.key;
        if (isQuoted(key)) return key.offset + key.source.length;
        if (key.type === "flow-collection") return rootEnd(text, { ...doc, value: key });
    }
    const quoted: Array<[number, number]> = [];
    eachItem(doc, (item) => {
        for (const t of [item.key, item.value]) {
            if (t && (t.type === "double-quoted-scalar" || t.type === "single-quoted-scalar")) quoted.push([t.offset, t.offset + t.source.length]);
        }
    });
    const inQuotes = (at: number) => quoted.some(([a, b]) => at > a && at < b);
    for (let line = text.indexOf("\n", root.offset) + 1; line > 0 && line < text.length; line = text.indexOf("\n", line) + 1) {
        const first = /[^ ]/.exec(text.slice(line, text.indexOf("\n", line) + 1 || text.length));
        if (first === null || first[0] === "\n" || first[0] === "#") continue;
        if ((first.index < root.indent || (first.index === 0 && first[0] === "%")) && !inQuotes(line)) {
            // A directive there ends the document (its version is not looked at), if go-yaml knows its name.
            const directive = first.index === 0 && first[0] === "%" ? text.slice(line, text.indexOf("\n", line) + 1 || text.length) : "";
            if (directive && !isGoDirective(directive)) throw new KubectlReadError("found unknown directive name", line);
            return line;
        }
    }
    return undefined;
}

/** Every item of every collection in a document's tokens, with the collection it is in. */
function eachItem(token: CST.Token | undefined, f: (item: CST.CollectionItem, parent: CST.BlockMap | CST.BlockSequence | CST.FlowCollection) => void): void {
    if (token === undefined) return;
    if (token.type === "document") return eachItem(token.value, f);
    if (token.type !== "block-map" && token.type !== "block-seq" && token.type !== "flow-collection") return;
    for (const item of token.items as CST.CollectionItem[]) {
        f(item, token);
        eachItem(item.key ?? undefined, f);
        eachItem(item.value, f);
    }
}

/**
 * After a root that ends with a bracket or quote, go-yaml's scanner reads on
 * before it ends the document: the next token; and while a token (the root
 * itself, if it is on one line) could still be a key, the rest of its line and
 * the first token of the next.
 * What it cannot scan there fails the document: a quote left open or running
 * into `...`, a tab where a line starts, `@` or a backtick, `|` or `>` inside
 * brackets, `-` or `:` where no key may start.
 */
function scanAhead(text: string, from: number, oneLineRoot: boolean): void {
    const fail = (at: number): never => {
        throw new KubectlReadError("found character that cannot start any token (after the document)", at);
    };
    let i = from;
    let depth = 0;
    let lines = 0;
    // A root on one line may be a key until the scanner leaves that line.
    let keyLine = oneLineRoot ? 0 : -1;
    let allowed = false; // go-yaml's simple_key_allowed: none right after the root
    let plain = false; // the last token was a plain scalar, which may go on over a line break
    for (let tokens = 0; tokens < 10_000; tokens++) {
        let lineStart = false;
        let blank = false;
        for (; i < text.length; i++) {
            const c = text[i];
            if (c === "\n") {
                lines++;
                lineStart = blank = true;
                if (depth === 0) allowed = true;
                continue;
            }
            if (c === "\t" && lineStart && depth === 0 && !plain) fail(i);
            if (c === " " || c === "\t") {
                blank = true;
                continue;
            }
            if (c === "#" && (blank || i === from)) {
                const eol = text.indexOf("\n", i);
                i = (eol < 0 ? text.length : eol) - 1;
                plain = false;
                continue;
            }
            break;
        }
        if (i >= text.length) return;
        const c = text[i];
        const next = text[i + 1] ?? "";
        const blankNext = next === "" || /[ \t\n]/.test(next);
        if (column(text, i) === 0 && depth === 0 && (c === "%" || /^(?:---|\.\.\.)(?:[ \t\n]|$)/.test(text.slice(i, i + 4)))) {
            if (c === "%" && !isGoDirective(text.slice(i, text.indexOf("\n", i) + 1 || text.length))) fail(i);
            return;
        }
        const indicator = /[,[\]{}]/.test(c) || ((c === "-" || c === "?" || c === ":") && blankNext) || ((c === "?" || c === ":") && depth > 0);
        if (plain && lineStart && !indicator && c !== '"' && c !== "'") {
            // The plain scalar before goes on over the line break.
            while (
                i < text.length &&
                text[i] !== "\n" &&
                !(depth > 0 && /[,[\]{}]/.test(text[i])) &&
                !(text[i] === ":" && /^[ \t\n]?$/.test(text[i + 1] ?? ""))
            )
                i++;
            continue;
        }
        if (c === "@" || c === "`" || (depth > 0 && (c === "|" || c === ">")) || (c === "%" && column(text, i) > 0)) fail(i);
        if (depth === 0 && !allowed && (c === "-" || c === "?") && blankNext) fail(i);
        // `: ` later on a one-line root's line makes the root a key with tokens between: go-yaml fails.
        if (depth === 0 && c === ":" && blankNext && lines === 0 && oneLineRoot) fail(i);
        if (c === "|" || c === ">") {
            if (depth > 0) fail(i);
            return; // a block scalar: no key, and the scanner stops after it
        }
        const savesKey = allowed && !(indicator && c !== "[" && c !== "{");
        let end = i + 1;
        plain = false;
        if (c === '"' || c === "'") {
            end = quoteEnd(text, i);
            if (end < 0 || /\n(?:---|\.\.\.)(?:[ \t\n]|$)/.test(text.slice(i, end))) fail(i);
            allowed = false;
        } else if (c === "[" || c === "{") {
            depth++;
            allowed = true;
        } else if (c === "]" || c === "}") {
            depth = Math.max(0, depth - 1);
            allowed = false;
        } else if (c === ",") allowed = true;
        else if (indicator) allowed = depth === 0;
        else {
            // A plain scalar, alias, anchor or tag: to the next blank or flow indicator.
            while (
                end < text.length &&
                !/[ \t\n]/.test(text[end]) &&
                !(depth > 0 && /[,[\]{}]/.test(text[end])) &&
                !(text[end] === ":" && /^[ \t\n]?$/.test(text[end + 1] ?? ""))
            ) {
                end++;
            }
            plain = c !== "*" && c !== "&" && c !== "!";
            allowed = false;
        }
        // The scanner reads on while the token the parser waits for may be a key and it is still on that
        // token's line: the root (on one line), then the first token after it.
        const firstAfterRoot = tokens === 0;
        if (keyLine >= 0 && lines > keyLine) {
            if (!(savesKey && firstAfterRoot)) return;
            keyLine = lines;
        } else if (keyLine < 0) {
            if (!(savesKey && firstAfterRoot)) return;
            keyLine = lines;
        }
        i = end;
    }
}

/** A %YAML or %TAG directive line as go-yaml's scanner takes it (the version is checked only at a document's start). */
function isGoDirective(line: string): boolean {
    return (
        /^%YAML[ \t]+[0-9]+\.[0-9]+[ \t]*(?:[ \t]#.*)?\n?$/.test(line) ||
        /^%TAG[ \t]+!(?:[0-9A-Za-z_-]*!)?[ \t]+[0-9A-Za-z_\-;/?:@&=+$,.!~*'()[\]%]+[ \t]*(?:[ \t]#.*)?\n?$/.test(line)
    );
}

/**
 * go-yaml's simple keys: an implicit key is on one line with its `:` and at
 * most 1024 characters before it ("could not find expected ':'"), in a block
 * map as in a flow map.
 */
function checkImplicitKeys(doc: CST.Document): void {
    eachItem(doc, (item) => {
        if (!item.key || item.start.some((t) => t.type === "explicit-key-ind")) return;
        const colon = item.sep?.find((t) => t.type === "map-value-ind");
        if (colon === undefined) return;
        const before = item.sep?.slice(0, item.sep.indexOf(colon)) ?? [];
        const keyText = "source" in item.key ? item.key.source : "";
        if (before.some((t) => t.type === "newline") || keyText.includes("\n") || colon.offset - item.key.offset > 1024) {
            throw new KubectlReadError("could not find expected ':'", item.key.offset);
        }
    });
}

function decodeGoText(text: string, parsed: FirstDocument, lineOf: (offset: number) => number, separators: number[], tagErrors: KubectlReadError[]): YamlValue {
    const empty = (): YamlValue => {
        // Comments and blanks only: go-yaml still reads them, control characters and tabs included.
        const bad = NOT_PRINTABLE.exec(text);
        if (bad) throw new KubectlReadError("control characters are not allowed", bad.index);
        checkTabs(text, undefined);
        return { value: null, offsets: new WeakMap(), line: 0, lineOf };
    };
    let first = parsed;
    // `...` before any document: go-yaml starts an implicit document there and finds no node in it.
    if (first.leadingDocEnd !== undefined) throw new KubectlReadError("did not find expected node content", first.leadingDocEnd);
    if (first.badDirective) throw new KubectlReadError(first.badDirective.message, first.badDirective.offset);
    // A byte-order mark after the first line: text to go-yaml, a mark the `yaml` package skips.
    const mark = first.tokens.find((t) => t.type === "byte-order-mark" && t.offset > 0 && text[t.offset - 1] !== "\ufeff");
    if (mark) throw new KubectlReadError("byte-order marks at the start of a document, which kubectl reads out of step with the text: not read", mark.offset);
    if (first.doc === undefined && first.directives > 0) throw new KubectlReadError("did not find expected <document start>", text.length);
    if (first.doc === undefined) return empty();
    const cut = rootEnd(text, first.doc);
    if (cut !== undefined && cut < first.stop) {
        if (/^[\]}"']$/.test(text[cut - 1])) scanAhead(text, cut, !text.slice(first.doc.value?.offset ?? 0, cut).includes("\n"));
        first = firstDocument(text.slice(0, cut));
    }
    const { tokens, doc, directives, stop } = first;
    // A tag go-yaml cannot scan, in what it reads of the document.
    const tagError = tagErrors.find((e) => (e.offset ?? 0) < Math.min(stop, cut ?? stop));
    if (tagError) throw tagError;
    if (doc === undefined) return empty();
    const explicitStart = doc.start.some((t) => t.type === "doc-start");
    if (directives > 0 && !explicitStart) throw new KubectlReadError("did not find expected <document start>", doc.offset);
    // `...` with nothing before it: go-yaml starts an implicit document there and finds no node in it.
    const props = doc.start.some((t) => t.type === "anchor" || t.type === "tag");
    if (!explicitStart && doc.value === undefined && !props && text.startsWith("...", stop))
        throw new KubectlReadError("did not find expected node content", stop);
    const bad = NOT_PRINTABLE.exec(stop < text.length ? readAhead(text, stop) : text);
    if (bad) throw new KubectlReadError("control characters are not allowed", bad.index);
    const flows = /[[{]/.test(text);
    if (flows) goFlowScalars(doc, text);
    const composed = [...new Composer(composerOptions(directives > 0)).compose(tokens)][0] as Document.Parsed | undefined;
    if (composed === undefined) return empty();
    // go-yaml starts a comment at `#` after any token; the `yaml` package asks for white space before it.
    const errors = composed.errors.filter((e) => !(e.code === "MISSING_CHAR" && e.message.startsWith("Comments must be separated")));
    if (errors.length > 0) throw new KubectlReadError(errors[0].message.split("\n")[0], errors[0].pos[0]);
    checkImplicitKeys(doc);
    if (/["'[{]/.test(text)) checkUnclosed(text, doc);
    checkTabs(text.slice(0, stop), doc);
    if (/[&*]/.test(text)) checkNames(composed);
    checkSeparatorsInScalars(
        composed,
        separators.filter((p) => p < stop),
    );
    const start = (composed.contents as Node | null)?.range?.[0];
    return { ...goValue(composed, { mayHaveAliases: text.includes("*") }), line: start === undefined ? 0 : lineOf(start), lineOf };
}

/**
 * What go-yaml's reader has decoded, and checked for control characters, when
 * the first document ends at `stop`: whole 512-byte blocks of the input, up to
 * the one holding the few characters it looks at after the end.
 */
function readAhead(text: string, stop: number): string {
    const needed = Buffer.byteLength(text.slice(0, Math.min(text.length, stop + 4)));
    const bytes = Buffer.from(text);
    return bytes.subarray(0, Math.ceil(needed / 512) * 512).toString("utf8");
}

/**
 * A quoted scalar or flow collection still open where the document ends: at
 * the end of the text, or at a `...` or `---` in column 0, which go-yaml's
 * scanner reads as a document marker even there.
 */
function checkUnclosed(text: string, doc: CST.Document): void {
    const start = firstUnclosed(doc);
    if (start === undefined) return;
    const end = goExtent(text, start);
    const marker = /\n(?:---|\.\.\.)(?:[ \t\n]|$)/.exec(text.slice(start, end));
    throw new KubectlReadError(marker ? "found unexpected document indicator" : "found unexpected end of stream", marker ? start + marker.index + 1 : start);
}

/**
 * Plain scalars in a flow collection that go-yaml v2 scans into an error: `?`
 * inside one ends it (then starts a key), `:` where a token starts is a value
 * indicator, and `a:` before `[` or `{` is a scalar with a collection after it.
 */
function goFlowScalars(doc: CST.Document, text: string): void {
    eachItem(doc, (item, parent) => {
        if (parent.type !== "flow-collection") return;
        const close = parent.start.source === "{" ? "}" : "]";
        for (const t of [item.key, item.value]) {
            if (!t || t.type !== "scalar") continue;
            const after = text.slice(t.offset + t.source.length, t.offset + t.source.length + 2);
            if (t.source.includes("?") || t.source.startsWith(":") || /^:[[{]/.test(after)) {
                throw new KubectlReadError(`did not find expected ',' or '${close}'`, t.offset);
            }
        }
    });
}

/**
 * Tabs as go-yaml's scanner takes them in block context: not where a line
 * starts (a line of blanks too), nor after `-`, `?` or the `:` of an
 * explicit key; in a block scalar not left of its indentation; in a plain
 * scalar's next line not left of the block it is in. Inside quotes and
 * brackets, and after other tokens, a tab is a blank.
 */
function checkTabs(text: string, doc: CST.Document | undefined): void {
    if (!text.includes("\t")) return;
    const fail = (at: number): never => {
        throw new KubectlReadError("found character that cannot start any token (a tab)", at);
    };
    const spans: Array<{ start: number; end: number; check?: (line: number, lead: string) => boolean }> = [];
    const see = (t: CST.Token | null | undefined) => {
        if (!t) return;
        if (t.type === "double-quoted-scalar" || t.type === "single-quoted-scalar") spans.push({ start: t.offset, end: t.offset + t.source.length });
        else if (t.type === "scalar") {
            if (t.source.includes("\n"))
                spans.push({ start: t.offset, end: t.offset + t.source.length, check: (_line, lead) => lead.indexOf("\t") <= t.indent });
        } else if (t.type === "flow-collection") spans.push({ start: t.offset, end: goExtent(text, t.offset) });
        else if (t.type === "block-scalar") {
            const header = t.props.reduce((end, p) => Math.max(end, p.offset + ("source" in p ? p.source.length : 0)), t.offset);
            const indent = /^( *)[^ \n]/m.exec(t.source)?.[1].length ?? 0;
            spans.push({ start: t.offset, end: header + t.source.length, check: (_line, lead) => lead.indexOf("\t") >= 0 && lead.indexOf("\t") < indent });
        }
    };
    see(doc?.value);
    eachItem(doc, (item, parent) => {
        see(item.key);
        see(item.value);
        if (parent.type === "flow-collection") return;
        const explicit = item.start.some((t) => t.type === "explicit-key-ind");
        for (const list of [item.start, item.sep ?? []]) {
            list.forEach((t, i) => {
                const indicator = t.type === "seq-item-ind" || t.type === "explicit-key-ind" || (t.type === "map-value-ind" && explicit);
                const next = list[i + 1];
                if (indicator && next?.type === "space" && next.source.includes("\t")) fail(next.offset + next.source.indexOf("\t"));
            });
        }
    });
    for (let line = 0; line < text.length; line = text.indexOf("\n", line) + 1 || text.length) {
        // The reader's byte-order mark is not there for the scanner.
        const at = line === 0 && text[0] === "\ufeff" ? 1 : line;
        const lead = /^[ \t]*/.exec(text.slice(at, at + 256))?.[0] ?? "";
        if (!lead.includes("\t")) continue;
        const span = spans.find((sp) => line > sp.start && line < sp.end);
        if (span === undefined ? true : span.check?.(line, lead)) fail(line + lead.indexOf("\t"));
    }
}

/** How many of the sorted numbers are below `x`. */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
        const mid = (low + high) >> 1;
        if (sorted[mid] < x) low = mid + 1;
        else high = mid;
    }
    return low;
}

/** go-yaml's anchor and alias names: letters, digits, `-` and `_` only. */
function checkNames(doc: Document.Parsed): void {
    visit(doc, {
        Node: (_key, node) => {
            const name = isAlias(node) ? node.source : node.anchor;
            if (name !== undefined && !/^[0-9A-Za-z_-]+$/.test(name)) {
                throw new KubectlReadError(`did not find expected alphabetic or numeric character in anchor or alias "${name}"`, node.range?.[0]);
            }
        },
    });
}

/**
 * go-yaml reads LS and PS (U+2028, U+2029) as line ends, as this reader does,
 * but keeps them inside a value where YAML's folding turns a line end into a
 * space or LF. Rather than guess that value, a document with either inside a
 * scalar is refused (where they end comments and lines, they are read as
 * kubectl reads them).
 */
function checkSeparatorsInScalars(doc: Document.Parsed, separators: number[]): void {
    if (separators.length === 0) return;
    visit(doc, {
        Scalar: (_key, node) => {
            const [start, valueEnd] = node.range ?? [0, 0];
            const inside = separators.find((p) => p >= start && p < valueEnd);
            if (inside !== undefined) {
                throw new KubectlReadError(
                    "a line or paragraph separator (U+2028/U+2029) inside a value, which kubectl keeps where YAML folds lines: not read",
                    inside,
                );
            }
        },
    });
}
