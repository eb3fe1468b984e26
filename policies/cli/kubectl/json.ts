// JSON as Go's encoding/json checks and reads it, without building the value:
// kubectl's decoder reads JSON values one after another, and a 50 MB List is
// read one item at a time (JSON.parse would build all of it).
import { wellFormed } from "./bytes";

export const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

export class JsonSyntaxError extends Error {
    constructor(
        message: string,
        readonly offset: number,
    ) {
        super(message);
    }
}

/**
 * The end of the JSON value that starts at `start`, checked as strictly as
 * Go's encoding/json checks it (the same grammar as JSON.parse), without
 * building it. Throws JsonSyntaxError at the first character that is wrong.
 */
export function skipJsonValue(text: string, start: number): number {
    // One entry per open container: "{" expecting a key, ":" a value in an object, "[" a value in an array.
    const stack: string[] = [];
    let i = start;
    const fail = (what: string): never => {
        throw new JsonSyntaxError(
            i >= text.length ? "unexpected end of JSON input" : `invalid character ${JSON.stringify(text[i])} ${what}`,
            Math.min(i, text.length),
        );
    };
    const ws = () => {
        while (i < text.length && JSON_SPACE.has(text.charCodeAt(i))) i++;
    };
    const str = () => {
        i++;
        for (;;) {
            if (i >= text.length) fail("in string literal");
            const c = text.charCodeAt(i);
            if (c === 0x22) {
                i++;
                return;
            }
            if (c < 0x20) fail("in string literal");
            if (c === 0x5c) {
                const e = text[i + 1];
                if (e === "u") {
                    if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
                        i += 2;
                        fail("in \\u hexadecimal character escape");
                    }
                    i += 6;
                } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
                else {
                    i++;
                    fail("in string escape code");
                }
            } else i++;
        }
    };
    const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/y;
    const scalar = () => {
        const c = text[i];
        if (c === '"') return str();
        for (const lit of ["true", "false", "null"]) {
            if (text.startsWith(lit, i)) {
                i += lit.length;
                return;
            }
        }
        NUMBER.lastIndex = i;
        const m = NUMBER.exec(text);
        if (m === null) return fail("looking for beginning of value");
        i += m[0].length;
    };
    for (;;) {
        ws();
        const top = stack.at(-1);
        if (top === "{") {
            // A key, or the end of an empty object.
            if (text[i] === "}" && text[i - 1] === "{") {
                i++;
                stack.pop();
            } else {
                if (text[i] !== '"') fail("looking for beginning of object key string");
                str();
                ws();
                if (text[i] !== ":") fail("after object key");
                i++;
                stack[stack.length - 1] = ":";
                continue;
            }
        } else if (top === "[" && text[i] === "]" && text[i - 1] === "[") {
            i++;
            stack.pop();
        } else {
            // A value.
            if (text[i] === "{") {
                i++;
                stack.push("{");
                continue;
            }
            if (text[i] === "[") {
                i++;
                stack.push("[");
                continue;
            }
            scalar();
        }
        // After a value: a separator, a close, or the end of the top value.
        for (;;) {
            if (stack.length === 0) return i;
            ws();
            const open = stack.at(-1);
            const close = open === "[" ? "]" : "}";
            if (text[i] === ",") {
                i++;
                if (open === ":") stack[stack.length - 1] = "{";
                // `{` and `[` on the stack now mean "expecting a key / a value", never an immediate close.
                ws();
                if (open === ":" && text[i] !== '"') fail("looking for beginning of object key string");
                if (open === "[" && text[i] === "]") fail("looking for beginning of value");
                break;
            }
            if (text[i] === close) {
                i++;
                stack.pop();
                continue;
            }
            fail(open === "[" ? "after array element" : "after object key:value pair");
        }
    }
}

/** The members of the JSON object at `start` (checked by skipJsonValue first): each key with its value's range. */
export function* jsonMembers(text: string, start: number): Generator<{ key: string; start: number; end: number }> {
    let i = start + 1;
    const ws = () => {
        while (JSON_SPACE.has(text.charCodeAt(i))) i++;
    };
    ws();
    if (text[i] === "}") return;
    for (;;) {
        ws();
        const keyEnd = skipJsonValue(text, i);
        const key = JSON.parse(text.slice(i, keyEnd)) as string;
        i = keyEnd;
        ws();
        i++; // ":"
        ws();
        const end = skipJsonValue(text, i);
        yield { key, start: i, end };
        i = end;
        ws();
        if (text[i] === "}") return;
        i++; // ","
    }
}

/** The elements of the JSON array at `start` (checked by skipJsonValue first), as ranges. */
export function* jsonElements(text: string, start: number): Generator<{ start: number; end: number }> {
    let i = start + 1;
    const ws = () => {
        while (JSON_SPACE.has(text.charCodeAt(i))) i++;
    };
    ws();
    if (text[i] === "]") return;
    for (;;) {
        ws();
        const end = skipJsonValue(text, i);
        yield { start: i, end };
        i = end;
        ws();
        if (text[i] === "]") return;
        i++; // ","
    }
}

/** A JSON value as Go's encoding/json reads it: an escaped lone surrogate is U+FFFD. */
export function parseJson(text: string): unknown {
    if (!/\\u[dD][89a-fA-F]/.test(text)) return JSON.parse(text);
    return JSON.parse(text, (_key, v: unknown) => (typeof v === "string" ? wellFormed(v) : v));
}
