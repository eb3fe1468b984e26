// Bytes to text as kubectl's file reader (k8s.io/cli-runtime) decodes them: a
// byte-order mark chooses UTF-16 or UTF-8, and bad bytes become U+FFFD one by
// one as in Go, where Node would drop the mark or merge the replacements.
import { isUtf8 } from "node:buffer";

/**
 * A file's text as kubectl's file reader decodes it: a byte-order mark
 * chooses UTF-16 (little or big endian) or UTF-8 and is dropped; without one
 * the bytes are UTF-8. Bytes that are not valid UTF-8 (or UTF-16) become
 * U+FFFD, one for each byte (code unit), as Go's decoders do.
 */
export function decodeManifestBytes(bytes: Uint8Array): string {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return utf16(buf.subarray(2), "le");
    if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) return utf16(buf.subarray(2), "be");
    if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return goUtf8(buf.subarray(3));
    return goUtf8(buf);
}

function utf16(buf: Buffer, order: "le" | "be"): string {
    const even = buf.subarray(0, buf.length & ~1);
    const text = wellFormed((order === "le" ? even : Buffer.from(even).swap16()).toString("utf16le"));
    return buf.length % 2 === 1 ? `${text}\ufffd` : text;
}

/** Each unpaired surrogate as U+FFFD, as Go's UTF-16 and JSON decoders write it. */
export const wellFormed = (s: string): string => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");

/** UTF-8 as Go reads it: each byte that does not start a valid sequence is one U+FFFD. */
export function goUtf8(buf: Buffer): string {
    if (isUtf8(buf)) return buf.toString("utf8");
    let out = "";
    let start = 0;
    let i = 0;
    while (i < buf.length) {
        const n = utf8SequenceLength(buf, i);
        if (n > 0) {
            i += n;
            continue;
        }
        out += `${buf.toString("utf8", start, i)}\ufffd`;
        i += 1;
        start = i;
    }
    return out + buf.toString("utf8", start, i);
}

/** Length of the valid UTF-8 sequence at `i` (no overlong forms, surrogates or code points past U+10FFFF), or 0. */
function utf8SequenceLength(b: Buffer, i: number): number {
    const c = b[i];
    const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
    if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
    if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}
