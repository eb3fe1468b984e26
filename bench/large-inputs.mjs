// Large and hostile inputs for oceanid-guard: one file of many small
// documents, and one List of many items (YAML or JSON), each ending with the
// only violation in it (a hostNetwork DaemonSet), so that a reader that stops
// early or drops the end misses it. Used by bench/run.mjs (section "large")
// and test/policies/large-input.test.ts.
//
// Usage: node bench/large-inputs.mjs OUT_DIR   (writes the three default inputs)
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The violation every input ends with. */
export const LAST_NAME = "last-item";
export const violatingDaemonSet = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: LAST_NAME, namespace: "apps" },
    spec: {
        selector: { matchLabels: { app: LAST_NAME } },
        template: {
            metadata: { labels: { app: LAST_NAME } },
            spec: { hostNetwork: true, containers: [{ name: "app", image: "registry.example/app:1.0" }] },
        },
    },
};

/** A compliant Deployment of about 600 bytes, different for each `i`. */
function deployment(i) {
    const name = `web-${i}`;
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: "apps", labels: { app: name, tier: "frontend" } },
        spec: {
            replicas: 2,
            selector: { matchLabels: { app: name } },
            template: {
                metadata: { labels: { app: name } },
                spec: {
                    containers: [
                        {
                            name: "app",
                            image: `registry.example/app:1.${i % 100}`,
                            ports: [{ containerPort: 8080 }],
                            env: [{ name: "MODE", value: "production" }],
                            securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
                        },
                    ],
                },
            },
        },
    };
}

/** Writes in pieces of about 1 MB, so that generating a 50 MB file does not hold it. */
function writer(path) {
    const fd = openSync(path, "w");
    let buffer = "";
    let bytes = 0;
    return {
        write(s) {
            buffer += s;
            if (buffer.length > 1 << 20) {
                bytes += writeSync(fd, buffer);
                buffer = "";
            }
        },
        close() {
            bytes += writeSync(fd, buffer);
            closeSync(fd);
            return bytes;
        },
    };
}

/** YAML for an object, block style, as a Helm chart writes it (written here to keep the generator free of dependencies). */
function toYaml(value, indent = "") {
    if (Array.isArray(value)) {
        return value.map((v) => `${indent}- ${toYaml(v, `${indent}  `).trimStart()}`).join("");
    }
    if (value !== null && typeof value === "object") {
        return Object.entries(value)
            .map(([k, v]) =>
                v !== null && typeof v === "object" && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0)
                    ? `${indent}${k}:\n${toYaml(v, `${indent}  `)}`
                    : `${indent}${k}: ${JSON.stringify(v)}\n`,
            )
            .join("");
    }
    return `${JSON.stringify(value)}\n`;
}

/** `documents` small ConfigMaps (about 60 bytes each), then the violating DaemonSet. Returns the byte count. */
export function writeManyDocuments(path, { documents = 150_000 } = {}) {
    const w = writer(path);
    for (let i = 0; i < documents - 1; i++) w.write(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}}\n---\n`);
    w.write(toYaml(violatingDaemonSet));
    return { bytes: w.close(), objects: documents };
}

/** A List of compliant Deployments of about `bytes` in all, its last item the violating DaemonSet. */
export function writeBigList(path, { bytes = 50_000_000, format = "yaml" } = {}) {
    const w = writer(path);
    let written = 0;
    let items = 0;
    if (format === "json") {
        w.write('{"apiVersion":"v1","kind":"List","items":[\n');
        while (written < bytes) {
            const s = `${JSON.stringify(deployment(items))},\n`;
            w.write(s);
            written += s.length;
            items++;
        }
        w.write(`${JSON.stringify(violatingDaemonSet)}\n]}\n`);
    } else {
        w.write("apiVersion: v1\nkind: List\nitems:\n");
        while (written < bytes) {
            const s = toYaml([deployment(items)]);
            w.write(s);
            written += s.length;
            items++;
        }
        w.write(toYaml([violatingDaemonSet]));
    }
    return { bytes: w.close(), objects: items + 1 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
    const out = process.argv[2];
    if (!out) {
        process.stderr.write("usage: node bench/large-inputs.mjs OUT_DIR\n");
        process.exit(2);
    }
    mkdirSync(out, { recursive: true });
    for (const [name, made] of [
        ["many-documents.yaml", writeManyDocuments(join(out, "many-documents.yaml"))],
        ["list.yaml", writeBigList(join(out, "list.yaml"))],
        ["list.json", writeBigList(join(out, "list.json"), { format: "json" })],
    ]) {
        process.stdout.write(`${name}: ${(made.bytes / 1e6).toFixed(1)} MB, ${made.objects} objects\n`);
    }
}
