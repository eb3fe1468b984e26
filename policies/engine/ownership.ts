// Who may act for an exempted workload at admission. A workload's exemption
// also covers what its controllers create from it (DaemonSet → Pods;
// Deployment → ReplicaSets → Pods; StatefulSet, ReplicationController → Pods;
// CronJob → Jobs → Pods), proven by two facts together: the request comes from
// that controller's own identity, and the object's controller reference names
// the owner. A hand-made Pod that copies an exempted Pod's labels and owner
// references comes from a person's identity, so it is judged as itself.
import { celStrings } from "./cel";

const sa = (name: string) => `system:serviceaccount:kube-system:${name}`;

/**
 * The identities of the controllers that create objects for each owner kind.
 * k3s runs kube-controller-manager with --use-service-account-credentials
 * (k3s pkg/daemons/control/server.go), so each controller has its own
 * ServiceAccount in kube-system; system:kube-controller-manager is the shared
 * identity the controller manager uses without that flag.
 */
export const CONTROLLER_IDENTITIES: Readonly<Record<string, readonly string[]>> = {
    DaemonSet: [sa("daemon-set-controller"), "system:kube-controller-manager"],
    Deployment: [sa("deployment-controller"), "system:kube-controller-manager"],
    ReplicaSet: [sa("replicaset-controller"), "system:kube-controller-manager"],
    StatefulSet: [sa("statefulset-controller"), "system:kube-controller-manager"],
    ReplicationController: [sa("replication-controller"), "system:kube-controller-manager"],
    Job: [sa("job-controller"), "system:kube-controller-manager"],
    CronJob: [sa("cronjob-controller"), "system:kube-controller-manager"],
};

const by = (ownerKind: string) => `request.userInfo.username in ${celStrings(CONTROLLER_IDENTITIES[ownerKind])}`;
const ref = (kind: string, group: string) =>
    `r.kind == "${kind}" && ${group === "" ? 'r.apiVersion == "v1"' : `r.apiVersion.startsWith("${group}/")`} && ${by(kind)}`;
const HASH = 'object.metadata.labels["pod-template-hash"]';

/**
 * The owners the object answers for, as [kind, name] pairs: itself first,
 * then each owner the creating controller proves, nearest first. The
 * Deployment behind a Pod is the ReplicaSet's name less its pod-template-hash
 * (the deployment controller names ReplicaSets `<deployment>-<hash>` and labels
 * their Pods with the hash); the CronJob behind a Job's Pod is the Job's name
 * less its `-<minutes>` suffix.
 */
export const OWNERS_CEL =
    "[[string(object.kind), string(object.metadata.name)]] + (size(variables.controllerRef) != 1 ? [] : variables.controllerRef.map(r, " +
    `object.kind == "Pod" && ${ref("DaemonSet", "apps")} ? [["DaemonSet", string(r.name)]] : ` +
    `object.kind == "Pod" && ${ref("StatefulSet", "apps")} ? [["StatefulSet", string(r.name)]] : ` +
    `object.kind == "Pod" && ${ref("ReplicationController", "")} ? [["ReplicationController", string(r.name)]] : ` +
    `object.kind == "Pod" && ${ref("ReplicaSet", "apps")} ? [["ReplicaSet", string(r.name)]] + ` +
    `(has(object.metadata.labels) && "pod-template-hash" in object.metadata.labels && ${HASH} != "" && r.name.endsWith("-" + ${HASH}) ` +
    `? [["Deployment", string(r.name.substring(0, size(r.name) - size(${HASH}) - 1))]] : []) : ` +
    `object.kind == "ReplicaSet" && ${ref("Deployment", "apps")} ? [["Deployment", string(r.name)]] : ` +
    `object.kind == "Job" && ${ref("CronJob", "batch")} ? [["CronJob", string(r.name)]] : ` +
    `object.kind == "Pod" && ${ref("Job", "batch")} ? [["Job", string(r.name)]] + ` +
    `(r.name.matches("^.+-[0-9]+$") ? [["CronJob", string(r.name.substring(0, r.name.lastIndexOf("-")))]] : []) : ` +
    "[])[0])";

/** The object's controller references (at most one is valid; more prove nothing). */
export const CONTROLLER_REF_CEL =
    "has(object.metadata.ownerReferences) ? object.metadata.ownerReferences.filter(r, has(r.controller) && r.controller == true) : []";
