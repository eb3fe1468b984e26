import type { Rule } from "../../engine/rule";
import { cannotProve, flagFinding } from "../../engine/rule";
import { podSpecsFlagCel, podSpecsOf } from "../../engine/pod-spec";
import { UNKNOWN } from "../../engine/unknown";

/** The incident's mistake: a DaemonSet on the host network changes every node's network at once. */
export const daemonsetNoHostNetwork: Rule = {
    id: "daemonset-no-host-network",
    description: "DaemonSet pods must not use the host network namespace (hostNetwork: true).",
    remediation:
        "Run the workload in the pod network (drop hostNetwork) and send egress through the egress gateway; " +
        "node-level changes go through the node rollout (canary first, gated, self-reverting).",
    enforcementLevel: "mandatory",
    check(obj) {
        if (obj.kind !== "DaemonSet") return [];
        return podSpecsOf(obj).flatMap((view) =>
            view.spec === UNKNOWN
                ? [cannotProve([...view.path, "hostNetwork"], "is false")]
                : flagFinding(
                      obj.body,
                      [...view.path, "hostNetwork"],
                      "a DaemonSet on the host network runs on every node at once and can cut the nodes off (the 2025-10-13 outage)",
                  ),
        );
    },
    admission: {
        expression: `object.kind != "DaemonSet" || !${podSpecsFlagCel("hostNetwork")}`,
        message: "DaemonSet pods must not use hostNetwork: true",
    },
};
