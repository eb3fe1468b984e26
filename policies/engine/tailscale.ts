import { TAILSCALE_IPV4_PATTERN, TAILSCALE_IPV6_PATTERN } from "../../lib/addresses";
import { celString } from "./cel";
import { isUnknown, read, readList, UNKNOWN, type Unknown } from "./unknown";

// Each helper has its CEL twin right after it, for the admission policy; the
// shared fixture table and the rule fixtures run both.

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

/** isTailscaleContainer for container `c` in CEL. */
export const tailscaleContainerCel =
    '((has(c.image) && c.image.lowerAscii().contains("tailscale")) || (has(c.env) && c.env.exists(e, e.name.startsWith("TS_"))))';

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

/**
 * envValue in CEL: container `c` sets `name` to a literal for which `bad(value)`
 * holds, or from somewhere the policy cannot see (valueFrom): cannot prove.
 */
export const envBadCel = (name: string, bad: (value: string) => string): string =>
    `(has(c.env) && c.env.exists(e, e.name == ${celString(name)} && (has(e.valueFrom) || ${bad('(has(e.value) ? e.value : "")')})))`;

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
 * value is the word after `--exit-node=` or after `--exit-node `.
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

/** exitNodeValues in CEL: some exit node in the argument string `args` fails `valid`. */
export function exitNodeBadCel(args: string, valid: (value: string) => string): string {
    const checks: string[] = [];
    for (const sep of [" --exit-node=", " --exit-node "]) {
        const parts = `(" " + ${args} + " ").split(${celString(sep)})`;
        for (let i = 1; i <= MAX_EXIT_NODE_FLAGS; i++) checks.push(`(${parts}.size() > ${i} && !${valid(`${parts}[${i}].split(" ")[0]`)})`);
    }
    return checks.join(" || ");
}

/** A Tailscale address in CEL, the twin of lib/addresses.ts isTailscaleAddress. */
export const tailscaleAddressCel = (v: string): string =>
    `(${v}.matches(${celString(TAILSCALE_IPV4_PATTERN)}) || ${v}.lowerAscii().matches(${celString(TAILSCALE_IPV6_PATTERN)}))`;

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
