import type { KubeObject } from "./kube-object";
import { read, readList, UNKNOWN, type Unknown } from "./unknown";

/** Where each pod-carrying kind keeps its pod spec, the same in every API version it ever had. */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
    Pod: ["spec"],
    PodTemplate: ["template", "spec"],
    ReplicationController: ["spec", "template", "spec"],
    ReplicaSet: ["spec", "template", "spec"],
    Deployment: ["spec", "template", "spec"],
    StatefulSet: ["spec", "template", "spec"],
    DaemonSet: ["spec", "template", "spec"],
    Job: ["spec", "template", "spec"],
    CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

export const POD_CARRYING_KINDS = Object.keys(POD_SPEC_PATHS);

/** A pod spec found in an object, with the path to it for messages. */
export interface PodSpecView {
    readonly path: readonly string[];
    /** The spec object; UNKNOWN when it (or a parent) is not known yet; {} when a patch leaves it alone. */
    readonly spec: unknown;
}

export function podSpecOf(obj: KubeObject): PodSpecView | undefined {
    const path = POD_SPEC_PATHS[obj.kind];
    if (path === undefined) return undefined;
    const spec = read(obj.body, ...path);
    return { path, spec: spec === undefined ? {} : spec };
}

export type ContainerField = "initContainers" | "containers" | "ephemeralContainers";
const CONTAINER_FIELDS: readonly ContainerField[] = ["initContainers", "containers", "ephemeralContainers"];

export interface ContainerView {
    /** e.g. ["spec","template","spec","containers",0] */
    readonly path: ReadonlyArray<string | number>;
    readonly name: string;
    /** The container object, or UNKNOWN when the container or its whole list is unknown. */
    readonly container: unknown;
}

/** Every container of a pod spec: init, regular and ephemeral. */
export function containersOf(view: PodSpecView): ContainerView[] | Unknown {
    if (view.spec === UNKNOWN) return UNKNOWN;
    const out: ContainerView[] = [];
    for (const field of CONTAINER_FIELDS) {
        const list = readList(view.spec, field);
        if (list === UNKNOWN) return UNKNOWN;
        list.forEach((container, i) => {
            const name = read(container, "name");
            out.push({ path: [...view.path, field, i], name: typeof name === "string" ? name : `#${i}`, container });
        });
    }
    return out;
}

/** `spec.template.spec.containers[0].securityContext` from its parts: the same notation config errors use. */
export { formatPath as pathText } from "../../lib/problems";
