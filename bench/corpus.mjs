// Deterministic mixed corpus for the guard benchmarks.
//
// The objects follow test/fixtures/guard-cases.ts (a restricted app container,
// Tailscale the safe way, each rule broken by one field) and
// test/fixtures/incident/tailscale-daemonset.yaml (the incident's DaemonSet).
// They are written out here rather than imported so that the corpus stays the
// same byte for byte while the fixtures move: a baseline and a later run of the
// bench compare the same input.
//
// Usage: node bench/corpus.mjs OUT_DIR [--sizes 1,1000,10000] [--single 10000] [--seed 20251013]
// Writes OUT_DIR/files-<n>/NNNNN-<kind>.yaml (one manifest a file) for each size,
// OUT_DIR/single-<n>.yaml (n documents in one file) and OUT_DIR/corpus.json
// (counts and the violations the guard must report). Same arguments, same bytes.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";

/** mulberry32: a small seeded PRNG, enough for picking shapes. */
export function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const pick = (r, list) => list[Math.floor(r() * list.length)];

/** Picks a key of `weights` with probability proportional to its weight. */
function weighted(r, weights) {
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    let x = r() * total;
    for (const [key, w] of Object.entries(weights)) {
        x -= w;
        if (x < 0) return key;
    }
    return Object.keys(weights).at(-1);
}

const NAMESPACES = ["apps", "web", "data", "monitoring", "batch", "egress-gateway", "tools"];
const IMAGES = ["registry.example/app:1.0", "registry.example/api:2.3.1", "registry.example/worker:0.9", "registry.example/cache:7.2"];

const appContainer = (name, image) => ({
    name,
    image,
    ports: [{ containerPort: 8080, name: "http" }],
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
});

const tailscaleContainer = () => ({
    name: "tailscale",
    image: "tailscale/tailscale:v1.102.3",
    env: [
        { name: "TS_USERSPACE", value: "true" },
        { name: "TS_KUBE_SECRET", value: "" },
        { name: "TS_EXTRA_ARGS", value: "--exit-node=100.121.150.65 --exit-node-allow-lan-access" },
        { name: "TS_AUTHKEY", valueFrom: { secretKeyRef: { name: "ts-auth", key: "authkey" } } },
    ],
    securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
});

function podSpec(r, withTailscale) {
    const containers = [appContainer("app", pick(r, IMAGES))];
    if (withTailscale) containers.push(tailscaleContainer());
    return {
        serviceAccountName: "default",
        containers,
        volumes: [
            { name: "tmp", emptyDir: {} },
            { name: "data", hostPath: { path: "/srv/app-data" } },
            { name: "config", configMap: { name: "app-config" } },
        ],
    };
}

const tsEnv = (spec, name, value) => {
    const env = spec.containers[1].env;
    const existing = env.find((e) => e.name === name);
    if (existing) existing.value = value;
    else env.push({ name, value });
};

/**
 * One field broken, as in guard-cases.ts. Each returns the mandatory rule it
 * breaks (hostNetwork depends on the kind) and the checkov check that sees the
 * same thing, if any.
 */
const VIOLATIONS = {
    hostNetwork: (s, kind) => ((s.hostNetwork = true), [kind === "DaemonSet" ? "daemonset-no-host-network" : "workload-no-host-namespaces"]),
    hostPID: (s) => ((s.hostPID = true), ["workload-no-host-namespaces"]),
    hostIPC: (s) => ((s.hostIPC = true), ["workload-no-host-namespaces"]),
    tailscaleStateOnHost: (s) => (s.volumes.push({ name: "ts", hostPath: { path: "/var/lib/tailscale-worker" } }), ["no-host-path-network-state"]),
    cniConfigOnHost: (s) => (s.volumes.push({ name: "cni", hostPath: { path: "/etc//cni/../cni/net.d/" } }), ["no-host-path-network-state"]),
    privileged: (s) => ((s.containers[0].securityContext.privileged = true), ["no-privileged-networking"]),
    netAdmin: (s) => ((s.containers[0].securityContext.capabilities.add = ["NET_ADMIN"]), ["no-privileged-networking"]),
    sysAdmin: (s) => ((s.containers[0].securityContext.capabilities.add = ["cap_sys_admin"]), ["no-privileged-networking"]),
    exitNodeByHostname: (s) => (tsEnv(s, "TS_EXTRA_ARGS", "--exit-node=srv712429 --exit-node-allow-lan-access"), ["tailscale-exit-node-by-ip"]),
    kernelTailscale: (s) => (tsEnv(s, "TS_USERSPACE", "false"), ["tailscale-userspace-only"]),
};
const NEEDS_TAILSCALE = new Set(["exitNodeByHostname", "kernelTailscale"]);

