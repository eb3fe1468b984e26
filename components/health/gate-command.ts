/**
 * The gate's command line, written once: the Pulumi program renders it with {@link gateCommand}
 * and the CLI reads it back with {@link parseGateArgs}, so the two cannot drift apart.
 */
import { isIPv6 } from "node:net";
import { shellQuote, shellWord } from "../platform/shell-quote";
import { ArgsError, checkConnectionFlags, parseFlags, renderCommand, requiredFlag, secondsFlag } from "./command-line";
import { hostPort, parseHostKey } from "./ssh-host";
import type { TailnetCheck } from "./tailnet-device";

export { firstSentence } from "./command-line";

/** What one node change waits for before it is confirmed. */
export interface GateSpec {
    /** Kubernetes node name. */
    node: string;
    /** The kubelet version the node must report (`v1.33.5+k3s1`). */
    version: string;
    sshHost: string;
    sshPort: number;
    /** The pinned host key, `<type> <base64>`. */
    hostKey: string;
    /** When the change was made, in epoch seconds as printed by the node (`date +%s`); surrounding whitespace is dropped. */
    since: string;
    /** How long to wait for the node to be healthy. */
    timeoutSeconds: number;
    /**
     * How long every poll must have been healthy before the gate passes (the window restarts at
     * any unhealthy poll). Must be less than `timeoutSeconds`. Defaults to 0: the first healthy poll passes.
     */
    settleSeconds?: number;
    /**
     * Once the Lease was renewed after `since`, the longest its renewTime may stay the same, by the
     * gate's clock. Defaults to 40 (the node controller's grace period; kubelets renew every 10 s).
     */
    maxLeaseAgeSeconds?: number;
    /** The version the node ran before the change: seeing it again says the revert may have run. */
    previousVersion?: string;
    /** How the operator runs the change again (`pulumi up --replace <urn>`): said when the gate fails. */
    rerun?: string;
    /** Kubeconfig context. Defaults to the kubeconfig's current context. */
    context?: string;
    /** Also ask the tailnet's control server about the node (its key in OCEANID_TAILNET_API_KEY). */
    tailnet?: TailnetCheck;
}

