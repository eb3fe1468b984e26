// Host keys and addresses as SSH prints them: pure, so the program (gate-command.ts) can use
// them without loading the Kubernetes client that the probes in probes.ts need.
import { createHash } from "node:crypto";
import { isIPv6 } from "node:net";

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
    return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** A pinned host key split into its type and its raw key blob. */
export function parseHostKey(line: string): { type: string; blob: Buffer } | undefined {
    const m = /^(\S+) ([A-Za-z0-9+/]+={0,3})$/.exec(line.trim());
    if (!m) return undefined;
    const blob = Buffer.from(m[2], "base64");
    return keyType(blob) === m[1] ? { type: m[1], blob } : undefined;
}

/** The type name that opens an SSH key blob (`string type` in RFC 4253 §6.6). */
export function keyType(blob: Buffer): string | undefined {
    if (blob.length < 4) return undefined;
    const n = blob.readUInt32BE(0);
    return blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString("latin1") : undefined;
}

/** `SHA256:<base64, unpadded>`, the fingerprint `ssh-keygen -lf` prints. */
export function fingerprint(blob: Buffer): string {
    return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}