/** The incident's DaemonSet (test/fixtures/incident/tailscale-daemonset.yaml): four rules at once. */
function incidentDaemonSet(name, namespace) {
    const labels = { app: name };
    return {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name, namespace },
        spec: {
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    hostNetwork: true,
                    hostPID: true,
                    containers: [
                        {
                            name: "tailscale",
                            image: "tailscale/tailscale:latest",
                            env: [
                                { name: "TS_USERSPACE", value: "false" },
                                { name: "TS_STATE_DIR", value: "/var/lib/tailscale" },
                                { name: "TS_AUTHKEY", valueFrom: { secretKeyRef: { name: "tailscale-auth", key: "authkey" } } },
                                { name: "TS_EXTRA_ARGS", value: "--exit-node=100.121.150.65 --exit-node-allow-lan-access" },
                            ],
                            securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
                            volumeMounts: [
                                { name: "state", mountPath: "/var/lib/tailscale" },
                                { name: "tun", mountPath: "/dev/net/tun" },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "state", hostPath: { path: "/var/lib/tailscale-worker", type: "DirectoryOrCreate" } },
                        { name: "tun", hostPath: { path: "/dev/net/tun", type: "CharDevice" } },
                    ],
                },
            },
        },
    };
}

/** Wraps a pod spec the way `kind` carries it (guard-cases.ts's `workload`). */
function workload(kind, podSpecValue, name, namespace, r) {
    const labels = { app: name, "app.kubernetes.io/part-of": "oceanid-bench" };
    const metadata = { name, namespace, labels };
    const template = { metadata: { labels }, spec: podSpecValue };
    const selector = { matchLabels: { app: name } };
    switch (kind) {
        case "Pod":
            return { apiVersion: "v1", kind, metadata, spec: podSpecValue };
        case "Job":
            return {
                apiVersion: "batch/v1",
                kind,
                metadata,
                spec: { backoffLimit: 2, template: { ...template, spec: { ...podSpecValue, restartPolicy: "Never" } } },
            };
        case "CronJob":
            return {
                apiVersion: "batch/v1",
                kind,
                metadata,
                spec: {
                    schedule: `${Math.floor(r() * 60)} * * * *`,
                    jobTemplate: { spec: { template: { ...template, spec: { ...podSpecValue, restartPolicy: "OnFailure" } } } },
                },
            };
        case "StatefulSet":
            return { apiVersion: "apps/v1", kind, metadata, spec: { serviceName: name, replicas: 1 + Math.floor(r() * 3), selector, template } };
        case "DaemonSet":
            return { apiVersion: "apps/v1", kind, metadata, spec: { selector, template } };
        default:
            return { apiVersion: "apps/v1", kind: "Deployment", metadata, spec: { replicas: 1 + Math.floor(r() * 4), selector, template } };
    }
}

const KIND_WEIGHTS = { Deployment: 26, DaemonSet: 8, Pod: 8, StatefulSet: 8, Job: 7, CronJob: 7, Service: 14, ConfigMap: 14, List: 6, Incident: 2 };
const WORKLOADS = new Set(["Deployment", "DaemonSet", "Pod", "StatefulSet", "Job", "CronJob"]);
/** Share of workloads with one rule broken; the rest (and the incident's copies) as described. */
const VIOLATION_RATE = 0.12;

/** One workload object and the mandatory violations it carries. */
function makeWorkload(r, kind, name, namespace) {
    const broken = r() < VIOLATION_RATE ? pick(r, Object.keys(VIOLATIONS)) : undefined;
    const spec = podSpec(r, r() < 0.4 || NEEDS_TAILSCALE.has(broken));
    const rules = broken ? VIOLATIONS[broken](spec, kind) : [];
    return { object: workload(kind, spec, name, namespace, r), rules };
}