/** The gate's flags, for `util.parseArgs`. */
export const GATE_OPTIONS = {
    node: { type: "string" },
    version: { type: "string" },
    ssh: { type: "string" },
    "host-key": { type: "string" },
    since: { type: "string" },
    timeout: { type: "string" },
    settle: { type: "string" },
    "max-lease-age": { type: "string" },
    previous: { type: "string" },
    rerun: { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    interval: { type: "string" },
    "tailnet-api": { type: "string" },
    "tailnet-url": { type: "string" },
    tailnet: { type: "string" },
    "tailnet-host": { type: "string" },
    "tailnet-address": { type: "string" },
    "exit-node": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
} as const;

/** Seconds between polls unless `--interval` says otherwise. */
export const DEFAULT_GATE_INTERVAL_SECONDS = 2;

/** Bad gate arguments; the message names the flag and what it wants. */
export class GateArgsError extends ArgsError {
    constructor(message: string) {
        super(message);
        this.name = "GateArgsError";
    }
}

/**
 * The shell command a `local.Command` runs to gate a node change. The kubeconfig is read from
 * stdin (`--kubeconfig -`): it is a secret, so it never appears on a command line.
 */
export function gateCommand(spec: GateSpec): string {
    const flags: Array<[string, string?]> = [
        ["--node", shellWord(spec.node)],
        ["--version", shellWord(spec.version)],
        ["--ssh", shellWord(hostPort(spec.sshHost, spec.sshPort))],
        // Always quoted, bare or not: it reads as one value in logs.
        ["--host-key", shellQuote(spec.hostKey)],
        ["--since", shellWord(spec.since.trim())],
        ["--timeout", shellWord(String(spec.timeoutSeconds))],
    ];
    if (spec.settleSeconds !== undefined) flags.push(["--settle", shellWord(String(spec.settleSeconds))]);
    if (spec.maxLeaseAgeSeconds !== undefined) flags.push(["--max-lease-age", shellWord(String(spec.maxLeaseAgeSeconds))]);
    if (spec.previousVersion !== undefined) flags.push(["--previous", shellWord(spec.previousVersion)]);
    if (spec.rerun !== undefined) flags.push(["--rerun", shellQuote(spec.rerun)]);
    flags.push(["--kubeconfig", "-"]);
    if (spec.context !== undefined) flags.push(["--context", shellWord(spec.context)]);
    if (spec.tailnet !== undefined) {
        const t = spec.tailnet;
        flags.push(
            ["--tailnet-api", shellWord(t.api)],
            ["--tailnet-url", shellWord(t.url)],
            ["--tailnet", shellWord(t.tailnet)],
            ["--tailnet-host", shellWord(t.hostname)],
        );
        if (t.address !== undefined) flags.push(["--tailnet-address", shellWord(t.address)]);
        if (t.exitNode) flags.push(["--exit-node"]);
    }
    return renderCommand("gate", flags);
}

/** The gate's arguments as the CLI receives them (after `gate`), or a request for help. */
export type GateArgs =
    | { help: true }
    | {
          help: false;
          spec: GateSpec;
          /** A kubeconfig path or `-` for stdin; absent means `$KUBECONFIG`, then `~/.kube/config`. */
          kubeconfig?: string;
          intervalSeconds: number;
      };

/** Reads the gate's flags; throws {@link GateArgsError} naming each bad or missing one. */
export function parseGateArgs(argv: readonly string[]): GateArgs {
    let values;
    try {
        values = parseFlags(argv, GATE_OPTIONS);
    } catch (err) {
        throw new GateArgsError((err as Error).message);
    }
    if (values.help) return { help: true };

    const problems: string[] = [];
    const node = requiredFlag(values, "node", problems);
    const version = requiredFlag(values, "version", problems);
    const ssh = parseSshTarget(requiredFlag(values, "ssh", problems), problems);
    const hostKey = requiredFlag(values, "host-key", problems);
    if (hostKey && !parseHostKey(hostKey)) {
        problems.push(`--host-key must be a public key line "<type> <base64>" as ssh-keyscan prints it, e.g. 'ssh-ed25519 AAAAC3...'`);
    }
    const since = requiredFlag(values, "since", problems).trim();
    if (since && !/^\d+(\.\d+)?$/.test(since)) problems.push(`--since must be epoch seconds (date +%s on the node), got ${JSON.stringify(since)}`);
    const timeout = secondsFlag("timeout", requiredFlag(values, "timeout", problems), problems, { integer: true });
    const settle = values.settle === undefined ? undefined : secondsFlag("settle", values.settle, problems, { integer: true, allowZero: true });
    if (settle !== undefined && timeout <= settle) {
        problems.push(
            `--timeout ${timeout} must exceed --settle ${settle}: the node has to stay healthy for --settle seconds within --timeout; raise --timeout or lower --settle`,
        );
    }
    const maxLeaseAge = values["max-lease-age"] === undefined ? undefined : secondsFlag("max-lease-age", values["max-lease-age"], problems, { integer: true });
    if (values.previous === "") problems.push("--previous must be a version such as v1.33.4+k3s1, or left out");
    if (values.rerun === "") problems.push("--rerun must be the command that runs the change again, or left out");
    const interval = values.interval === undefined ? DEFAULT_GATE_INTERVAL_SECONDS : secondsFlag("interval", values.interval, problems, { integer: false });
    checkConnectionFlags(values, problems);
    const tailnet = parseTailnetFlags(values, problems);
    if (problems.length > 0) throw new GateArgsError(problems.join("; "));

    const spec: GateSpec = { node, version, sshHost: ssh!.host, sshPort: ssh!.port, hostKey, since, timeoutSeconds: timeout };
    if (settle !== undefined) spec.settleSeconds = settle;
    if (maxLeaseAge !== undefined) spec.maxLeaseAgeSeconds = maxLeaseAge;
    if (values.previous !== undefined) spec.previousVersion = values.previous;
    if (values.rerun !== undefined) spec.rerun = values.rerun;
    if (values.context !== undefined) spec.context = values.context;
    if (tailnet !== undefined) spec.tailnet = tailnet;
    return { help: false, spec, kubeconfig: values.kubeconfig, intervalSeconds: interval };
}

/** The tailnet check's flags: all of --tailnet-api, --tailnet-url and --tailnet-host, or none. */
function parseTailnetFlags(
    values: { [K in "tailnet-api" | "tailnet-url" | "tailnet" | "tailnet-host" | "tailnet-address"]?: string } & { "exit-node"?: boolean },
    problems: string[],
): TailnetCheck | undefined {
    const api = values["tailnet-api"];
    if (api === undefined) {
        for (const f of ["tailnet-url", "tailnet", "tailnet-host", "tailnet-address", "exit-node"] as const) {
            if (values[f] !== undefined && values[f] !== false) problems.push(`--${f} needs --tailnet-api`);
        }
        return undefined;
    }
    if (api !== "tailscale" && api !== "headscale") problems.push(`--tailnet-api must be tailscale or headscale, got ${JSON.stringify(api)}`);
    const url = values["tailnet-url"] ?? "";
    if (!/^https?:\/\/\S+$/.test(url)) problems.push(`--tailnet-url must be the control server API's http(s) URL, got ${JSON.stringify(url)}`);
    const hostname = values["tailnet-host"] ?? "";
    if (hostname === "") problems.push("--tailnet-host must name the machine in the tailnet");
    const check: TailnetCheck = { api: api as TailnetCheck["api"], url, tailnet: values.tailnet ?? "-", hostname, exitNode: values["exit-node"] === true };
    if (values["tailnet-address"] !== undefined) check.address = values["tailnet-address"];
    return check;
}

/** `host:port` or `[v6]:port`. */
function parseSshTarget(text: string, problems: string[]): { host: string; port: number } | undefined {
    if (text === "") return undefined;
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]\s]+):(\d+)$/.exec(text);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 1 && port <= 65535) || (text.startsWith("[") && !isIPv6(m[1]))) {
        problems.push(`--ssh must be HOST:PORT (an IPv6 address in brackets: [fd00::1]:22), got ${JSON.stringify(text)}`);
        return undefined;
    }
    return { host: m[1], port };
}
