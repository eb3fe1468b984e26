import { celString, VOLUMES } from "./cel";
import type { KubeObject } from "./kube-object";
import { containersOf, podSpecsOf, type PodSpecView } from "./pod-spec";
import { goFields, otherSpaceCel, PENDING, tailscaledConfigCel, tailscaledFlags, USERSPACE_TUN, type Unseen } from "./tailscale";
import { isUnknown, read, readList, UNKNOWN, type Unknown } from "./unknown";

// The command lines a container runs that the manifest shows: its command and
// args, its lifecycle hooks and its exec probes (each may start tailscaled or
// run `tailscale up`/`set`). A line is read word by word; a word that is
// expanded when it runs, or a file from a volume, is not in the manifest.

/** Hooks and probes that run a command in the container (`<field>.exec.command`). */
const EXEC_FIELDS = [["lifecycle", "postStart"], ["lifecycle", "preStop"], ["livenessProbe"], ["readinessProbe"], ["startupProbe"]] as const;

export interface CommandLine {
    /** Where it comes from, for messages: `command`, `args`, `command and args`, `lifecycle.postStart`, `readinessProbe`… */
    readonly where: string;
    /** Its words split like strings.Fields (a shell line in one argument included), or PENDING when any is not known yet. */
    readonly words: readonly string[] | Unseen;
}

function lineOf(where: string, lists: readonly unknown[][]): CommandLine {
    const words = lists.flat();
    if (words.some(isUnknown)) return { where, words: PENDING };
    return { where, words: goFields(words.map(String).join(" ")) };
}

/** Every command line container `c` runs that the manifest shows. */
export function commandLines(container: unknown): CommandLine[] {
    const out: CommandLine[] = [];
    const command = readList(container, "command");
    const args = readList(container, "args");
    const has = (l: unknown[] | Unknown) => l === UNKNOWN || l.length > 0;
    if (has(command) || has(args)) {
        const where = has(command) ? (has(args) ? "command and args" : "command") : "args";
        out.push(command === UNKNOWN || args === UNKNOWN ? { where, words: PENDING } : lineOf(where, [command, args]));
    }
    for (const field of EXEC_FIELDS) {
        const words = readList(container, ...field, "exec", "command");
        if (words === UNKNOWN) out.push({ where: field.join("."), words: PENDING });
        else if (words.length > 0) out.push(lineOf(field.join("."), [words]));
    }
    return out;
}

const present = (path: readonly string[]): string => path.map((_, i) => `has(c.${path.slice(0, i + 1).join(".")})`).join(" && ");

/** commandLines in CEL: a list of lists of words, one per line ([] where a field is absent). */
export const commandLinesCel = `[${[
    "(has(c.command) ? c.command : []) + (has(c.args) ? c.args : [])",
    ...EXEC_FIELDS.map((f) => {
        const path = [...f, "exec", "command"];
        return `(${present(path)} ? c.${path.join(".")} : [])`;
    }),
].join(", ")}]`;

/** A volume the pod mounts whose files the manifest does not show: any but an emptyDir, which starts empty. */
interface MountedVolume {
    readonly mountPath: string;
    readonly volume: string;
}

/** The volumes a container of `view` can mount: the spec's own and, for a spec inside another, the enclosing spec's. */
export function podVolumes(view: PodSpecView): unknown[] | Unknown {
    const own = readList(view.spec, "volumes");
    if (own === UNKNOWN || view.enclosing === undefined) return own;
    const outer = podVolumes(view.enclosing);
    return outer === UNKNOWN ? UNKNOWN : [...own, ...outer];
}

/** The container's mounts of volumes other than emptyDir; PENDING when the mounts or volumes are not known yet. */
export function unseenMounts(container: unknown, volumes: unknown[] | Unknown): MountedVolume[] | Unseen {
    const mounts = readList(container, "volumeMounts");
    if (mounts === UNKNOWN || volumes === UNKNOWN) return PENDING;
    const list = volumes;
    const out: MountedVolume[] = [];
    for (const m of mounts) {
        const mountPath = read(m, "mountPath");
        const name = read(m, "name");
        if (mountPath === UNKNOWN || name === UNKNOWN) return PENDING;
        const volume = list.find((v) => read(v, "name") === name);
        if (read(volume, "emptyDir") === UNKNOWN || (volume === undefined && list.some(isUnknown))) return PENDING;
        if (typeof mountPath !== "string" || mountPath === "" || read(volume, "emptyDir") !== undefined) continue;
        out.push({ mountPath, volume: String(name) });
    }
    return out;
}

/** `word` names `dir` or a path under it (`/scripts`, `/scripts/up.sh`, `--config=/scripts/x`), not `/opt/scripts` or `/scripts2`. */
function namesPathUnder(word: string, dir: string): boolean {
    const pathChar = /[\w.\-/]/;
    for (let i = word.indexOf(dir); i >= 0; i = word.indexOf(dir, i + 1)) {
        const before = word[i - 1];
        const after = word[i + dir.length];
        if (before !== undefined && pathChar.test(before)) continue;
        if (dir.endsWith("/") || after === undefined || after === "/" || !pathChar.test(after)) return true;
    }
    return false;
}

/**
 * Why a command line's effect is not in the manifest: a word the shell or the
 * kubelet expands when it runs (`$VAR`, `${VAR}`, `$(VAR)`, `$(cmd)`, a
 * backquote), or a file from a mounted volume other than emptyDir (a script,
 * a sourced file, a config file). undefined when every word is in the manifest.
 */
