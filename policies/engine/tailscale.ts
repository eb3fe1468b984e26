import { TAILSCALE_IPV4_PATTERN, TAILSCALE_IPV6_PATTERN } from "../../lib/addresses";
import { celString } from "./cel";
import { read, readList, UNKNOWN } from "./unknown";

// Tailscale settings read the way the software that runs them reads them:
// containerboot (the image's entrypoint) takes TS_* variables, passes
// TS_EXTRA_ARGS to `tailscale up`/`set` and TS_TAILSCALED_EXTRA_ARGS to
// tailscaled, both split like Go's strings.Fields and parsed by Go's flag
// package. Command lines a container runs itself are read in
// tailscale-command-lines.ts, the exit node's sources in tailscale-exit-node.ts.
// Each helper has its CEL twin right after it, for the admission policy; where
// CEL cannot follow the exact reading, the twin refuses a broader case.

/** Go's unicode.IsSpace: what strings.Fields splits on (JavaScript's \s differs: it has U+FEFF, not U+0085). */
const GO_SPACES = "\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
const GO_FIELDS = new RegExp(`[${GO_SPACES}]+`);

/** strings.Fields. */
export function goFields(s: string): string[] {
    return s.split(GO_FIELDS).filter((w) => w !== "");
}

/** In CEL: `v` holds white space other than a plain space (a tab, a newline, a no-break space…). */
export const otherSpaceCel = (v: string): string => `${v}.matches(${celString(`[${GO_SPACES.replace(" ", "")}]`)})`;

/**
 * The flags Go's flag package gives a command for `words`, each name with its
 * last value (the last occurrence wins). Parsing stops at the first word that
 * is not a flag and after `--`; `-name` and `--name` are the same flag, with
 * `=value` or the next word as value. Which flags are boolean is not known
 * here, so a flag without `=` is read in the way that lets the most through: it
 * takes the next word unless that word starts with "-" (a boolean flag would
 * instead end the parse there, and the command fails on the stray word).
 * `valueFlags` always take the next word, as string flags do.
 */
export function goFlags(words: readonly string[], valueFlags: ReadonlySet<string>): Map<string, string> {
    const flags = new Map<string, string>();
    for (let i = 0; i < words.length; i++) {
        const word = words[i];
        if (word.length < 2 || !word.startsWith("-")) break;
        const body = word.slice(word.startsWith("--") ? 2 : 1);
        if (body === "" || body.startsWith("-") || body.startsWith("=")) break; // "--", or bad syntax: the command fails
        const eq = body.indexOf("=");
        if (eq >= 0) {
            flags.set(body.slice(0, eq), body.slice(eq + 1));
            continue;
        }
        const next = words[i + 1];
        if (next !== undefined && (valueFlags.has(body) || !next.startsWith("-"))) {
            flags.set(body, next);
            i++;
        } else if (!valueFlags.has(body)) {
            flags.set(body, "true");
        }
    }
    return flags;
}

/** Why a setting cannot be read from the manifest. */
export interface Unseen {
    /** Completes "<setting> …", e.g. `comes from valueFrom.secretKeyRef "ts", which the manifest does not show`. */
    readonly why: string;
    /**
     * True when the value is only not known yet (preview); such findings may be
     * lowered to advisory. A value kept outside the manifest never is.
     */
    readonly pending: boolean;
    /** Set when the value may come from envFrom: the sources, e.g. `envFrom.configMapRef "ts"`. */
    readonly envFrom?: string;
}

export const PENDING: Unseen = { why: "is not known until the update runs", pending: true };

/**
 * Settings of one container that envFrom may set, as one finding: an opaque
 * envFrom is one cause, however many variables it may hold. One setting keeps
 * its own text (`single`).
 */
