import * as pulumi from "@pulumi/pulumi";
import type { ExitNodeHostConfig, NodeChangeSettings, NodeConfig } from "../config/stack-config";
import { exitNodeTailnetCheck, TAILNET_KEY_ENV, type TailnetCheck } from "../health/tailnet-device";
import { NodeChange, nodeChangeAccess } from "./node-change";
import { hostTailscaleSpec, type HostTailscaleChange } from "./scripts/tailscale-scripts";

/**
 * Tailscale's netfilter mode on the exit node: "on". Its rules match only tailscale0, Tailscale's
 * own 100.64.0.0/10 sources and its 0x40000 mark (inserted first in INPUT, FORWARD and nat
 * POSTROUTING); k3s's pod and service ranges (10.42/16, 10.43/16), Flannel's interfaces and
 * kube-proxy's marks are untouched. Exit traffic needs that masquerade and forward accept: "off"
 * would send peers' packets out unNATed, "nodivert" leaves the jumps to whoever keeps them in
 * order against k3s's own iptables resyncs.
 */
export const EXIT_NODE_NETFILTER_MODE = "on";

export interface ExitNodeArgs {
    /** The node whose Tailscale address is egress.exitNode. */
    node: NodeConfig;
    host: ExitNodeHostConfig;
    /** egress.exitNode: the address the gateway sends egress to, which the node must hold. */
    address: string;
    settings: NodeChangeSettings;
    /** scripts/recovery/remove-tailscale-leftovers, which the revert runs on the node. */
    leftoversScript: string;
    /** K3S_URL: where the node reports its change's state (the server answers on 127.0.0.1). */
    apiUrl: string;
    secrets: {
        sshPrivateKey: pulumi.Input<string>;
        kubeconfig: pulumi.Input<string>;
        /** Joins the node to the tailnet; reaches the node on stdin only. */
        authKey: pulumi.Input<string>;
        /** The control server's API key; reaches the gate in its environment only. */
        controlApiKey: pulumi.Input<string>;
    };
    context?: string;
    after?: pulumi.Resource;
}

/** The plain description of the exit node's Tailscale change, from validated config. */
export function exitNodeChange(args: Pick<ExitNodeArgs, "node" | "host" | "settings" | "leftoversScript" | "apiUrl">): HostTailscaleChange {
    const { node, host } = args;
    return {
        node: node.name,
        release: host.release,
        ...(host.loginServer === undefined ? {} : { loginServer: host.loginServer }),
        hostname: node.name,
        advertiseExitNode: true,
        tags: host.tags,
        netfilterMode: EXIT_NODE_NETFILTER_MODE,
        uploadLogs: host.uploadLogs,
        leftoversScript: args.leftoversScript,
        minFreeDiskMiB: Math.min(args.settings.minFreeDiskMiB, 512),
        outOfBand: node.outOfBand !== undefined ? { how: node.outOfBand } : { unsafeNoOutOfBandBecause: node.unsafeNoOutOfBand! },
        apiUrl: args.apiUrl,
    };
}

export interface HostTailscaleArgs {
    node: NodeConfig;
    /** What Tailscale on the host becomes. */
    change: HostTailscaleChange;
    /** What the gate asks the control server of the node. */
    tailnet: TailnetCheck;
    settings: NodeChangeSettings;
    secrets: ExitNodeArgs["secrets"];
    context?: string;
    after?: pulumi.Resource;
}

/**
 * Host Tailscale on one node as one gated, self-reverting node change: the gate also waits for
 * the control server to show the node as `tailnet` asks (online; for the exit node, holding
 * egress.exitNode with its exit routes approved). It refuses nothing itself: the stack config does
 * (no node uses an exit node for its own traffic), and {@link ExitNode} is the only way config
 * reaches it.
 */
export class HostTailscale extends pulumi.ComponentResource {
    readonly confirmed: pulumi.CustomResource;

    constructor(name: string, args: HostTailscaleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:HostTailscale", name, {}, opts);
        const { node, settings } = args;
        const change = new NodeChange(
            `${name}-change`,
            {
                spec: hostTailscaleSpec(args.change),
                ...nodeChangeAccess(node, {
                    change: "tailscale",
                    settings,
                    sshPrivateKey: args.secrets.sshPrivateKey,
                    ...(args.context === undefined ? {} : { context: args.context }),
                    gate: () => ({ tailnet: args.tailnet }),
                }),
                settings,
                stdin: args.secrets.authKey,
                kubeconfig: args.secrets.kubeconfig,
                gateEnvironment: { [TAILNET_KEY_ENV]: args.secrets.controlApiKey },
                triggers: [args.change.release.version, args.change.release.sha256],
                ...(args.after === undefined ? {} : { after: args.after }),
            },
            { parent: this },
        );
        this.confirmed = change.done;
        this.registerOutputs({});
    }
}

/** The exit node: the node egress.exitNode names, advertising exit routes with the exit-node tag. */
export class ExitNode extends pulumi.ComponentResource {
    readonly confirmed: pulumi.CustomResource;

    constructor(name: string, args: ExitNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:nodes:ExitNode", name, {}, opts);
        const tailscale = new HostTailscale(
            `${name}-tailscale`,
            {
                node: args.node,
                change: exitNodeChange(args),
                tailnet: exitNodeTailnetCheck(args.node.name, args.host.controlApi, args.address),
                settings: args.settings,
                secrets: args.secrets,
                ...(args.context === undefined ? {} : { context: args.context }),
                ...(args.after === undefined ? {} : { after: args.after }),
            },
            { parent: this },
        );
        this.confirmed = tailscale.confirmed;
        this.registerOutputs({});
    }
}
