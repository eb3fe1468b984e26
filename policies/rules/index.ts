import { daemonsetNoHostNetwork } from "./daemonset-no-host-network/rule";
import type { Rule } from "../engine/rule";
import { helmReleaseOpaque } from "./helm-release-opaque/rule";
import { noHostPathNetworkState } from "./no-host-path-network-state/rule";
import { noHostPathNodeRuntime } from "./no-host-path-node-runtime/rule";
import { noInClusterNodeUpgrade } from "./no-in-cluster-node-upgrade/rule";
import { operatorResourceOpaque } from "./operator-resource-opaque/rule";
import { noOpaquePodTemplate } from "./no-opaque-pod-template/rule";
import { noPrivilegedNetworking } from "./no-privileged-networking/rule";
import { tailscaleExitNodeByIp } from "./tailscale-exit-node-by-ip/rule";
import { tailscaleUserspaceOnly } from "./tailscale-userspace-only/rule";
import { workloadNoHostNamespaces } from "./workload-no-host-namespaces/rule";

/**
 * Every guardrail, in the order reports list them. A rule is a folder here:
 * rule.ts (ID, level, texts, the check and its admission CEL) and fixtures/.
 */
export const RULES: readonly Rule[] = [
    daemonsetNoHostNetwork,
    workloadNoHostNamespaces,
    noHostPathNetworkState,
    noHostPathNodeRuntime,
    noPrivilegedNetworking,
    tailscaleExitNodeByIp,
    tailscaleUserspaceOnly,
    noOpaquePodTemplate,
    noInClusterNodeUpgrade,
    helmReleaseOpaque,
    operatorResourceOpaque,
];
