import { parse as parseShell } from "shell-quote";
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
    return env !== UNKNOWN && env.some((e) => {
        const name = read(e, "name");
        return typeof name === "string" && name.startsWith("TS_");
    });
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

/** Every exit node the container asks for: TS_EXTRA_ARGS, TS_EXIT_NODE, and its command line. */
export function exitNodeSettings(container: unknown): ExitNodeSetting[] {
    const out: ExitNodeSetting[] = [];
    const extra = envValue(container, "TS_EXTRA_ARGS");
    if (extra === UNKNOWN) out.push({ value: UNKNOWN, where: "TS_EXTRA_ARGS" });
    else if (extra !== undefined) out.push(...fromArgs(shellWords(extra), "TS_EXTRA_ARGS"));
    const direct = envValue(container, "TS_EXIT_NODE");
    if (direct !== undefined) out.push({ value: direct, where: "TS_EXIT_NODE" });
    for (const field of ["command", "args"] as const) {
        const list = readList(container, field);
        if (list === UNKNOWN) continue;
        const words = list.flatMap((w) => (isUnknown(w) ? [] : typeof w === "string" ? shellWords(w) : []));
        out.push(...fromArgs(words, field));
    }
    return out;
}

/** Splits a string the way a shell would (quotes, escapes); operators are dropped. */
function shellWords(s: string): string[] {
    return parseShell(s).filter((w): w is string => typeof w === "string");
}

function fromArgs(words: string[], where: string): ExitNodeSetting[] {
    const out: ExitNodeSetting[] = [];
    words.forEach((w, i) => {
        if (w.startsWith("--exit-node=")) out.push({ value: w.slice("--exit-node=".length), where });
        else if (w === "--exit-node" && i + 1 < words.length) out.push({ value: words[i + 1], where });
    });
    return out;
}
