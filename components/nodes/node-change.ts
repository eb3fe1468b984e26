import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import type { NodeChangeSettings } from "../config/stack-config";
import { parseAppliedAt, renderApply, renderArm, renderConfirm, renderPreflight, type NodeChangeSpec } from "./scripts/node-change-scripts";
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

export interface NodeChangeArgs {
    /** What to change: the change-specific script fragments and the files its revert restores. */
    spec: NodeChangeSpec;
    connection: NodeConnection;
    /** Time limits and the revert timer. */
    settings: Pick<NodeChangeSettings, "revertAfterSeconds" | "applyTimeoutSeconds" | "gateTimeoutSeconds" | "stepTimeoutSeconds">;
    /** Secret that preflight and apply read on stdin (e.g. the k3s token). Never on a command line or in `environment`. */
    stdin: pulumi.Input<string>;
    /** The gate's command line, given the node's clock at the end of apply. Runs where `pulumi up` runs. */
    gateCommand: (appliedAt: string) => string;
    /** Secret the gate reads on stdin (the kubeconfig). */
    gateStdin: pulumi.Input<string>;
    /** Values that, when they change, re-run the whole chain (e.g. the target version). */
    triggers: pulumi.Input<unknown>[];
    /** What must be confirmed before this change starts (the previous node's change). @default none */
    after?: pulumi.Resource;
}

/**
 * The scripts of a change's remote steps, as they run on the node (each wrapped
 * in `timeout`, through `sudo -n` unless the login is root).
 */
export function nodeChangeCommands(args: Pick<NodeChangeArgs, "spec" | "settings" | "connection">): Record<"preflight" | "arm" | "apply" | "confirm", string> {
    const { spec, settings, connection } = args;
    const step = (script: string, timeoutSeconds: number) => stepCommand(script, { user: connection.user, timeoutSeconds });
    return {
        preflight: step(renderPreflight(spec), settings.stepTimeoutSeconds),
        arm: step(renderArm(spec, settings.revertAfterSeconds), settings.stepTimeoutSeconds),
        apply: step(renderApply(spec), settings.applyTimeoutSeconds),
        confirm: step(renderConfirm(spec), settings.stepTimeoutSeconds),
    };
}

/**
 * One change to one node, in five steps that each wait for the last:
 * preflight (checks, changes nothing) → arm (backup, start a revert timer on the
 * node) → apply → gate (from outside: Ready, Lease renewed, version, SSH) →
 * confirm (disarm). A failing step stops the chain; if the node stops
 * answering after apply, its own timer puts the old state back.
 */
export class NodeChange extends pulumi.ComponentResource {
    /** The last step: anything that must wait for this change depends on it. */
    readonly confirmed: command.remote.Command;

    constructor(name: string, args: NodeChangeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:NodeChange", name, {}, opts);
        const scripts = nodeChangeCommands(args);
        const connection = {
            host: args.connection.host,
            port: args.connection.port,
            user: args.connection.user,
            hostKey: args.connection.hostKey,
            privateKey: pulumi.secret(args.connection.privateKey),
            dialErrorLimit: 3,
            perDialTimeout: 15,
        };
        // The scripts are part of the trigger: a changed script is a changed change.
        const digest = createHash("sha256").update(JSON.stringify(scripts)).digest("hex").slice(0, 16);
        const triggers = [...args.triggers, digest];
        const stdin = pulumi.secret(args.stdin);

        const preflight = new command.remote.Command(
            `${name}-preflight`,
            { connection, create: scripts.preflight, stdin, triggers, logging: "none" },
            { parent: this, dependsOn: args.after ? [args.after] : [] },
        );
        const arm = new command.remote.Command(
            `${name}-arm`,
            { connection, create: scripts.arm, triggers: [...triggers, preflight.id] },
            { parent: this, dependsOn: [preflight] },
        );
        const apply = new command.remote.Command(
            `${name}-apply`,
            { connection, create: scripts.apply, stdin, triggers: [...triggers, arm.id], logging: "none" },
            { parent: this, dependsOn: [arm] },
        );
        const gate = new command.local.Command(
            `${name}-gate`,
            {
                // The provider marks stdout secret because stdin is; apply prints only its own fixed lines.
                create: pulumi.unsecret(apply.stdout).apply((out) => args.gateCommand(parseAppliedAt(out))),
                stdin: pulumi.secret(args.gateStdin),
                triggers: [...triggers, apply.id],
            },
            { parent: this, dependsOn: [apply] },
        );
        this.confirmed = new command.remote.Command(
            `${name}-confirm`,
            { connection, create: scripts.confirm, triggers: [...triggers, gate.id] },
            { parent: this, dependsOn: [gate] },
        );
        this.registerOutputs({ confirmed: this.confirmed.stdout });
    }
}
