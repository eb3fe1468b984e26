// What the API server decides for manifests sent with the built kubectl: per
// object, the guardrail rules its admission policy fails, read from kubectl's
// own request log, so that kubectl alone decodes the YAML.
import { join } from "node:path";
import type { Obj } from "../fixtures/guard-cases";
import { runAsync, TOOLS_BIN, type CliResult } from "./pulumi-cli";
import { ROOT } from "./stack-file";
import type { TestCluster } from "./test-cluster";

/** Runs the built kubectl against `cluster` without blocking the event loop, so calls can overlap. */
export function kubectlAsync(cluster: Pick<TestCluster, "kubeconfig" | "dir">, args: string[], stdin?: string): Promise<CliResult> {
    return runAsync(join(TOOLS_BIN, "kubectl"), ["--kubeconfig", cluster.kubeconfig, "--cache-dir", join(cluster.dir, "kube-cache"), ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: cluster.dir, LANG: "C" },
        stdin,
    });
}

/** Runs `jobs` with at most `limit` at a time, results in order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, job: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            results[i] = await job(items[i]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

/** One object kubectl sent, and what the API server answered. */
export interface ServerObject {
    /** The resource path kubectl posted to, e.g. `apis/apps/v1/namespaces/apps/daemonsets`. */
    readonly resource: string;
    readonly namespace?: string;
    readonly name: string;
    /** HTTP status of the dry-run create. */
    readonly status: number;
    /** Rule IDs of every failing validation (the warning binding lists them all). */
    readonly warned: string[];
    /** Any other warning (Pod Security's among them). */
    readonly otherWarnings: string[];
}

/** An error kubectl printed for one object of one file. */
export interface ServerError {
    readonly file: string;
    /** Missing where the API server could not decode the object. */
    readonly name?: string;
    readonly line: string;
    /** The rule ID the deciding binding denied with (it names the first failing validation only). */
    readonly denied?: string;
}

/** A document kubectl could not map to a served resource. */
export interface Unmapped {
    readonly file: string;
    readonly name: string;
    readonly kind: string;
    readonly apiVersion: string;
    readonly line: string;
}

/** What one `kubectl apply --dry-run=server` run did, objects in the order kubectl sent them. */
export interface ServerRun {
    readonly objects: ServerObject[];
    readonly errors: ServerError[];
    readonly unmapped: Unmapped[];
    /** Output lines nothing above accounts for. */
    readonly unexplained: string[];
    /** Names kubectl printed for admitted objects. */
    readonly printed: string[];
}

export interface PolicyNames {
    readonly policy: string;
    readonly denyBinding: string;
    readonly warnBinding: string;
}

const REQUEST = /^I\d{4} [\d:.]+ +\d+ round_trippers\.go:\d+\] "Request" verb="([A-Z]+)" url="https:\/\/[^/]+\/([^"?]+)/;
const RESPONSE = /^I\d{4} [\d:.]+ +\d+ round_trippers\.go:\d+\] "Response" status="(\d+)/;
const HEADER_WARNING = /^\tWarning: 299 - "(.*)"$/;
// The object's name is missing where the API server could not decode it.
const ERROR = /^(?:Error from server \([A-Za-z]+\): error when creating "([^"]*)": (?:[A-Za-z0-9.-]+ "([^"]+)" is )?|The [A-Za-z]+ "([^"]+)" is invalid: )/;
// kubectl prints one such error alone, several as one list (`[a, b]`), each followed by this advice.
const UNMAPPED = /resource mapping not found for name: "([^"]*)" namespace: "[^"]*" from "([^"]*)": no matches for kind "([^"]+)" in version "([^"]+)"/g;
const UNMAPPED_ADVICE = "ensure CRDs are installed first";

/**
 * Sends `files` with one `kubectl apply --dry-run=server -v=8`: kubectl logs a
 * GET of each object by name, then the create's POST and its response headers,
 * warnings included (the warnings it prints it prints once per process, so they
 * cannot be told apart); errors come at the end, naming file and object.
 */
