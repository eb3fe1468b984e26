import { allowedCel } from "../../engine/cel";
import type { Rule } from "../../engine/rule";
import { cannotProve, flagFinding } from "../../engine/rule";
import { podSpecsFlagCel, podSpecsOf } from "../../engine/pod-spec";
import { UNKNOWN } from "../../engine/unknown";

/** The incident's mistake: a DaemonSet on the host network changes every node's network at once. */
export const daemonsetNoHostNetwork: Rule = {
    id: "daemonset-no-host-network",
    description: "DaemonSet pods must not use the host network namespace (hostNetwork: true).",
    remediation: (ctx) =>
        ctx.tailscale
            ? "Run Tailscale in the pod network (drop hostNetwork) and send egress through the egress gateway; " +
              "the node's own Tailscale is a node change and goes through the node rollout (canary first, gated, self-reverting)."
            : "Run the workload in the pod network (drop hostNetwork); node software that must be on the host network (svclb, a load balancer's speaker, " +
              "a node exporter) needs a reasoned exemption that names it (allow.hostNamespaces: [hostNetwork]), and node-level changes go through the node rollout.",
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
                  ).map((f) => (f.unknown ? f : { ...f, allowance: { type: "hostNamespace" as const, value: "hostNetwork" } })),
        );
    },
    admission: {
        // Pods the DaemonSet's controller creates (ownership.ts) are judged as the DaemonSet.
        expression: `!(object.kind == "DaemonSet" || variables.fromDaemonSet) || !${podSpecsFlagCel("hostNetwork")} || ${allowedCel("daemonset-no-host-network", "hostNamespace", '"hostNetwork"')}`,
        message: "DaemonSet pods must not use hostNetwork: true",
    },
};
