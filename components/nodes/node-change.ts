import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import type { NodeChangeSettings, NodeConfig } from "../config/stack-config";
import { sshAddress } from "../config/stack-config";
import { drainCommand, uncordonCommand, type DrainSpec } from "../health/drain-command";
import { gateCommand, type GateSpec } from "../health/gate-command";
import { parseAppliedAt, parseChangeId, parsePrevious, renderApply, renderConfirm, renderPreflight, type NodeChangeSpec } from "./scripts/node-change-scripts";
import { stepCommand } from "./scripts/shell";

/** How to reach the node: what `remote.Command`'s `connection` gets. */
export interface NodeConnection {
    host: string;
    port: number;
    user: string;
    /** The node's SSH host key (`ssh-ed25519 AAAA...`): the connection is refused if the node shows another. */
    hostKey: string;
    /** Secret. */
    privateKey: pulumi.Input<string>;
}

/** `remote.Command`'s connection for a host: the key secret, the host key pinned, a few dial attempts. */
export function remoteConnection(c: NodeConnection) {
    return {
        host: c.host,
        port: c.port,
        user: c.user,
        hostKey: c.hostKey,
        privateKey: pulumi.secret(c.privateKey),
        dialErrorLimit: 3,
        perDialTimeout: 15,
    };
}

/** What the gate is told about the change apply made. */
export interface AppliedChange {
    /** The node's clock at the end of apply, epoch seconds. */
    since: string;
    /** What the node ran before (`none` when nothing). */
    previous: string;
    /** How the operator runs the whole change again. */
    rerun: string;
}

/** The command lines of the steps that run where `pulumi up` runs (they read the kubeconfig on stdin). */
export interface LocalSteps {
    /** Before the change: the API's preconditions, then cordon and drain. */
    drain: string;
    /** After apply: waits for the node to be healthy for the settle window. */
    gate: (applied: AppliedChange) => string;
    /** After confirm: lifts the drain's cordon. */
    uncordon: string;
}

export interface NodeChangeArgs {
    /** What to change: the change-specific script fragments and the files its revert restores. */
    spec: NodeChangeSpec;
    connection: NodeConnection;
    /** Time limits and the revert deadline. */
    settings: Pick<NodeChangeSettings, "revertAfterSeconds" | "applyTimeoutSeconds" | "stepTimeoutSeconds">;
    /** Secret that preflight and apply read on stdin (e.g. the k3s token). Never on a command line or in `environment`. */
    stdin: pulumi.Input<string>;
    local: LocalSteps;
    /** Secret the local steps read on stdin (the kubeconfig). */
    kubeconfig: pulumi.Input<string>;
    /** Secret environment of the gate (e.g. the control server's API key): never on its command line. @default none */
    gateEnvironment?: Record<string, pulumi.Input<string>>;
    /** Values that, when they change, re-run the whole chain (e.g. the target version). */
    triggers: pulumi.Input<unknown>[];
    /** What must be finished before this change starts (the previous node's change). @default none */
    after?: pulumi.Resource;
}

/**
 * How a change of one configured node reaches it (the SSH connection) and its local steps: drain,
 * gate and uncordon for `change`, with the node's settings; `drain` and `gate` add what this kind
 * of change checks besides (an agent's server version, the previous version, the tailnet).
 */
export function nodeChangeAccess(
    node: NodeConfig,
    opts: {
        change: string;
        settings: NodeChangeSettings;
        sshPrivateKey: pulumi.Input<string>;
        context?: string;
        drain?: Pick<DrainSpec, "agentOf">;
        gate?: (applied: AppliedChange) => Pick<GateSpec, "previousVersion" | "tailnet">;
    },
): { connection: NodeConnection; local: LocalSteps } {
    const { settings } = opts;
    const host = sshAddress(node);
    const context = opts.context === undefined ? {} : { context: opts.context };
    return {
        connection: { host, port: node.ssh.port, user: node.ssh.user, hostKey: node.ssh.hostKey, privateKey: opts.sshPrivateKey },
        local: {
            drain: drainCommand({
                node: node.name,
                change: opts.change,
                timeoutSeconds: settings.drainTimeoutSeconds,
                drain: settings.drain,
                ...opts.drain,
                ...context,
            }),
            gate: (applied) =>
                gateCommand({
                    node: node.name,
                    version: node.k3sVersion,
                    sshHost: host,
                    sshPort: node.ssh.port,
                    hostKey: node.ssh.hostKey,
                    since: applied.since,
                    timeoutSeconds: settings.gateTimeoutSeconds,
                    settleSeconds: settings.settleSeconds,
                    maxLeaseAgeSeconds: settings.maxLeaseAgeSeconds,
                    ...opts.gate?.(applied),
                    rerun: applied.rerun,
                    ...context,
                }),
            uncordon: uncordonCommand({ node: node.name, ...context }),
        },
    };
}

