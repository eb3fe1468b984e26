import { daemonsetNoHostNetwork } from "./daemonset-no-host-network";
import type { Rule } from "./engine/rule";
import { helmReleaseOpaque } from "./helm-release-opaque";
import { noHostPathNetworkState } from "./no-host-path-network-state";
import { noPrivilegedNetworking } from "./no-privileged-networking";
import { tailscaleExitNodeByIp } from "./tailscale-exit-node-by-ip";
import { tailscaleUserspaceOnly } from "./tailscale-userspace-only";
import { workloadNoHostNamespaces } from "./workload-no-host-namespaces";

/** Every guardrail, in the order reports list them. */
export const RULES: readonly Rule[] = [
    daemonsetNoHostNetwork,
    workloadNoHostNamespaces,
    noHostPathNetworkState,
    noPrivilegedNetworking,
    tailscaleExitNodeByIp,
    tailscaleUserspaceOnly,
    helmReleaseOpaque,
];
