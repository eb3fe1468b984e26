import { apiGroup } from "../../engine/pod-spec";
import type { Rule } from "../../engine/rule";

const GROUP = "upgrade.cattle.io";

/**
 * system-upgrade-controller's Plan replaces k3s (or anything else) on the
 * nodes it selects, from a pod with the host's root: a node change outside the
 * gated, self-reverting node chain, so no canary, no gate, no way back.
 */
export const noInClusterNodeUpgrade: Rule = {
    id: "no-in-cluster-node-upgrade",
    description:
        "system-upgrade-controller Plans (upgrade.cattle.io) must not change node software from inside the cluster: node changes go through the gated node chain.",
    remediation:
        "Change k3s through the program's node chain (nodes[].k3sVersion in the stack config: server first, then a canary, one node at a time, drained, gated, self-reverting); " +
        "a Plan the platform owners accept needs a reasoned platform exemption.",
    enforcementLevel: "mandatory",
    check(obj) {
        if (obj.kind !== "Plan" || apiGroup(obj.apiVersion) !== GROUP) return [];
        return [
            {
                detail: `it replaces software on the nodes it selects from a privileged pod, outside the gated node chain: no canary, no health gate, no revert`,
                unknown: false,
            },
        ];
    },
    admission: {
        expression: `!(object.kind == "Plan" && object.apiVersion.startsWith("${GROUP}/"))`,
        message: "system-upgrade-controller Plans change node software outside the gated node chain",
    },
};