/** The step names, in order; each is a child resource `<name>-<step>`. */
export const NODE_CHANGE_STEPS = ["preflight", "drain", "apply", "gate", "confirm", "uncordon"] as const;

/**
 * The scripts of a change's remote steps as they run on the node (each wrapped in `timeout`,
 * through `sudo -n` unless the login is root). Confirm's script names the change apply armed and
 * the command that runs the change again.
 */
export function nodeChangeCommands(args: Pick<NodeChangeArgs, "spec" | "settings" | "connection">) {
    const { spec, settings, connection } = args;
    const step = (script: string, timeoutSeconds: number) => stepCommand(script, { user: connection.user, timeoutSeconds });
    return {
        preflight: step(renderPreflight(spec), settings.stepTimeoutSeconds),
        apply: step(renderApply(spec, settings.revertAfterSeconds), settings.applyTimeoutSeconds),
        confirm: (changeId: string, rerun: string) => step(renderConfirm(spec, changeId, rerun), settings.stepTimeoutSeconds),
    };
}

/** What an operator runs to make the engine run a change's whole chain again. */
export const rerunCommand = (preflightUrn: string) => `pulumi up --replace '${preflightUrn}'`;

/**
 * One change to one node, in six steps that each wait for the last:
 * preflight (on the node; changes nothing) → drain (API preconditions, cordon, evictions) →
 * apply (arms a durable revert on the node, then makes the change) → gate (from outside: Ready,
 * Lease renewing, version and SSH for the settle window) → confirm (on the node: disarms the
 * revert unless it already started) → uncordon. A failing step stops the chain; if the node
 * stops answering after apply, or the gate or confirm never come, the node reverts by itself.
 */
export class NodeChange extends pulumi.ComponentResource {
    /** The last step: anything that must wait for this change depends on it. */
    readonly done: command.local.Command;

    constructor(name: string, args: NodeChangeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:NodeChange", name, {}, opts);
        const scripts = nodeChangeCommands(args);
        const connection = remoteConnection(args.connection);
        // The scripts are part of the trigger: a changed script is a changed change.
        const digest = createHash("sha256")
            .update(JSON.stringify([scripts.preflight, scripts.apply, scripts.confirm("", ""), args.local.drain, args.local.uncordon]))
            .digest("hex")
            .slice(0, 16);
        const triggers = [...args.triggers, digest];
        const stdin = pulumi.secret(args.stdin);
        const kubeconfig = pulumi.secret(args.kubeconfig);

        const preflight = new command.remote.Command(
            `${name}-preflight`,
            { connection, create: scripts.preflight, stdin, triggers, logging: "none" },
            { parent: this, dependsOn: args.after ? [args.after] : [] },
        );
        const drain = new command.local.Command(
            `${name}-drain`,
            { create: args.local.drain, stdin: kubeconfig, triggers: [...triggers, preflight.id] },
            { parent: this, dependsOn: [preflight] },
        );
        const apply = new command.remote.Command(
            `${name}-apply`,
            { connection, create: scripts.apply, stdin, triggers: [...triggers, drain.id], logging: "none" },
            { parent: this, dependsOn: [drain] },
        );
        // The provider marks stdout secret because stdin is; apply prints only its own fixed lines.
        const applied = pulumi.unsecret(apply.stdout);
        const gate = new command.local.Command(
            `${name}-gate`,
            {
                create: pulumi
                    .all([applied, preflight.urn])
                    .apply(([out, urn]) => args.local.gate({ since: parseAppliedAt(out), previous: parsePrevious(out), rerun: rerunCommand(urn) })),
                stdin: kubeconfig,
                ...(args.gateEnvironment === undefined
                    ? {}
                    : { environment: pulumi.secret(pulumi.output(args.gateEnvironment)) as pulumi.Output<Record<string, string>> }),
                triggers: [...triggers, apply.id],
            },
            { parent: this, dependsOn: [apply] },
        );
        const confirm = new command.remote.Command(
            `${name}-confirm`,
            {
                connection,
                create: pulumi.all([applied, preflight.urn]).apply(([out, urn]) => scripts.confirm(parseChangeId(out), rerunCommand(urn))),
                triggers: [...triggers, gate.id],
            },
            { parent: this, dependsOn: [gate] },
        );
        this.done = new command.local.Command(
            `${name}-uncordon`,
            { create: args.local.uncordon, stdin: kubeconfig, triggers: [...triggers, confirm.id] },
            { parent: this, dependsOn: [confirm] },
        );
        this.registerOutputs({ confirmed: confirm.stdout });
    }
}
