import { formatPath } from "../../lib/problems";

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