export async function serverDryRun(cluster: TestCluster, names: PolicyNames, files: string[]): Promise<ServerRun> {
    const r = await kubectlAsync(cluster, ["apply", "--dry-run=server", "-o", "name", "-v=8", ...files.flatMap((f) => ["-f", f])]);
    const warnPrefix = `Validation failed for ValidatingAdmissionPolicy '${names.policy}' with binding '${names.warnBinding}': `;
    const denyMarker = `is forbidden: ValidatingAdmissionPolicy '${names.policy}' with binding '${names.denyBinding}' denied request: `;
    const objects: ServerObject[] = [];
    const errors: ServerError[] = [];
    const unmapped: Unmapped[] = [];
    const unexplained: string[] = [];
    const gets: string[] = [];
    let request: { verb: string; path: string } | undefined;
    /** The object whose create response headers are being read. */
    let current: (ServerObject & { warned: string[]; otherWarnings: string[] }) | undefined;
    const lines = r.stderr.split("\n");
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const req = REQUEST.exec(line);
        if (req) {
            request = { verb: req[1], path: req[2] };
            current = undefined;
            if (request.verb === "GET") gets.push(request.path);
            continue;
        }
        const res = RESPONSE.exec(line);
        if (res && request?.verb === "POST") {
            const path = request.path;
            // Between the two, kubectl may read the object's namespace.
            const read = gets.findLast((g) => g.startsWith(`${path}/`));
            if (!read) throw new Error(`kubectl posted to ${path} without first reading the object:\n${r.stderr}`);
            const ns = /\/namespaces\/([^/]+)\//.exec(`${path}/`);
            current = { resource: path, namespace: ns?.[1], name: read.slice(path.length + 1), status: Number(res[1]), warned: [], otherWarnings: [] };
            objects.push(current);
            continue;
        }
        const w = HEADER_WARNING.exec(line);
        if (w && current) {
            if (w[1].startsWith(warnPrefix)) current.warned.push(w[1].slice(warnPrefix.length).split(":")[0]);
            else current.otherWarnings.push(w[1]);
            continue;
        }
        // Request and response headers and bodies, and the warnings kubectl prints itself.
        if (line.startsWith("\t") || line === " >" || line.startsWith(" > ") || line.startsWith("Warning: ")) continue;
        if (/^I\d{4} /.test(line)) {
            // The response objects kubectl logs as JSON, each closed by `}]`.
            if (line.includes("server response object:")) while (i < lines.length && lines[i] !== "}]") i++;
            continue;
        }
        const e = ERROR.exec(line);
        const u = [...line.matchAll(UNMAPPED)];
        if (e) {
            const at = line.indexOf(denyMarker);
            // kubectl leaves the file out of validation errors.
            errors.push({ file: e[1] ?? "", name: e[2] ?? e[3], line, ...(at >= 0 ? { denied: line.slice(at + denyMarker.length).split(":")[0] } : {}) });
        } else {
            for (const x of u) unmapped.push({ name: x[1], file: x[2], kind: x[3], apiVersion: x[4], line: x[0] });
            const rest = line
                .replace(UNMAPPED, "")
                .replaceAll(UNMAPPED_ADVICE, "")
                .replace(/^error: /, "")
                .replace(/[[\],\s]/g, "");
            if (rest !== "") unexplained.push(line);
        }
    }
    return { objects, errors, unmapped, unexplained, printed: r.stdout.split("\n").filter((l) => l !== "") };
}

/** English plural of a kind's lower-case name, as CRDs are usually named. */
function plural(kind: string): string {
    const k = kind.toLowerCase();
    if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
    if (/(s|x|ch|sh)$/.test(k)) return `${k}es`;
    return `${k}s`;
}

/**
 * A CRD for every kind in a group with a dot outside `*.k8s.io` (a custom
 * resource): every version the objects use, any content accepted.
 */
export function crdsFor(objects: readonly Obj[]): Obj[] {
    const kinds = new Map<string, { group: string; kind: string; versions: Set<string>; namespaced: boolean }>();
    for (const o of objects) {
        if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || !o.apiVersion.includes("/")) continue;
        const [group, version] = o.apiVersion.split("/");
        if (!group.includes(".") || group.endsWith(".k8s.io")) continue;
        const key = `${o.kind}.${group}`;
        const entry = kinds.get(key) ?? { group, kind: o.kind, versions: new Set<string>(), namespaced: false };
        entry.versions.add(version);
        entry.namespaced ||= typeof o.metadata?.namespace === "string";
        kinds.set(key, entry);
    }
    return [...kinds.values()].map(({ group, kind, versions, namespaced }) => ({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${plural(kind)}.${group}` },
        spec: {
            group,
            scope: namespaced ? "Namespaced" : "Cluster",
            names: { kind, plural: plural(kind), singular: kind.toLowerCase(), listKind: `${kind}List` },
            versions: [...versions].map((name, i) => ({
                name,
                served: true,
                storage: i === 0,
                schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            })),
        },
    }));
}
