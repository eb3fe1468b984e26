import { TAILSCALE_IPV4_PATTERN, TAILSCALE_IPV6_PATTERN } from "../../lib/addresses";
import { celString } from "./cel";
import { isUnknown, read, readList, UNKNOWN, type Unknown } from "./unknown";

// Tailscale settings read the way the software that runs them reads them:
// containerboot (the image's entrypoint) takes TS_* variables, passes
// TS_EXTRA_ARGS to `tailscale up` and TS_TAILSCALED_EXTRA_ARGS to tailscaled,
// both split like Go's strings.Fields and parsed by Go's flag package. Each
// helper has its CEL twin right after it, for the admission policy; where CEL
// cannot follow the exact reading, the twin refuses a broader case.

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

/** Words in a container's command and args that mean it runs Tailscale. */
const RUNS_TAILSCALE = /tailscale|containerboot/i;

/**
 * A Tailscale container, by what it runs: an image, command or argument that
 * names tailscale (or containerboot), or containerboot's TS_* variables. An
 * image not known yet counts (fail closed).
 */
export function isTailscaleContainer(container: unknown): boolean {
    const image = read(container, "image");
    if (image === UNKNOWN) return true;
    if (typeof image === "string" && RUNS_TAILSCALE.test(image)) return true;
    for (const field of ["command", "args"]) {
        const words = readList(container, field);
        if (words !== UNKNOWN && words.some((w) => typeof w === "string" && RUNS_TAILSCALE.test(w))) return true;
    }
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
    '((has(c.image) && (c.image.lowerAscii().contains("tailscale") || c.image.lowerAscii().contains("containerboot"))) || ' +
    '(has(c.command) && c.command.exists(w, w.lowerAscii().contains("tailscale") || w.lowerAscii().contains("containerboot"))) || ' +
    '(has(c.args) && c.args.exists(w, w.lowerAscii().contains("tailscale") || w.lowerAscii().contains("containerboot"))) || ' +
    '(has(c.env) && c.env.exists(e, e.name.startsWith("TS_"))))';

/**
 * An env var as the container sees it: the last entry of that name in `env`
 * (the kubelet lets later entries win). UNKNOWN when its value is not in the
 * manifest: valueFrom (a Secret, ConfigMap, the downward API), a $(VAR)
 * reference the kubelet expands, a value not known yet, or no entry while the
 * container takes variables from `envFrom`. undefined when it is not set.
 */
export function envValue(container: unknown, name: string): string | Unknown | undefined {
    const env = readList(container, "env");
    if (env === UNKNOWN) return UNKNOWN;
    let found: string | Unknown | undefined;
    for (const e of env) {
        if (read(e, "name") !== name) continue;
        const value = read(e, "value");
        if (read(e, "valueFrom") !== undefined || value === UNKNOWN) found = UNKNOWN;
        else {
            const text = typeof value === "string" ? value : value === undefined ? "" : String(value);
            found = text.includes("$(") ? UNKNOWN : text;
        }
    }
    if (found !== undefined) return found;
    const envFrom = readList(container, "envFrom");
    return envFrom === UNKNOWN || envFrom.length > 0 ? UNKNOWN : undefined;
}

/**
 * envValue in CEL: container `c` sets `name` to a literal for which
 * `bad(value)` holds, or the value cannot be seen (valueFrom, a $(VAR)
 * reference, or envFrom without an entry of that name): cannot prove.
 */
export function envBadCel(name: string, bad: (value: string) => string): string {
    const n = celString(name);
    const value = "e.value";
    return (
        `((has(c.env) && c.env.exists(e, e.name == ${n})) ? ` +
        `c.env.exists(e, e.name == ${n} && (has(e.valueFrom) || (has(e.value) ? (${value}.contains("$(") || ${bad(value)}) : ${bad('""')}))) : ` +
        "(has(c.envFrom) && c.envFrom.size() > 0))"
    );
}

/**
 * TS_USERSPACE as containerboot reads it: Go's strconv.ParseBool, and anything
 * it refuses (yes, no, off, " false") keeps the default, userspace.
 */
export const KERNEL_MODE_VALUES = ["0", "f", "F", "false", "FALSE", "False"] as const;

/** tailscaled's `--tun` value that needs no tun device; any other is kernel mode. */
export const USERSPACE_TUN = "userspace-networking";

/**
 * The `--tun` that TS_TAILSCALED_EXTRA_ARGS gives tailscaled: containerboot
 * puts these words after its own `--tun=userspace-networking`, so a later
 * `--tun` wins. undefined when the words set none.
 */
export function tunOverride(daemonArgs: string): string | undefined {
    return goFlags(goFields(daemonArgs), new Set(["tun"])).get("tun");
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
 * tailscaled started by the container's own command line (command and args,
 * as a shell line may hold several commands): the --tun each start gets, the
 * last one winning, or "tailscale0", tailscaled's default, when it gets none.
 */
export function commandTuns(words: readonly string[]): string[] {
    const fields = goFields(words.join(" "));
    return fields.flatMap((w, i) => (/(^|\/)tailscaled$/.test(w) ? [goFlags(fields.slice(i + 1), new Set(["tun"])).get("tun") ?? "tailscale0"] : []));
}

/**
 * commandTuns in CEL for the joined command line `line`, broader: a line that
 * starts tailscaled must hold `--tun=userspace-networking` and no other tun
 * flag word, in plain spaces.
 */
export const commandTunCel = (line: string): string =>
    `(${line}.split(" ").exists(w, w == "tailscaled" || w.endsWith("/tailscaled")) && (${otherSpaceCel(line)} || ` +
    `!${line}.split(" ").exists(t, t == ${celString(`--tun=${USERSPACE_TUN}`)} || t == ${celString(`-tun=${USERSPACE_TUN}`)}) || ` +
    `${line}.split(" ").exists(t, (t.startsWith("-tun") || t.startsWith("--tun")) && t != ${celString(`--tun=${USERSPACE_TUN}`)} && t != ${celString(`-tun=${USERSPACE_TUN}`)})))`;

export interface ExitNodeSetting {
    /** The value given to --exit-node (may be ""), or UNKNOWN. */
    readonly value: string | Unknown;
    /** Where it was found, for messages: `TS_EXTRA_ARGS`, `command`, `args`. */
    readonly where: string;
}

/** The exit node `tailscale up` takes from TS_EXTRA_ARGS: the last --exit-node, as Go's flag package reads it. */
export function extraArgsExitNode(extraArgs: string): string | undefined {
    return goFlags(goFields(extraArgs), new Set(["exit-node"])).get("exit-node");
}

/**
 * Every --exit-node value in a command line the container runs itself (a
 * shell line, `tailscale up …`): where the command is unknown, every
 * occurrence counts, in either spelling.
 */
export function commandExitNodes(words: readonly string[]): string[] {
    const fields = goFields(words.join(" "));
    const values: string[] = [];
    fields.forEach((w, i) => {
        const m = /^--?exit-node(=(.*))?$/.exec(w);
        if (m === null) return;
        if (m[1] !== undefined) values.push(m[2]);
        else if (i + 1 < fields.length) values.push(fields[i + 1]);
    });
    return values;
}

/** Every exit node the container asks for: TS_EXTRA_ARGS, and its own command line. */
export function exitNodeSettings(container: unknown): ExitNodeSetting[] {
    const out: ExitNodeSetting[] = [];
    const extra = envValue(container, "TS_EXTRA_ARGS");
    if (extra === UNKNOWN) out.push({ value: UNKNOWN, where: "TS_EXTRA_ARGS" });
    else if (extra !== undefined) {
        const value = extraArgsExitNode(extra);
        if (value !== undefined) out.push({ value, where: "TS_EXTRA_ARGS" });
    }
    for (const field of ["command", "args"] as const) {
        const list = readList(container, field);
        if (list === UNKNOWN) {
            out.push({ value: UNKNOWN, where: field });
            continue;
        }
        const words = list.filter((w): w is string => typeof w === "string" && !isUnknown(w));
        out.push(...commandExitNodes(words).map((value) => ({ value, where: field })));
    }
    return out;
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