export function unseenInLine(line: CommandLine, mounts: readonly MountedVolume[] | Unseen): Unseen | undefined {
    if (!Array.isArray(line.words)) return line.words as Unseen;
    const words = line.words as readonly string[];
    const expanded = words.find((w) => w.includes("$") || w.includes("`"));
    if (expanded !== undefined) return { why: `expands ${expanded} when it runs, which the manifest does not show`, pending: false };
    if (!Array.isArray(mounts)) return mounts as Unseen;
    for (const m of mounts as readonly MountedVolume[]) {
        const word = words.find((w) => namesPathUnder(w, m.mountPath));
        if (word !== undefined)
            return { why: `reads ${word} from volume "${m.volume}" (mounted at ${m.mountPath}), which the manifest does not show`, pending: false };
    }
    return undefined;
}

/** unseenInLine in CEL for the joined line `line` of container `c`, broader: any `$` or backquote, or any mention of a mount path not backed by an emptyDir. */
export const unseenInLineCel = (line: string): string =>
    `(${line}.contains("$") || ${line}.contains("\`") || (has(c.volumeMounts) && c.volumeMounts.exists(m, ${line}.contains(m.mountPath) && ` +
    `!${VOLUMES}.exists(v, v.name == m.name && has(v.emptyDir)))))`;

/** tailscaled started in `words` (a shell line may hold several commands): each start's flag words. */
function tailscaledStarts(words: readonly string[]): (readonly string[])[] {
    return words.flatMap((w, i) => (/(^|\/)tailscaled$/.test(w) ? [words.slice(i + 1)] : []));
}

/** The --tun each tailscaled start in `words` gets, the last one winning, or "tailscale0", tailscaled's default, when it gets none. */
export function commandTuns(words: readonly string[]): string[] {
    return tailscaledStarts(words).map((flags) => tailscaledFlags(flags).get("tun") ?? "tailscale0");
}

/** The config file each tailscaled start in `words` is given (see tailscaledConfig). */
export function commandConfigs(words: readonly string[]): string[] {
    return tailscaledStarts(words).flatMap((flags) => {
        const config = tailscaledFlags(flags).get("config");
        return config === undefined || config === "" ? [] : [config];
    });
}

/** The joined command line `line` starts tailscaled, in CEL: as a word, or anywhere when white space other than plain spaces splits it. */
const startsTailscaledCel = (line: string): string =>
    `(${line}.split(" ").exists(w, w == "tailscaled" || w.endsWith("/tailscaled")) || (${otherSpaceCel(line)} && ${line}.contains("tailscaled")))`;

/**
 * commandTuns in CEL for the joined command line `line`, broader: a line that
 * starts tailscaled must hold `--tun=userspace-networking` and no other tun
 * flag word, in plain spaces.
 */
export const commandTunCel = (line: string): string =>
    `(${startsTailscaledCel(line)} && (${otherSpaceCel(line)} || ` +
    `!${line}.split(" ").exists(t, t == ${celString(`--tun=${USERSPACE_TUN}`)} || t == ${celString(`-tun=${USERSPACE_TUN}`)}) || ` +
    `${line}.split(" ").exists(t, (t.startsWith("-tun") || t.startsWith("--tun")) && t != ${celString(`--tun=${USERSPACE_TUN}`)} && t != ${celString(`-tun=${USERSPACE_TUN}`)})))`;

/** commandConfigs in CEL for the joined command line `line`, broader: a line that starts tailscaled and holds any non-empty config flag. */
export const commandConfigCel = (line: string): string => `(${startsTailscaledCel(line)} && ${tailscaledConfigCel(line)})`;

/**
 * Every --exit-node value in a command line the container runs itself (a
 * shell line, `tailscale up …`, `tailscale set …`): where the command is not
 * known, every occurrence counts, in either spelling.
 */
export function commandExitNodes(words: readonly string[]): string[] {
    const values: string[] = [];
    words.forEach((w, i) => {
        const m = /^--?exit-node(=(.*))?$/.exec(w);
        if (m === null) return;
        if (m[1] !== undefined) values.push(m[2]);
        else if (i + 1 < words.length) values.push(words[i + 1]);
    });
    return values;
}

/** Words in a container's command lines that mean it runs Tailscale. */
const RUNS_TAILSCALE = /tailscale|containerboot/i;

/**
 * A Tailscale container, by what it runs: an image, or a word in a command
 * line (command, args, hooks, exec probes), that names tailscale (or
 * containerboot), or containerboot's TS_* variables. An image not known yet
 * counts (fail closed).
 */
export function isTailscaleContainer(container: unknown): boolean {
    const image = read(container, "image");
    if (image === UNKNOWN) return true;
    if (typeof image === "string" && RUNS_TAILSCALE.test(image)) return true;
    const lists: (unknown[] | Unknown)[] = [
        readList(container, "command"),
        readList(container, "args"),
        ...EXEC_FIELDS.map((f) => readList(container, ...f, "exec", "command")),
    ];
    if (lists.some((l) => l !== UNKNOWN && l.some((w: unknown) => typeof w === "string" && RUNS_TAILSCALE.test(w)))) return true;
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
    `${commandLinesCel}.exists(l, l.exists(w, w.lowerAscii().contains("tailscale") || w.lowerAscii().contains("containerboot"))) || ` +
    '(has(c.env) && c.env.exists(e, e.name.startsWith("TS_"))))';

/** Whether any container of the object runs Tailscale: its messages then speak of Tailscale. */
export function runsTailscale(obj: KubeObject): boolean {
    return podSpecsOf(obj).some((view) => {
        const containers = containersOf(view);
        return containers !== UNKNOWN && containers.some((c) => c.container !== UNKNOWN && isTailscaleContainer(c.container));
    });
}
