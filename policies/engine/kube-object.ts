import { isUnknown, read, UNKNOWN } from "./unknown";

/** Where an object came from: a file and line (CLI) or a Pulumi URN (pack). */
export interface SourceRef {
    readonly file?: string;
    readonly line?: number;
    readonly urn?: string;
}

/** One Kubernetes object as the rules see it, whichever gate it came through. */
export interface KubeObject {
    /** As declared: "apps/v1", "v1", "extensions/v1beta1", "helm.sh/v3". */
    readonly apiVersion: string;
    /** Without a Pulumi `Patch` suffix: "DaemonSet" for `DaemonSetPatch`. */
    readonly kind: string;
    /** The whole object (metadata, spec, ...), possibly with unknown values inside. */
    readonly body: unknown;
    readonly source: SourceRef;
}

/** Name, namespace and annotations of an object; unknown parts read as "(unknown)". */
export function objectMeta(obj: KubeObject): { name: string; namespace: string | undefined; annotations: Record<string, string> } {
    const name = read(obj.body, "metadata", "name");
    const namespace = read(obj.body, "metadata", "namespace");
    const annotations = read(obj.body, "metadata", "annotations");
    const known: Record<string, string> = {};
    if (annotations !== null && typeof annotations === "object") {
        for (const [k, v] of Object.entries(annotations)) if (typeof v === "string" && !isUnknown(v)) known[k] = v;
    }
    return {
        name: name === UNKNOWN ? "(unknown)" : typeof name === "string" ? name : "(unnamed)",
        namespace: namespace === UNKNOWN ? "(unknown)" : typeof namespace === "string" ? namespace : undefined,
        annotations: known,
    };
}

/** "DaemonSet kube-system/tailscale-worker", the subject of every message. */
export function describeKindName(kind: string, namespace: string | undefined, name: string): string {
    return `${kind} ${namespace ? `${namespace}/` : ""}${name}`;
}

export function describeObject(obj: KubeObject): string {
    const { name, namespace } = objectMeta(obj);
    return describeKindName(obj.kind, namespace, name);
}

const PULUMI_K8S_TYPE = /^kubernetes:([^:]+):([A-Za-z0-9]+)$/;

/**
 * The objects a Pulumi resource declares: itself for a plain Kubernetes type,
 * its items for a `*List` type, nothing for non-Kubernetes types. Components
 * such as yaml/v2:ConfigGroup and helm.sh/v4:Chart register their objects as
 * resources of their own, which reach the policies one by one.
 */
export function fromPulumi(type: string, props: unknown, urn?: string): KubeObject[] {
    const m = PULUMI_K8S_TYPE.exec(type);
    if (!m) return [];
    const apiVersion = m[1] === "core/v1" ? "v1" : m[1];
    let kind = m[2];
    const source = { urn };
    if (kind.endsWith("List") && kind !== "List") {
        return listItems(props, apiVersion, kind.slice(0, -"List".length), source);
    }
    // A Pulumi `*Patch` names only the fields it changes; the rules read them like any object.
    if (kind.endsWith("Patch")) kind = kind.slice(0, -"Patch".length);
    return [{ apiVersion, kind, body: props, source }];
}

/**
 * The objects in one parsed manifest document: the document itself, or the
 * items of a `List` (also typed lists such as `DaemonSetList`), recursively.
 */
export function fromManifest(doc: unknown, source: SourceRef): KubeObject[] {
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return [];
    const apiVersion = read(doc, "apiVersion");
    const kind = read(doc, "kind");
    if (typeof kind !== "string" || typeof apiVersion !== "string") return [];
    if (kind.endsWith("List") && Array.isArray(read(doc, "items"))) {
        return listItems(doc, apiVersion, kind === "List" ? undefined : kind.slice(0, -"List".length), source);
    }
    return [{ apiVersion, kind, body: doc, source }];
}

function listItems(list: unknown, apiVersion: string, itemKind: string | undefined, source: SourceRef): KubeObject[] {
    const items = read(list, "items");
    if (items === UNKNOWN) {
        // A list whose items are unknown may hold anything: check it as an unknown object of its kind.
        return itemKind ? [{ apiVersion, kind: itemKind, body: UNKNOWN, source }] : [];
    }
    if (!Array.isArray(items)) return [];
    return items.flatMap((item) => {
        if (item === null || typeof item !== "object") return [];
        const own = item as Record<string, unknown>;
        const withType = {
            ...own,
            apiVersion: typeof own.apiVersion === "string" ? own.apiVersion : apiVersion,
            kind: typeof own.kind === "string" ? own.kind : itemKind,
        };
        return fromManifest(withType, source);
    });
}
