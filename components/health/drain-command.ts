/**
 * The drain and uncordon steps' command lines, written once: the Pulumi program renders them with
 * {@link drainCommand} and {@link uncordonCommand}, the CLI reads them back with
 * {@link parseDrainArgs} and {@link parseUncordonArgs}, so the two cannot drift apart.
 */
import { parseK3sVersion } from "../config/k3s-version";
import { shellWord } from "../platform/shell-quote";
import { ArgsError, checkConnectionFlags, parseFlags, renderCommand, requiredFlag, secondsFlag } from "./command-line";

/** What a node change's drain step does before the node is changed. */
export interface DrainSpec {
    /** Kubernetes node name. */
    node: string;
    /** The node change's kind (`k3s`): recorded in the cordon annotation `oceanid.io/cordoned-by: node-change/<kind>`. */
    change: string;
    /** How long the node's pods may take to leave. */
    timeoutSeconds: number;
    /** false: check (`agentOf`) only, cordon and evict nothing (`nodeChanges.drain: false`). */
    drain: boolean;
    /**
     * The node is an agent about to get `version`: first check it against the version the server
     * node runs, as the API server reports it (k3s' skew policy).
     */
    agentOf?: { server: string; version: string };
    /** Kubeconfig context. Defaults to the kubeconfig's current context. */
    context?: string;
}

/** What a node change's uncordon step undoes. */
export interface UncordonSpec {
    node: string;
    /** Kubeconfig context. Defaults to the kubeconfig's current context. */
    context?: string;
}

export const DRAIN_OPTIONS = {
    node: { type: "string" },
    change: { type: "string" },
    timeout: { type: "string" },
    "agent-of": { type: "string" },
    version: { type: "string" },
    "no-drain": { type: "boolean", default: false },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    interval: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
} as const;

export const UNCORDON_OPTIONS = {
    node: { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
} as const;

/** Seconds between eviction rounds unless `--interval` says otherwise. */
export const DEFAULT_DRAIN_INTERVAL_SECONDS = 2;

/** The shell command a `local.Command` runs to drain a node; the kubeconfig comes on stdin. */
export function drainCommand(spec: DrainSpec): string {
    const flags: Array<[string, string?]> = [
        ["--node", shellWord(spec.node)],
        ["--change", shellWord(spec.change)],
        ["--timeout", shellWord(String(spec.timeoutSeconds))],
    ];
    if (spec.agentOf !== undefined) flags.push(["--agent-of", shellWord(spec.agentOf.server)], ["--version", shellWord(spec.agentOf.version)]);
    if (!spec.drain) flags.push(["--no-drain"]);
    flags.push(["--kubeconfig", "-"]);
    if (spec.context !== undefined) flags.push(["--context", shellWord(spec.context)]);
    return renderCommand("drain", flags);
}

/** The shell command a `local.Command` runs to uncordon a node after its change; the kubeconfig comes on stdin. */
export function uncordonCommand(spec: UncordonSpec): string {
    const flags: Array<[string, string]> = [
        ["--node", shellWord(spec.node)],
        ["--kubeconfig", "-"],
    ];
    if (spec.context !== undefined) flags.push(["--context", shellWord(spec.context)]);
    return renderCommand("uncordon", flags);
}

/** A step's arguments as the CLI receives them (after the step's name), or a request for help. */
export type StepArgs<Spec, Extra = unknown> =
    | { help: true }
    | ({
          help: false;
          spec: Spec;
          /** A kubeconfig path or `-` for stdin; absent means `$KUBECONFIG`, then `~/.kube/config`. */
          kubeconfig?: string;
      } & Extra);

export type DrainArgs = StepArgs<DrainSpec, { intervalSeconds: number }>;
export type UncordonArgs = StepArgs<UncordonSpec>;

/** Lower-case words joined by dashes: it ends up in an annotation value and in messages. */
const CHANGE_KIND = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** Reads the drain step's flags; throws {@link ArgsError} naming each bad or missing one. */
export function parseDrainArgs(argv: readonly string[]): DrainArgs {
    const values = parseFlags(argv, DRAIN_OPTIONS);
    if (values.help) return { help: true };

    const problems: string[] = [];
    const node = requiredFlag(values, "node", problems);
    const change = requiredFlag(values, "change", problems);
    if (change && !CHANGE_KIND.test(change)) problems.push(`--change must be the change's kind in lower case, such as k3s, got ${JSON.stringify(change)}`);
    const timeout = secondsFlag("timeout", requiredFlag(values, "timeout", problems), problems, { integer: true });
    const server = values["agent-of"];
    const version = values.version;
    if ((server === undefined) !== (version === undefined)) {
        problems.push("--agent-of SERVER and --version TARGET go together: give both (the node is an agent about to get TARGET) or neither");
    } else if (server === "") {
        problems.push("--agent-of must name the server node");
    }
    if (version !== undefined && !parseK3sVersion(version))
        problems.push(`--version must be a k3s release such as v1.33.5+k3s1, got ${JSON.stringify(version)}`);
    const interval = values.interval === undefined ? DEFAULT_DRAIN_INTERVAL_SECONDS : secondsFlag("interval", values.interval, problems, { integer: false });
    checkConnectionFlags(values, problems);
    if (problems.length > 0) throw new ArgsError(problems.join("; "));

    const spec: DrainSpec = { node, change, timeoutSeconds: timeout, drain: !values["no-drain"] };
    if (server !== undefined && version !== undefined) spec.agentOf = { server, version };
    if (values.context !== undefined) spec.context = values.context;
    return { help: false, spec, kubeconfig: values.kubeconfig, intervalSeconds: interval };
}

/** Reads the uncordon step's flags; throws {@link ArgsError} naming each bad or missing one. */
export function parseUncordonArgs(argv: readonly string[]): UncordonArgs {
    const values = parseFlags(argv, UNCORDON_OPTIONS);
    if (values.help) return { help: true };
    const problems: string[] = [];
    const node = requiredFlag(values, "node", problems);
    checkConnectionFlags(values, problems);
    if (problems.length > 0) throw new ArgsError(problems.join("; "));
    const spec: UncordonSpec = { node };
    if (values.context !== undefined) spec.context = values.context;
    return { help: false, spec, kubeconfig: values.kubeconfig };
}