export function envFromDetail<T extends { name: string; unseen: Unseen }>(
    container: string,
    what: string,
    hidden: readonly T[],
    single: (h: T) => string,
): string {
    if (hidden.length === 1) return single(hidden[0]);
    const names = hidden.map((h) => h.name);
    const sources = [...new Set(hidden.map((h) => h.unseen.envFrom))].join(", ");
    return `cannot prove container "${container}" ${what}: ${names.slice(0, -1).join(", ")} and ${names.at(-1)} are not in env, and ${sources} may set them`;
}

export function isUnseen(v: unknown): v is Unseen {
    return typeof v === "object" && v !== null && "why" in v;
}

/** `<field>.<kind> "name"` of a valueFrom or envFrom source (configMapKeyRef, secretRef, fieldRef…), for messages. */
function sourceText(field: string, source: unknown): string {
    const kind = typeof source === "object" && source !== null ? Object.keys(source).find((k) => k.endsWith("Ref")) : undefined;
    if (kind === undefined) return field;
    const name = read(source, kind, "name");
    const prefix = read(source, "prefix");
    const downward = kind === "fieldRef" || kind === "resourceFieldRef" ? " (the downward API)" : "";
    return `${field}.${kind}${typeof name === "string" ? ` "${name}"` : ""}${typeof prefix === "string" ? ` (prefix ${prefix})` : ""}${downward}`;
}

/** An envFrom entry may set `name`: it has no prefix, or one that `name` starts with. */
function envFromMaySet(entry: unknown, name: string): boolean {
    const prefix = read(entry, "prefix");
    return prefix === UNKNOWN || typeof prefix !== "string" || name.startsWith(prefix);
}

/**
 * An env var as the container sees it: the last entry of that name in `env`
 * (the kubelet lets later entries win, and env wins over envFrom). Unseen
 * when its value is not in the manifest: valueFrom (a Secret, a ConfigMap,
 * the downward API), a $(VAR) reference the kubelet expands, a value not
 * known yet, or no entry while an envFrom source may set it (one without a
 * prefix, or with a prefix the name starts with). undefined when it is not set.
 */
export function envSetting(container: unknown, name: string): string | Unseen | undefined {
    const env = readList(container, "env");
    if (env === UNKNOWN) return PENDING;
    let found: string | Unseen | undefined;
    for (const e of env) {
        if (read(e, "name") !== name) continue;
        const value = read(e, "value");
        const from = read(e, "valueFrom");
        if (from === UNKNOWN || (from === undefined && value === UNKNOWN)) found = PENDING;
        else if (from !== undefined) found = { why: `comes from ${sourceText("valueFrom", from)}, which the manifest does not show`, pending: false };
        else {
            const text = typeof value === "string" ? value : value === undefined ? "" : String(value);
            const ref = /\$\([^)]*\)?/.exec(text);
            found = ref === null ? text : { why: `refers to ${ref[0]}, which the kubelet expands when the container starts`, pending: false };
        }
    }
    if (found !== undefined) return found;
    const envFrom = readList(container, "envFrom");
    if (envFrom === UNKNOWN) return PENDING;
    const sources = envFrom.filter((f) => envFromMaySet(f, name));
    if (sources.length === 0) return undefined;
    const from = sources.map((f) => sourceText("envFrom", f)).join(", ");
    return { why: `is not in env, and ${from} may set it`, pending: false, envFrom: from };
}

/**
 * envSetting in CEL: container `c` sets `name` to a literal for which
 * `bad(value)` holds, or the value cannot be seen (valueFrom, a $(VAR)
 * reference, or no entry while an envFrom source may set it): cannot prove.
 */
export function envBadCel(name: string, bad: (value: string) => string): string {
    const n = celString(name);
    const value = "e.value";
    return (
        `((has(c.env) && c.env.exists(e, e.name == ${n})) ? ` +
        `c.env.exists(e, e.name == ${n} && (has(e.valueFrom) || (has(e.value) ? (${value}.contains("$(") || ${bad(value)}) : ${bad('""')}))) : ` +
        `(has(c.envFrom) && c.envFrom.exists(f, !has(f.prefix) || ${n}.startsWith(f.prefix))))`
    );
}

