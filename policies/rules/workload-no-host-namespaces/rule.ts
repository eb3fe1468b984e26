import { allowedCel, celString } from "../../engine/cel";
import type { Finding, Rule } from "../../engine/rule";
import { cannotProve, flagFinding } from "../../engine/rule";
import { podSpecsFlagCel, podSpecsOf } from "../../engine/pod-spec";
import { UNKNOWN } from "../../engine/unknown";

const NAMESPACE_NAMES: Record<string, string> = { hostPID: "process (PID)", hostIPC: "IPC", hostNetwork: "network" };

/** Host PID/IPC namespaces for any workload, and the host network outside DaemonSets (which has its own rule). */
export const workloadNoHostNamespaces: Rule = {
    id: "workload-no-host-namespaces",
    description: "Pods must not share the host's PID or IPC namespace, nor (outside DaemonSets) its network namespace.",
    remediation: (ctx) =>
        ctx.tailscale
            ? "Remove hostPID, hostIPC and hostNetwork: Tailscale in userspace mode runs in the pod's own namespaces."
            : "Remove hostPID, hostIPC and hostNetwork; node software that needs one (a node exporter, a device plugin) needs a reasoned exemption that names it (allow.hostNamespaces), and a change to the node itself belongs in the node rollout.",
    enforcementLevel: "mandatory",
    check(obj) {
        const fields = obj.kind === "DaemonSet" ? ["hostPID", "hostIPC"] : ["hostPID", "hostIPC", "hostNetwork"];
        const findings: Finding[] = [];
        for (const view of podSpecsOf(obj)) {
            if (view.spec === UNKNOWN) {
                findings.push(...fields.map((f) => cannotProve([...view.path, f], "is false")));
                continue;
            }
            for (const f of fields) {
                findings.push(
                    ...flagFinding(obj.body, [...view.path, f], `the pod shares the node's ${NAMESPACE_NAMES[f]} namespace`).map((x) =>
                        x.unknown ? x : { ...x, allowance: { type: "hostNamespace" as const, value: f } },
                    ),
                );
            }
        }
        return findings;
    },
    admission: {
        expression: ["hostPID", "hostIPC", "hostNetwork"]
            .map((f) => {
                const allowed = allowedCel("workload-no-host-namespaces", "hostNamespace", celString(f));
                // A DaemonSet's host network, and that of the Pods its controller creates, is the other rule's.
                const daemonSet = f === "hostNetwork" ? 'object.kind == "DaemonSet" || variables.fromDaemonSet || ' : "";
                return `(${daemonSet}!${podSpecsFlagCel(f)} || ${allowed})`;
            })
            .join(" && "),
        message: "pods must not use hostPID, hostIPC, or hostNetwork outside a DaemonSet",
    },
};
