import type { KubeObject } from "./kube-object";
import { isUnknown, read, readList, UNKNOWN, type Unknown } from "./unknown";

/** Where each pod-carrying kind of Kubernetes itself keeps its pod spec, the same in every API version it ever had. */
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

/**
 * Where operators' workload kinds keep pod specs ("*": every element of a
 * list): Argo Rollouts, OpenKruise, Knative, KubeVirt (spec.template.spec);
 * Knative Revision, Tekton Task, Argo Workflow, SidecarSet (spec); Argo
 * Workflow templates; Tekton TaskRun and PipelineRun pod templates; Volcano
 * tasks, Ray worker groups, JobSet jobs; the Tailscale operator's ProxyClass
 * (spec.statefulSet.pod). Admission reads exactly these.
 */
export const SHAPE_POD_SPEC_PATHS: ReadonlyArray<readonly string[]> = [
    ["spec"],
    ["spec", "template", "spec"],
    ["spec", "jobTemplate", "spec", "template", "spec"],
    ["spec", "template", "jobTemplate", "spec", "template", "spec"],
    ["spec", "podSpec"],
    ["spec", "podTemplate"],
    ["spec", "podTemplate", "spec"],
    ["spec", "templates", "*"],
    ["spec", "templateDefaults"],
    ["spec", "workflowSpec"],
    ["spec", "workflowSpec", "templates", "*"],
    ["spec", "workflowSpec", "templateDefaults"],
    ["spec", "taskSpec"],
    ["spec", "taskRunTemplate", "podTemplate"],
    ["spec", "headGroupSpec", "template", "spec"],
    ["spec", "workerGroupSpecs", "*", "template", "spec"],
    ["spec", "tasks", "*", "template", "spec"],
    ["spec", "replicatedJobs", "*", "template", "spec", "template", "spec"],
    ["spec", "statefulSet", "pod"],
];

/** Containers a pod spec may hold besides its three lists: Argo's container, script, containerSet and sidecars; Tekton's steps; a ProxyClass's Tailscale containers; a system-upgrade-controller Plan's upgrade and prepare. */
export const EXTRA_CONTAINER_FIELDS: ReadonlyArray<{ readonly path: readonly string[]; readonly list: boolean }> = [
    { path: ["container"], list: false },
    { path: ["script"], list: false },
    { path: ["containerSet", "containers"], list: true },
    { path: ["sidecars"], list: true },
    { path: ["steps"], list: true },
    { path: ["stepTemplate"], list: false },
    { path: ["tailscaleContainer"], list: false },
    { path: ["tailscaleInitContainer"], list: false },
    { path: ["upgrade"], list: false },
    { path: ["prepare"], list: false },
];

/** How deep (from the object, which is level 0) a pod template is looked for; deeper content is unreadable to every gate. */
export const SHAPE_MAX_DEPTH = 16;
/** At most this many pod specs at the known locations: admission unrolls them (CEL has no flatten). */
export const SHAPE_MAX_POD_SPECS = 16;

const POD_LIST_FIELDS = ["containers", "initContainers", "ephemeralContainers", "volumes"] as const;
const POD_FLAG_FIELDS = ["hostNetwork", "hostPID", "hostIPC"] as const;

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v) && !isUnknown(v);