/** Manifest number `i`: one top-level document (a List holds 2-4 objects). */
export function makeManifest(r, i) {
    const kind = weighted(r, KIND_WEIGHTS);
    const namespace = pick(r, NAMESPACES);
    const name = `${kind.toLowerCase()}-${String(i).padStart(5, "0")}`;
    if (WORKLOADS.has(kind)) {
        const { object, rules } = makeWorkload(r, kind, name, namespace);
        return { kind, object, rules, objects: 1 };
    }
    switch (kind) {
        case "Incident":
            // hostNetwork on a DaemonSet, hostPID, hostPath on Tailscale's state, NET_ADMIN, kernel-mode Tailscale.
            return {
                kind: "DaemonSet",
                object: incidentDaemonSet(name, namespace),
                rules: [
                    "daemonset-no-host-network",
                    "workload-no-host-namespaces",
                    "no-host-path-network-state",
                    "no-privileged-networking",
                    "tailscale-userspace-only",
                ],
                objects: 1,
            };
        case "Service":
            return {
                kind,
                object: {
                    apiVersion: "v1",
                    kind,
                    metadata: { name, namespace, labels: { app: name } },
                    spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] },
                },
                rules: [],
                objects: 1,
            };
        case "ConfigMap":
            return {
                kind,
                object: {
                    apiVersion: "v1",
                    kind,
                    metadata: { name, namespace },
                    data: { "app.yaml": `listen: ":8080"\nlogLevel: info\nreplica: ${i}\n`, LOG_FORMAT: "json", FEATURE_FLAGS: "a,b,c" },
                },
                rules: [],
                objects: 1,
            };
        default: {
            // A List (kubectl get -o yaml) of workloads and Services.
            const n = 2 + Math.floor(r() * 3);
            const items = [];
            const rules = [];
            for (let k = 0; k < n; k++) {
                const itemKind = pick(r, ["Deployment", "DaemonSet", "StatefulSet", "Service"]);
                const itemName = `${name}-${k}`;
                if (itemKind === "Service") {
                    items.push({
                        apiVersion: "v1",
                        kind: "Service",
                        metadata: { name: itemName, namespace },
                        spec: { selector: { app: itemName }, ports: [{ port: 80 }] },
                    });
                } else {
                    const w = makeWorkload(r, itemKind, itemName, namespace);
                    items.push(w.object);
                    rules.push(...w.rules);
                }
            }
            return { kind: "List", object: { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items }, rules, objects: n };
        }
    }
}

/** `count` manifests from `seed`, each as YAML text. */
export function generate(count, seed) {
    const r = rng(seed);
    const out = [];
    for (let i = 0; i < count; i++) {
        const m = makeManifest(r, i);
        // Some documents look like Helm output (a Source comment, a leading ---).
        const header = r() < 0.3 ? `---\n# Source: oceanid-bench/templates/${m.kind.toLowerCase()}.yaml\n` : "";
        out.push({ ...m, text: header + stringify(m.object) });
    }
    return out;
}

const tally = (manifests) => ({
    manifests: manifests.length,
    objects: manifests.reduce((a, m) => a + m.objects, 0),
    mandatoryViolations: manifests.reduce((a, m) => a + m.rules.length, 0),
    violatingManifests: manifests.filter((m) => m.rules.length > 0).length,
});

/** Writes the corpus; returns what corpus.json holds. */
export function writeCorpus(outDir, { sizes, single, seed }) {
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    const summary = { seed, sets: {} };
    for (const size of sizes) {
        const dir = join(outDir, `files-${size}`);
        mkdirSync(dir);
        const manifests = generate(size, seed);
        manifests.forEach((m, i) => writeFileSync(join(dir, `${String(i).padStart(5, "0")}-${m.kind.toLowerCase()}.yaml`), m.text));
        summary.sets[`files-${size}`] = { path: dir, files: size, ...tally(manifests) };
    }
    for (const size of single) {
        const file = join(outDir, `single-${size}.yaml`);
        const manifests = generate(size, seed);
        writeFileSync(file, manifests.map((m) => (m.text.startsWith("---\n") ? m.text : `---\n${m.text}`)).join(""));
        summary.sets[`single-${size}`] = { path: file, files: 1, ...tally(manifests) };
    }
    writeFileSync(join(outDir, "corpus.json"), `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
}

const numbers = (s) => (s ? s.split(",").map((x) => Number.parseInt(x, 10)) : []);

if (import.meta.url === `file://${process.argv[1]}`) {
    const { values, positionals } = parseArgs({
        options: {
            sizes: { type: "string", default: "1,1000,10000" },
            single: { type: "string", default: "10000" },
            seed: { type: "string", default: "20251013" },
        },
        allowPositionals: true,
    });
    if (positionals.length !== 1) {
        process.stderr.write("usage: node bench/corpus.mjs OUT_DIR [--sizes 1,1000,10000] [--single 10000] [--seed N]\n");
        process.exit(2);
    }
    const summary = writeCorpus(positionals[0], { sizes: numbers(values.sizes), single: numbers(values.single), seed: Number(values.seed) });
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}
