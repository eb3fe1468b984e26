// A file's text cut into documents as apimachinery's YAMLOrJSONDecoder cuts
// it (JSON values one after another, else YAML split at `---` lines), and each
// document's value. The `yaml` package splits a stream by YAML's own rules,
// which kubectl does not follow.
import { decodeYamlDocument } from "./decoder";
import { JSON_SPACE, type JsonSyntaxError, parseJson, skipJsonValue } from "./json";

/** One document of a file as kubectl's decoder hands it on, with its offset and 1-based line in the file. */
export type ManifestPart =
    | { readonly json: string; readonly offset: number; readonly line: number }
    | { readonly yaml: string; readonly offset: number; readonly line: number }
    | { readonly error: string; readonly offset: number; readonly line: number };

/** Unicode white space as Go's unicode.IsSpace has it (JavaScript's \s differs: U+FEFF in, U+0085 out). */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const isGoSpace = (c: string | undefined): boolean => c !== undefined && GO_SPACE.test(c);

/** How far into the stream the decoder looks for the `{` that makes it a JSON stream (in bytes). */
const JSON_SNIFF_BYTES = 4096;

/**
 * The documents of a file's text, as kubectl's decoder reads them: when the
 * first non-space character within 4096 bytes is `{`, JSON values one after
 * another; when a JSON value fails to parse after at most one good one, the
 * rest is read as YAML from there (after more than one, the file is refused
 * from there). YAML is cut into documents at lines that start with `---`,
 * followed by nothing but spaces or a comment (anything else refuses the file
 * from there), with CRLF line ends read as LF; a separator that comes first
 * stays in the document it opens. Empty documents are handed on too; nothing
 * after an error is.
 */
export function* manifestParts(text: string): Generator<ManifestPart> {
    let line = 1;
    let counted = 0;
    const lineAt = (offset: number) => {
        for (; counted < offset; counted++) if (text.charCodeAt(counted) === 10) line++;
        return line;
    };
    let pos = 0;
    if (looksLikeJson(text)) {
        let count = 0;
        for (;;) {
            let start = pos;
            while (start < text.length && JSON_SPACE.has(text.charCodeAt(start))) start++;
            if (start === text.length) return;
            let end: number;
            try {
                end = skipJsonValue(text, start);
            } catch (err) {
                const e = err as JsonSyntaxError;
                if (count > 1) {
                    yield { error: `json: offset ${e.offset + 1}: ${e.message}`, offset: e.offset, line: lineAt(e.offset) };
                    return;
                }
                // Not a JSON stream after all: YAML from the end of the last value, less the white
                // space up to and including the first line end. The decoder reads that space four
                // bytes at a time and gives up with the JSON error when fewer are left, or at U+FFFD.
                for (;;) {
                    const c = text[pos];
                    if (Buffer.byteLength(text.slice(pos, pos + 4)) < 4 || c === "\ufffd") {
                        yield { error: `json: offset ${e.offset + 1}: ${e.message}`, offset: e.offset, line: lineAt(e.offset) };
                        return;
                    }
                    if (!isGoSpace(c)) break;
                    pos++;
                    if (c === "\n") break;
                }
                break;
            }
            count++;
            yield { json: text.slice(start, end), offset: start, line: lineAt(start) };
            pos = end;
        }
    }
    // YAML: line by line (LF), a `---` line ends a document.
    let docStart = pos;
    let hasCR = false;
    while (pos < text.length || docStart < pos) {
        let eol = text.indexOf("\n", pos);
        if (eol < 0) eol = text.length;
        const lineEnd = eol > pos && text.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
        if (text.startsWith("---", pos) && pos + 3 <= lineEnd) {
            const rest = goTrimSpace(text.slice(pos + 3, lineEnd));
            if (rest.length > 0 && rest[0] !== "#") {
                yield { error: `invalid Yaml document separator: ${rest}`, offset: pos, line: lineAt(pos) };
                return;
            }
            if (docStart < pos) {
                yield { yaml: chunkText(text, docStart, pos, hasCR), offset: docStart, line: lineAt(docStart) };
                pos = eol + 1;
                docStart = pos;
                hasCR = false;
                continue;
            }
            // A separator with nothing before it in the document is kept: it opens the next one.
        }
        if (eol === text.length) {
            // The last line, with or without its line end.
            yield { yaml: chunkText(text, docStart, text.length, hasCR), offset: docStart, line: lineAt(docStart) };
            return;
        }
        hasCR ||= lineEnd < eol;
        pos = eol + 1;
    }
}

/** A document's lines as the line reader hands them on: CR LF read as LF, and a last line without its LF given one. */
function chunkText(text: string, start: number, end: number, hasCR: boolean): string {
    let chunk = text.slice(start, end);
    if (hasCR) chunk = chunk.replaceAll("\r\n", "\n");
    if (!chunk.endsWith("\n")) chunk += "\n";
    return chunk;
}

function goTrimSpace(s: string): string {
    let a = 0;
    let b = s.length;
    while (a < b && isGoSpace(s[a])) a++;
    while (b > a && isGoSpace(s[b - 1])) b--;
    return s.slice(a, b);
}

/** The decoder's sniff: `{` after Go white space, within the first 4096 bytes of UTF-8. */
function looksLikeJson(text: string): boolean {
    let bytes = 0;
    for (const c of text) {
        if (c === "{") return bytes < JSON_SNIFF_BYTES;
        if (!isGoSpace(c)) return false;
        bytes += Buffer.byteLength(c);
        if (bytes >= JSON_SNIFF_BYTES) return false;
    }
    return false;
}

/**
 * Each document's value as kubectl's decoder hands it on, before a list is
 * expanded (`null` for an empty document), or the reason it refuses the
 * document (nothing after a refused separator or JSON value is read).
 */
export function* kubectlDocuments(text: string): Generator<{ value: unknown } | { error: string }> {
    for (const part of manifestParts(text)) {
        if ("error" in part) yield { error: part.error };
        else if ("json" in part) yield { value: parseJson(part.json) };
        else {
            try {
                yield { value: decodeYamlDocument(part.yaml).value };
            } catch (err) {
                yield { error: (err as Error).message };
            }
        }
    }
}
