import type { Finding, Rule } from "../../engine/rule";
import { cannotProve, flagFinding } from "../../engine/rule";
import { podSpecsFlagCel, podSpecsOf } from "../../engine/pod-spec";
import { UNKNOWN } from "../../engine/unknown";

const NAMESPACE_NAMES: Record<string, string> = { hostPID: "process (PID)", hostIPC: "IPC", hostNetwork: "network" };

/** Host PID/IPC namespaces for any workload, and the host network outside DaemonSets (which has its own rule). */
export const workloadNoHostNamespaces: Rule = {
    id: "workload-no-host-namespaces",
    description: "Pods must not share the host's PID or IPC namespace, nor (outside DaemonSets) its network namespace.",
    remediation: "Remove hostPID, hostIPC and hostNetwork; a workload that needs the host belongs in the node rollout, not in a pod.",
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
                findings.push(...flagFinding(obj.body, [...view.path, f], `the pod shares the node's ${NAMESPACE_NAMES[f]} namespace`));
            }
        }
        return findings;
    },
    admission: {
        expression: `!${podSpecsFlagCel("hostPID")} && !${podSpecsFlagCel("hostIPC")} && (object.kind == "DaemonSet" || !${podSpecsFlagCel("hostNetwork")})`,
        message: "pods must not use hostPID, hostIPC, or hostNetwork outside a DaemonSet",
    },
};
