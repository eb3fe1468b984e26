import { isUnknown, read, readList, UNKNOWN, type Unknown } from "./unknown";

/**
 * A Tailscale container: the image names tailscale, or it is configured with
 * containerboot's TS_* variables. An image not known yet counts (fail closed).
 */
export function isTailscaleContainer(container: unknown): boolean {
    const image = read(container, "image");
    if (image === UNKNOWN) return true;
    if (typeof image === "string" && /tailscale/i.test(image)) return true;
    const env = readList(container, "env");
    return (
        env !== UNKNOWN &&
        env.some((e) => {
            const name = read(e, "name");
            return typeof name === "string" && name.startsWith("TS_");
        })
    );
}

/** An env var's literal value; UNKNOWN for values from Secrets/ConfigMaps or not known yet; undefined when unset. */
export function envValue(container: unknown, name: string): string | Unknown | undefined {
    const env = readList(container, "env");
    if (env === UNKNOWN) return UNKNOWN;
    let found: string | Unknown | undefined;
    for (const e of env) {
        if (read(e, "name") !== name) continue;
        const value = read(e, "value");
        if (read(e, "valueFrom") !== undefined || value === UNKNOWN) found = UNKNOWN;
        else found = typeof value === "string" ? value : value === undefined ? "" : String(value);
    }
    return found;
}

export interface ExitNodeSetting {
    /** The value given to --exit-node (may be ""), or UNKNOWN. */
    readonly value: string | Unknown;
    /** Where it was found, for messages: `TS_EXTRA_ARGS`, `TS_EXIT_NODE`, `args`. */
    readonly where: string;
}

/** How many `--exit-node` flags per separator form are read (the admission CEL reads the same number). */
export const MAX_EXIT_NODE_FLAGS = 3;

/**
 * The values given to --exit-node in one argument string. containerboot splits
 * TS_EXTRA_ARGS on white space without shell quoting, so this does too: the
 * value is the word after `--exit-node=` or after `--exit-node `. The admission
 * policy's CEL runs this same split (components/admission/guardrail-cel.ts).
 */
export function exitNodeValues(args: string): string[] {
    const padded = ` ${args} `;
    const values: string[] = [];
    for (const sep of [" --exit-node=", " --exit-node "]) {
        const parts = padded.split(sep);
        for (let i = 1; i < parts.length && i <= MAX_EXIT_NODE_FLAGS; i++) values.push(parts[i].split(" ")[0]);
    }
    return values;
}

/** Every exit node the container asks for: TS_EXTRA_ARGS, TS_EXIT_NODE, and its command line. */
export function exitNodeSettings(container: unknown): ExitNodeSetting[] {
    const out: ExitNodeSetting[] = [];
    const extra = envValue(container, "TS_EXTRA_ARGS");
    if (extra === UNKNOWN) out.push({ value: UNKNOWN, where: "TS_EXTRA_ARGS" });
    else if (extra !== undefined) out.push(...exitNodeValues(extra).map((value) => ({ value, where: "TS_EXTRA_ARGS" })));
    const direct = envValue(container, "TS_EXIT_NODE");
    if (direct !== undefined) out.push({ value: direct, where: "TS_EXIT_NODE" });
    for (const field of ["command", "args"] as const) {
        const list = readList(container, field);
        if (list === UNKNOWN) {
            out.push({ value: UNKNOWN, where: field });
            continue;
        }
        const words = list.filter((w): w is string => typeof w === "string" && !isUnknown(w));
        out.push(...exitNodeValues(words.join(" ")).map((value) => ({ value, where: field })));
    }
    return out;
}