/** The API group of an apiVersion ("" for core). */
export function apiGroup(apiVersion: string): string {
    const slash = apiVersion.indexOf("/");
    return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/**
 * Whether an object's pod specs are found by shape: a custom resource (its
 * group has a dot), outside Kubernetes' own `*.k8s.io` groups and Pulumi's
 * `helm.sh` (whose chart values are not pod specs; see helm-release-opaque).
 */
export function readByShape(obj: KubeObject): boolean {
    const group = apiGroup(obj.apiVersion);
    return group.includes(".") && !group.endsWith(".k8s.io") && group !== "helm.sh";
}

/** A node that looks like a pod spec: a container or volume list, or a host namespace switch. */
export function podShaped(node: unknown): boolean {
    if (!isMap(node)) return false;
    return (
        POD_LIST_FIELDS.some((f) => Array.isArray(node[f]) || isUnknown(node[f])) ||
        POD_FLAG_FIELDS.some((f) => typeof node[f] === "boolean" || isUnknown(node[f]))
    );
}

/** A node that looks like a container: an image with something to run it by, or a container security context. */
export function containerShaped(node: unknown): boolean {
    if (!isMap(node)) return false;
    const sc = node.securityContext;
    if (isMap(sc) && ("privileged" in sc || "capabilities" in sc)) return true;
    return typeof node.image === "string" && ["name", "command", "args", "env", "envFrom", "volumeMounts", "securityContext"].some((f) => f in node);
}

type Path = ReadonlyArray<string | number>;

/** A pod spec found in an object, with the path to it for messages. */
export interface PodSpecView {
    readonly path: Path;
    /** The spec object; UNKNOWN when it (or a parent) is not known yet; {} when a patch leaves it alone. */
    readonly spec: unknown;
    /** The pod spec this one sits in (an Argo template in its Workflow): its volumes are the pod's too. */
    readonly enclosing?: PodSpecView;
    /** Containers found by shape outside the spec's own lists (Argo's `container`, a Tekton step). */
    readonly extraContainers?: ReadonlyArray<{ readonly path: Path; readonly container: unknown }>;
}

/** Every node at a path pattern ("*": each element of a list), with its real path. */
function nodesAt(body: unknown, pattern: readonly string[]): Array<{ path: Path; node: unknown }> {
    let found: Array<{ path: Path; node: unknown }> = [{ path: [], node: body }];
    for (const step of pattern) {
        const next: Array<{ path: Path; node: unknown }> = [];
        for (const { path, node } of found) {
            if (step === "*") {
                if (Array.isArray(node)) node.forEach((n, i) => next.push({ path: [...path, i], node: n }));
            } else if (isMap(node) && step in node) next.push({ path: [...path, step], node: node[step] });
        }
        found = next;
    }
    return found;
}

const pathKey = (p: Path) => JSON.stringify(p);

/** The containers at one extra field of a pod spec (paths relative to it): objects only, as admission reads them. */
function extraContainers(spec: unknown, f: (typeof EXTRA_CONTAINER_FIELDS)[number]): Array<{ path: Path; container: unknown }> {
    const v = read(spec, ...f.path);
    if (v === UNKNOWN) return [{ path: f.path, container: v }];
    if (!f.list) return isMap(v) ? [{ path: f.path, container: v }] : [];
    if (!Array.isArray(v)) return [];
    return v.flatMap((c, i) => (isMap(c) || isUnknown(c) ? [{ path: [...f.path, i], container: c }] : []));
}

/** The pod specs at the known shape locations that admission reads: pod-shaped, or holding extra containers. */
function fixedShapeSpecs(body: unknown): Array<{ path: Path; node: Record<string, unknown> }> {
    return SHAPE_POD_SPEC_PATHS.flatMap((p) => nodesAt(body, p)).filter(
        (n): n is { path: Path; node: Record<string, unknown> } =>
            isMap(n.node) && (podShaped(n.node) || EXTRA_CONTAINER_FIELDS.some((f) => extraContainers(n.node, f).length > 0)),
    );
}

/** Each map and list under the object (not its metadata or status) to SHAPE_MAX_DEPTH, once each. */
function walk(body: unknown, visit: (node: unknown, path: Path) => void): void {
    const seen = new Set<object>();
    const stack: Array<{ node: unknown; path: Path }> = [];
    if (isMap(body)) for (const [k, v] of Object.entries(body)) if (k !== "metadata" && k !== "status") stack.push({ node: v, path: [k] });
    while (stack.length > 0) {
        const { node, path } = stack.pop()!;
        if (node === null || typeof node !== "object" || seen.has(node)) continue;
        seen.add(node);
        visit(node, path);
        if (path.length >= SHAPE_MAX_DEPTH) continue;
        const entries: Array<[string | number, unknown]> = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
        for (let i = entries.length - 1; i >= 0; i--) stack.push({ node: entries[i][1], path: [...path, entries[i][0]] });
    }
}

function isPrefix(prefix: Path, path: Path): boolean {
    return prefix.length < path.length && prefix.every((p, i) => p === path[i]);
}

/** The shape views of a custom resource: pod specs anywhere, containers found by shape attached to the pod spec they sit in. */
function shapeViews(body: unknown): PodSpecView[] {
    const specs = new Map<string, { path: Path; spec: Record<string, unknown> }>();
    for (const s of fixedShapeSpecs(body)) specs.set(pathKey(s.path), { path: s.path, spec: s.node });
    const loose: Array<{ path: Path; container: unknown }> = [];
    walk(body, (node, path) => {
        if (podShaped(node)) specs.set(pathKey(path), { path, spec: node as Record<string, unknown> });
        if (containerShaped(node)) loose.push({ path, container: node });
    });
    const ordered = [...specs.values()].sort((a, b) => a.path.length - b.path.length);
    // Outer specs first, so each one's enclosing view is built before it.
    const views = new Map<string, PodSpecView & { extraContainers: Array<{ path: Path; container: unknown }> }>();
    const innermost = (path: Path) => [...views.values()].filter((v) => isPrefix(v.path, path)).sort((a, b) => b.path.length - a.path.length)[0];
    for (const { path, spec } of ordered) {
        const extra = EXTRA_CONTAINER_FIELDS.flatMap((f) => extraContainers(spec, f).map((c) => ({ ...c, path: [...path, ...c.path] })));
        const enclosing = innermost(path);
        views.set(pathKey(path), { path, spec, extraContainers: extra, ...(enclosing ? { enclosing } : {}) });
    }
    const listed = new Set<string>();
    for (const v of views.values()) {
        for (const field of CONTAINER_FIELDS) readListOrEmpty(v.spec, field).forEach((_, i) => listed.add(pathKey([...v.path, field, i])));
        for (const c of v.extraContainers) listed.add(pathKey(c.path));
    }
    const root = { path: [] as Path, spec: {}, extraContainers: [] as Array<{ path: Path; container: unknown }> };
    for (const c of loose) {
        if (listed.has(pathKey(c.path))) continue;
        (innermost(c.path) ?? root).extraContainers.push(c);
    }
    return root.extraContainers.length > 0 ? [...views.values(), root] : [...views.values()];
}

function readListOrEmpty(obj: unknown, field: string): unknown[] {
    const v = readList(obj, field);
    return v === UNKNOWN ? [] : v;
}

/**
 * Every pod spec an object carries: the one at its kind's path for
 * Kubernetes' own kinds, or, for custom resources, every pod spec found by
 * shape (see podShaped, containerShaped and SHAPE_POD_SPEC_PATHS).
 */
export function podSpecsOf(obj: KubeObject): PodSpecView[] {
    const path = POD_SPEC_PATHS[obj.kind];
    if (path !== undefined && !apiGroup(obj.apiVersion).includes(".")) {
        const spec = read(obj.body, ...path);
        return [{ path, spec: spec === undefined ? {} : spec }];
    }
    if (!readByShape(obj) || obj.body === UNKNOWN) return [];
    return shapeViews(obj.body);
}

const PROXY_CLASS_PATCHES = ["spec", "statefulSet", "pod", "patches"];

/** The value at `path` through maps, undefined where a step is missing or not a map. */
function readPath(node: unknown, path: readonly string[]): unknown {
    let cur = node;
    for (const step of path) {
        if (!isMap(cur)) return undefined;
        cur = cur[step];
    }
    return cur;
}

/** A ProxyClass's pod patches in CEL (shapeProblems' twin). */
export const PROXY_CLASS_PATCHES_CEL =
    '(object.kind == "ProxyClass" && has(object.spec) && type(object.spec) == map && has(object.spec.statefulSet) && type(object.spec.statefulSet) == map && ' +
    "has(object.spec.statefulSet.pod) && type(object.spec.statefulSet.pod) == map && has(object.spec.statefulSet.pod.patches))";

/** What keeps a custom resource's pod templates from being read: each with the path and why. */
export interface ShapeProblem {
    readonly path: Path;
    readonly detail: string;
    readonly unknown: boolean;
}

export function shapeProblems(obj: KubeObject): ShapeProblem[] {
    if (!readByShape(obj)) return [];
    if (obj.body === UNKNOWN) return [{ path: [], detail: "is not known until the update runs", unknown: true }];
    const problems: ShapeProblem[] = [];
    walk(obj.body, (node, path) => {
        if (Array.isArray(node)) {
            if (path.length >= SHAPE_MAX_DEPTH && node.length > 0)
                problems.push({ path, detail: `is nested deeper than ${SHAPE_MAX_DEPTH} levels`, unknown: false });
            return;
        }
        const map = node as Record<string, unknown>;
        if (path.length >= SHAPE_MAX_DEPTH && Object.keys(map).length > 0) {
            problems.push({ path, detail: `is nested deeper than ${SHAPE_MAX_DEPTH} levels`, unknown: false });
            return;
        }
        if ("podSpecPatch" in map) {
            problems.push({ path: [...path, "podSpecPatch"], detail: "is a patch the controller applies to the pod as text", unknown: false });
        }
        for (const f of [...POD_LIST_FIELDS, ...POD_FLAG_FIELDS]) {
            if (isUnknown(map[f])) problems.push({ path: [...path, f], detail: "is not known until the update runs", unknown: true });
        }
    });
    for (const pattern of SHAPE_POD_SPEC_PATHS) {
        // Each step of a known location that is present must be an object (a list before "*").
        let nodes: Array<{ path: Path; node: unknown }> = [{ path: [], node: obj.body }];
        pattern.forEach((step, i) => {
            const wantList = pattern[i + 1] === "*";
            const next: Array<{ path: Path; node: unknown }> = [];
            for (const { path, node } of nodes) {
                if (step === "*") (node as unknown[]).forEach((n, j) => next.push({ path: [...path, j], node: n }));
                else if (isMap(node) && node[step] !== undefined) next.push({ path: [...path, step], node: node[step] });
            }
            nodes = [];
            for (const n of next) {
                if (wantList ? Array.isArray(n.node) : isMap(n.node)) nodes.push(n);
                else if (isUnknown(n.node)) problems.push({ path: n.path, detail: "is not known until the update runs", unknown: true });
                else problems.push({ path: n.path, detail: `is ${describeValue(n.node)}, not ${wantList ? "a list" : "an object"}`, unknown: false });
            }
        });
    }
    // The Tailscale operator's ProxyClass may JSON-patch the pod it renders: podSpecPatch by another name.
    const patches = isMap(obj.body) ? readPath(obj.body, PROXY_CLASS_PATCHES) : undefined;
    if (obj.kind === "ProxyClass" && patches !== undefined) {
        problems.push({ path: PROXY_CLASS_PATCHES, detail: "are JSON patches the operator applies to the pod it renders", unknown: false });
    }
    const fixed = fixedShapeSpecs(obj.body);
    if (fixed.length > SHAPE_MAX_POD_SPECS) {
        problems.push({ path: ["spec"], detail: `holds ${fixed.length} pod specs, more than the ${SHAPE_MAX_POD_SPECS} admission can read`, unknown: false });
    }
    const unique = new Map<string, ShapeProblem>();
    for (const p of problems) unique.set(`${pathKey(p.path)} ${p.detail}`, p);
    return [...unique.values()];
}

function describeValue(v: unknown): string {
    if (typeof v === "string") return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
    if (v === null) return "null";
    return Array.isArray(v) ? "a list" : `a ${typeof v}`;
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

/** Every container of a pod spec: init, regular and ephemeral, and those found by shape around it. */
export function containersOf(view: PodSpecView): ContainerView[] | Unknown {
    if (view.spec === UNKNOWN) return UNKNOWN;
    const out: ContainerView[] = [];
    const named = (container: unknown, path: Path, fallback: string) => {
        const name = read(container, "name");
        return { path, name: typeof name === "string" ? name : fallback, container };
    };
    for (const field of CONTAINER_FIELDS) {
        const list = readList(view.spec, field);
        if (list === UNKNOWN) return UNKNOWN;
        list.forEach((container, i) => out.push(named(container, [...view.path, field, i], `#${i}`)));
    }
    // An Argo template's container has no name of its own: the template's names it.
    const owner = read(view.spec, "name");
    for (const c of view.extraContainers ?? []) out.push(named(c.container, c.path, typeof owner === "string" ? owner : String(c.path[c.path.length - 1])));
    return out;
}

/** `spec.template.spec.containers[0].securityContext` from its parts: the same notation config errors use. */
export { formatPath as pathText } from "../../lib/problems";

// The same shapes in CEL, for admission (admission.ts defines the variables).

const typed = (e: string, t: string) => `(has(${e}) && type(${e}) == ${t})`;

/** readByShape in CEL, on `object`. */
export const READ_BY_SHAPE_CEL =
    '(object.apiVersion.contains("/") && cel_group.contains(".") && !cel_group.endsWith(".k8s.io") && cel_group != "helm.sh")'.replaceAll(
        "cel_group",
        'object.apiVersion.split("/")[0]',
    );

/** podShaped in CEL, for a map expression `n`. */
export const podShapedCel = (n: string): string =>
    `(${[...POD_LIST_FIELDS.map((f) => typed(`${n}.${f}`, "list")), ...POD_FLAG_FIELDS.map((f) => typed(`${n}.${f}`, "bool"))].join(" || ")})`;

/** Some pod spec of the object (variables.podSpecs, see admission.ts) sets a boolean field to true. */
export const podSpecsFlagCel = (field: string): string => `variables.podSpecs.exists(p, ${typed(`p.${field}`, "bool")} && p.${field})`;

/** containerShaped in CEL, for a map expression `n`. */
export const containerShapedCel = (n: string): string =>
    `((${typed(`${n}.securityContext`, "map")} && (has(${n}.securityContext.privileged) || has(${n}.securityContext.capabilities))) || ` +
    `(${typed(`${n}.image`, "string")} && (${["name", "command", "args", "env", "envFrom", "volumeMounts", "securityContext"].map((f) => `has(${n}.${f})`).join(" || ")})))`;

/** `e.a.b` is present with each step a map (the last one of type `last`). */
function presentCel(e: string, steps: readonly string[], last: string): string {
    const parts: string[] = [];
    let cur = e;
    steps.forEach((s, i) => {
        cur = `${cur}.${s}`;
        parts.push(typed(cur, i < steps.length - 1 ? "map" : last));
    });
    return parts.join(" && ");
}

/** extraContainers in CEL: the objects at one extra field of pod spec `p`. */
function extraContainersCel(p: string, f: (typeof EXTRA_CONTAINER_FIELDS)[number]): string {
    const at = `${p}.${f.path.join(".")}`;
    return f.list ? `(${presentCel(p, f.path, "list")} ? ${at}.filter(c, type(c) == map) : [])` : `(${presentCel(p, f.path, "map")} ? [${at}] : [])`;
}

/** The pod specs at SHAPE_POD_SPEC_PATHS that fixedShapeSpecs keeps, as one CEL list. */
export function shapePodSpecsCel(): string {
    const keep = (n: string) =>
        `(type(${n}) == map && (${podShapedCel(n)} || ${EXTRA_CONTAINER_FIELDS.map((f) => `size(${extraContainersCel(n, f)}) > 0`).join(" || ")}))`;
    return SHAPE_POD_SPEC_PATHS.map((pattern) => {
        const star = pattern.indexOf("*");
        if (star < 0) return `(${presentCel("object", pattern, "map")} && ${keep(`object.${pattern.join(".")}`)} ? [object.${pattern.join(".")}] : [])`;
        const list = `object.${pattern.slice(0, star).join(".")}`;
        const rest = pattern.slice(star + 1);
        const item = rest.length === 0 ? "x" : `x.${rest.join(".")}`;
        const present = rest.length === 0 ? "true" : `(${presentCel("x", rest, "map")})`;
        return `(${presentCel("object", pattern.slice(0, star), "list")} ? ${list}.filter(x, type(x) == map && ${present} && ${keep(item)}).map(x, ${item}) : [])`;
    }).join(" + ");
}

/** containersOf for the i-th shape pod spec, `p`, in CEL: its three lists and the extra containers. */
export function shapeContainersCel(p: string): string {
    const lists = CONTAINER_FIELDS.map((f) => `(${typed(`${p}.${f}`, "list")} ? ${p}.${f} : [])`);
    const extras = EXTRA_CONTAINER_FIELDS.map((f) => extraContainersCel(p, f));
    return [...lists, ...extras].join(" + ");
}

/** Every known location's steps, when present, are objects (lists before "*"): shapeProblems' fixed-path check in CEL. */
export function shapeLocationsReadableCel(): string {
    const check = (e: string, pattern: readonly string[], i: number): string => {
        if (i === pattern.length) return "true";
        const step = pattern[i];
        if (step === "*") return `${e}.all(x${i}, ${check(`x${i}`, pattern, i + 1)})`;
        const next = `${e}.${step}`;
        const want = pattern[i + 1] === "*" ? "list" : "map";
        return `(!has(${next}) || (type(${next}) == ${want} && ${check(next, pattern, i + 1)}))`;
    };
    return SHAPE_POD_SPEC_PATHS.map((p) => check("object", p, 0)).join(" && ");
}

/**
 * The walk shapeProblems and shapeViews make, in CEL (map values listed with
 * `map`, so each level is one comprehension): no podSpecPatch, nothing deeper
 * than SHAPE_MAX_DEPTH, and every pod- or container-shaped node one that
 * admission reads (a member of `podSpecs` / `containers`).
 */
export function shapeWalkCel(podSpecs: string, containers: string): string {
    const children = (v: string) => `(type(${v}) == map ? ${v}.map(k, ${v}[k]) : (type(${v}) == list ? ${v} : []))`;
    const node = (v: string) =>
        `(type(${v}) != map || (!has(${v}.podSpecPatch) && (!${podShapedCel(v)} || ${podSpecs}.exists(p, p == ${v})) && ` +
        `(!${containerShapedCel(v)} || ${containers}.exists(c, c == ${v}))))`;
    const level = (d: number): string => {
        const v = `v${d}`;
        const below =
            d === SHAPE_MAX_DEPTH ? `(!(type(${v}) == map || type(${v}) == list) || size(${v}) == 0)` : `${children(v)}.all(v${d + 1}, ${level(d + 1)})`;
        return `(${node(v)} && ${below})`;
    };
    return `object.filter(k, k != "metadata" && k != "status").map(k, object[k]).all(v1, ${level(1)})`;
}