/**
 * TS_USERSPACE as containerboot reads it: Go's strconv.ParseBool, and anything
 * it refuses (yes, no, off, " false") keeps the default, userspace.
 */
export const KERNEL_MODE_VALUES = ["0", "f", "F", "false", "FALSE", "False"] as const;

/** tailscaled's `--tun` value that needs no tun device; any other is kernel mode. */
export const USERSPACE_TUN = "userspace-networking";

/** tailscaled's string flags the rules read: the next word is always their value. */
const TAILSCALED_VALUE_FLAGS: ReadonlySet<string> = new Set(["tun", "config"]);

/** The flags a tailscaled command line gives it, as Go's flag package reads them. */
export function tailscaledFlags(words: readonly string[]): Map<string, string> {
    return goFlags(words, TAILSCALED_VALUE_FLAGS);
}

/**
 * The `--tun` that TS_TAILSCALED_EXTRA_ARGS gives tailscaled: containerboot
 * puts these words after its own `--tun=userspace-networking`, so a later
 * `--tun` wins. undefined when the words set none.
 */
export function tunOverride(daemonArgs: string): string | undefined {
    return tailscaledFlags(goFields(daemonArgs)).get("tun");
}

/**
 * tunOverride in CEL, broader: white space other than plain spaces, or any
 * `tun` flag word other than `--tun=userspace-networking` (a separate value
 * included), counts as an override.
 */
export const tunOverrideCel = (v: string): string =>
    `(${v}.contains("tun") && (${otherSpaceCel(v)} || ${v}.split(" ").exists(t, (t.startsWith("-tun") || t.startsWith("--tun")) && ` +
    `t != ${celString(`--tun=${USERSPACE_TUN}`)} && t != ${celString(`-tun=${USERSPACE_TUN}`)})))`;

/**
 * A tailscaled config file (ipn.ConfigVAlpha) can set the exit node; what it
 * holds is not in the manifest. `--config=` (empty) gives none; any other
 * value names a file, `vm:user-data` or a Secret.
 */
export function tailscaledConfig(words: readonly string[]): string | undefined {
    const config = tailscaledFlags(words).get("config");
    return config === "" ? undefined : config;
}

/** tailscaledConfig in CEL, broader: any `config` flag word other than an empty `--config=`, or white space other than plain spaces. */
export const tailscaledConfigCel = (v: string): string =>
    `(${v}.contains("config") && (${otherSpaceCel(v)} || ${v}.split(" ").exists(t, (t.startsWith("-config") || t.startsWith("--config")) && ` +
    't != "--config=" && t != "-config=")))';

/** The exit node `tailscale up`/`set` takes from TS_EXTRA_ARGS: the last --exit-node, as Go's flag package reads it. */
export function extraArgsExitNode(extraArgs: string): string | undefined {
    return goFlags(goFields(extraArgs), new Set(["exit-node"])).get("exit-node");
}

/**
 * The exit-node flags of an argument string in CEL, broader than Go's
 * reading: every `--exit-node=`/`-exit-node=` word must pass `valid`, a
 * separate value (`--exit-node X`) is refused, and so is white space other than
 * plain spaces around an exit-node flag.
 */
export const exitNodeBadCel = (args: string, valid: (value: string) => string): string =>
    `(${args}.contains("exit-node") && (${otherSpaceCel(args)} || ${args}.split(" ").exists(t, ` +
    `((t.startsWith("--exit-node=") || t.startsWith("-exit-node=")) && !${valid('t.substring(t.indexOf("=") + 1)')}) || ` +
    't == "--exit-node" || t == "-exit-node")))';

/** A Tailscale address in CEL, the twin of lib/addresses.ts isTailscaleAddress. */
export const tailscaleAddressCel = (v: string): string =>
    `(${v}.matches(${celString(TAILSCALE_IPV4_PATTERN)}) || ${v}.lowerAscii().matches(${celString(TAILSCALE_IPV6_PATTERN)}))`;
