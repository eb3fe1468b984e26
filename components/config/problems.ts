import type { z } from "zod";

/** Values not known yet are written as `FILL-IN: <what to put here>` in stack files. */
export const PLACEHOLDER_PREFIX = "FILL-IN:";

/** Every problem with a stack's config, in one error, so one run shows them all. */
export class StackConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: readonly string[],
        /** The file the config was read from, when known. @default `Pulumi.<stack>.yaml` */
        readonly configFile = `Pulumi.${stack}.yaml`,
    ) {
        super(
            `stack "${stack}" config has ${problems.length} problem${problems.length === 1 ? "" : "s"} ` +
                `(keys under "oceanid:" in ${configFile}):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "StackConfigError";
    }
}

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

/** Finds `FILL-IN:` strings anywhere in the config; each is a problem of its own. */
export function placeholderProblems(root: unknown): { problems: string[]; paths: Set<string> } {
    const problems: string[] = [];
    const paths = new Set<string>();
    const walk = (v: unknown, path: PropertyKey[]) => {
        if (typeof v === "string" && v.trim().startsWith(PLACEHOLDER_PREFIX)) {
            const at = formatPath(path);
            paths.add(at);
            problems.push(`${at}: placeholder ${JSON.stringify(v)} must be replaced with the real value`);
        } else if (Array.isArray(v)) {
            v.forEach((item, i) => walk(item, [...path, i]));
        } else if (v !== null && typeof v === "object") {
            for (const [k, item] of Object.entries(v)) walk(item, [...path, k]);
        }
    };
    walk(root, []);
    return { problems, paths };
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
