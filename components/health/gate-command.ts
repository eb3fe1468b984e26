/**
 * The gate's command line, written once: the Pulumi program renders it with {@link gateCommand}
 * and the CLI reads it back with {@link parseGateArgs}, so the two cannot drift apart.
 */
import { parseArgs } from "node:util";
import { isIPv6 } from "node:net";
import { shellQuote, shellWord } from "../platform/shell-quote";
import { hostPort, parseHostKey } from "./ssh-host";

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
    /** Kubeconfig context. Defaults to the kubeconfig's current context. */
    context?: string;
}

/** The gate's flags, for `util.parseArgs`. */
export const GATE_OPTIONS = {
    node: { type: "string" },
    version: { type: "string" },
    ssh: { type: "string" },
    "host-key": { type: "string" },
    since: { type: "string" },
    timeout: { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    interval: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
} as const;

/** Seconds between polls unless `--interval` says otherwise. */
export const DEFAULT_GATE_INTERVAL_SECONDS = 2;

/** Bad gate arguments; the message names the flag and what it wants. */
export class GateArgsError extends Error {
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
    const flags: Array<[string, string]> = [
        ["--node", shellWord(spec.node)],
        ["--version", shellWord(spec.version)],
        ["--ssh", shellWord(hostPort(spec.sshHost, spec.sshPort))],
        // Always quoted, bare or not: it reads as one value in logs.
        ["--host-key", shellQuote(spec.hostKey)],
        ["--since", shellWord(spec.since.trim())],
        ["--timeout", shellWord(String(spec.timeoutSeconds))],
        ["--kubeconfig", "-"],
    ];
    if (spec.context !== undefined) flags.push(["--context", shellWord(spec.context)]);
    // A value starting with "-" would read as a flag: attach it with "=".
    return ["npx --no-install oceanid-health gate", ...flags.map(([flag, value]) => `${flag}${/^'?-/.test(value) && value !== "-" ? "=" : " "}${value}`)].join(
        " ",
    );
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
        ({ values } = parseArgs({ args: [...argv], options: GATE_OPTIONS, allowPositionals: false, strict: true }));
    } catch (err) {
        throw new GateArgsError(firstSentence((err as Error).message));
    }
    if (values.help) return { help: true };

    const problems: string[] = [];
    const required = (flag: keyof typeof values): string => {
        const v = values[flag];
        if (typeof v !== "string" || v === "") problems.push(`--${flag} is required`);
        return typeof v === "string" ? v : "";
    };
    const node = required("node");
    const version = required("version");
    const ssh = parseSshTarget(required("ssh"), problems);
    const hostKey = required("host-key");
    if (hostKey && !parseHostKey(hostKey)) {
        problems.push(`--host-key must be a public key line "<type> <base64>" as ssh-keyscan prints it, e.g. 'ssh-ed25519 AAAAC3...'`);
    }
    const since = required("since").trim();
    if (since && !/^\d+(\.\d+)?$/.test(since)) problems.push(`--since must be epoch seconds (date +%s on the node), got ${JSON.stringify(since)}`);
    const timeout = positiveNumber("timeout", required("timeout"), problems, true);
    const interval = values.interval === undefined ? DEFAULT_GATE_INTERVAL_SECONDS : positiveNumber("interval", values.interval, problems, false);
    if (values.context === "") problems.push("--context must not be empty");
    if (values.kubeconfig === "") problems.push("--kubeconfig must be a path or - for stdin");
    if (problems.length > 0) throw new GateArgsError(problems.join("; "));

    const spec: GateSpec = { node, version, sshHost: ssh!.host, sshPort: ssh!.port, hostKey, since, timeoutSeconds: timeout };
    if (values.context !== undefined) spec.context = values.context;
    return { help: false, spec, kubeconfig: values.kubeconfig, intervalSeconds: interval };
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

function positiveNumber(flag: string, text: string, problems: string[], integer: boolean): number {
    if (text === "") return NaN;
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || (integer && !Number.isInteger(n))) {
        problems.push(`--${flag} must be a positive ${integer ? "whole " : ""}number of seconds, got ${JSON.stringify(text)}`);
    }
    return n;
}

/** Node's parseArgs messages go on with advice about "--"; the first sentence is the point. */
export function firstSentence(message: string): string {
    return message.split("\n")[0].split(". ")[0].replace(/\.$/, "");
}
