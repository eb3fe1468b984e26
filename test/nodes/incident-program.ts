// The incident's mistake, made outside the stack config (which refuses it): a program that gives one
// node the workers' host-level Tailscale settings of 2025-10-13 (use the exit node, LAN access
// allowed) through the same gated, self-reverting node change the exit node gets. The replay test
// runs it with the command executor against the node lab; config comes from `oceanid:replay`.
import * as pulumi from "@pulumi/pulumi";
import type { NodeChangeSettings, NodeConfig } from "../../components/config/stack-config";
import type { TailnetCheck } from "../../components/health/tailnet-device";
import { HostTailscale } from "../../components/nodes/exit-node";
import type { HostTailscaleChange } from "../../components/nodes/scripts/tailscale-scripts";

export interface ReplayConfig {
    node: NodeConfig;
    change: Omit<HostTailscaleChange, "node" | "hostname" | "minFreeDiskMiB" | "outOfBand">;
    tailnet: TailnetCheck;
    settings: NodeChangeSettings;
}

const config = new pulumi.Config("oceanid");
const replay = config.requireObject<ReplayConfig>("replay");
new HostTailscale(`${replay.node.name}-incident`, {
    node: replay.node,
    change: {
        ...replay.change,
        node: replay.node.name,
        hostname: replay.node.name,
        minFreeDiskMiB: 1,
        outOfBand: { how: replay.node.outOfBand ?? "lab host" },
    },
    tailnet: replay.tailnet,
    settings: replay.settings,
    secrets: {
        sshPrivateKey: config.requireSecret("sshPrivateKey"),
        kubeconfig: config.requireSecret("kubeconfig"),
        authKey: config.requireSecret("exitNodeAuthKey"),
        controlApiKey: config.requireSecret("tailscaleApiKey"),
    },
});
