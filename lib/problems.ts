import type { z } from "zod/mini";

// Naming a place in a nested value, and saying what zod found wrong there: shared
// by the stack config (components/) and the guard config (policies/).

type Path = ReadonlyArray<PropertyKey>;

/** `nodes[1].ssh.hostKey` from `["nodes", 1, "ssh", "hostKey"]`. */
export function formatPath(path: Path): string {
    return path.reduce<string>((out, key) => {
        if (typeof key === "number") return `${out}[${key}]`;
        return out === "" ? String(key) : `${out}.${String(key)}`;
    }, "");
}

function valueAt(root: unknown, path: Path): unknown {
    let v: unknown = root;
    for (const key of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<PropertyKey, unknown>)[key];
    }
    return v;
}

/** Turns zod's issues into `path: what is wrong (got value)` lines, skipping fields already reported. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown, skip: ReadonlySet<string>): string[] {
    const lines: string[] = [];
    for (const issue of issues) {
        const at = formatPath(issue.path);
        if (skip.has(at)) continue;
        const value = valueAt(input, issue.path);
        if (issue.code === "unrecognized_keys") {
            for (const key of issue.keys) {
                lines.push(`${formatPath([...issue.path, key])}: unknown setting; remove it or fix its spelling`);
            }
        } else if (value === undefined && issue.code === "invalid_type") {
            lines.push(`${at}: is required (expected ${issue.expected})`);
        } else {
            const shown = JSON.stringify(value);
            const said = shown !== undefined && issue.message.includes(shown);
            lines.push(`${at}: ${issue.message}${said || shown === undefined ? "" : ` (got ${shown})`}`);
        }
    }
    return lines;
}
