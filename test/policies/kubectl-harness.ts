// The differential harness: what kubectl's own reader sends for a file
// (scripts/toolchain/kube-read, k8s.io/cli-runtime's resource builder at the
// cluster's Kubernetes version) against what oceanid-guard reads from it.
// Used by kubectl-parity.test.ts, kubectl-fuzz.test.ts and the long fuzz run
// (kubectl-fuzz.ts).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeManifestBytes } from "../../policies/cli/kubectl/bytes";
import { parseManifests } from "../../policies/cli/read-manifests";
import { ROOT } from "../helpers/stack-file";

export type Json = unknown;

/** Key order does not matter to the API server. (A value that holds itself, which no reader should hand on, is marked.) */
export function canonical(v: Json, within: Set<object> = new Set()): Json {
    if (v === null || typeof v !== "object") return v;
    if (within.has(v)) return "[a value that holds itself]";
    within.add(v);
    const out = Array.isArray(v)
        ? v.map((x) => canonical(x, within))
        : Object.fromEntries(
              Object.keys(v)
                  .sort()
                  .map((k) => [k, canonical((v as Record<string, Json>)[k], within)]),
          );
    within.delete(v);
    return out;
}

let binary: string | undefined;

/** kube-read built from the current source (bench/build-kube-read.sh, run by setup). */
export function kubeReadBinary(): string {
    if (binary) return binary;
    const r = spawnSync("bash", [join(ROOT, "bench", "build-kube-read.sh"), "--cached-only"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`kube-read: ${r.stderr.trim()} (npm run setup builds it)`);
    binary = r.stdout.trim();
    return binary;
}

export interface Reading {
    readonly objects: Json[];
    readonly errors: string[];
}

/** What kubectl sends for each path, read on its own as `kubectl apply -f PATH` reads it: objects by source file, errors by path. */
export function kubectlReads(paths: readonly string[]): { objects: Map<string, Json[]>; errors: Map<string, string[]> } {
    const r = spawnSync(kubeReadBinary(), ["-dump", ...paths], { encoding: "utf8", maxBuffer: 256 << 20 });
    if (r.error) throw new Error(`kube-read: ${r.error.message}`);
    if (r.status !== 0 && r.status !== 1) throw new Error(`kube-read exited ${r.status}: ${r.stderr}`);
    const objects = new Map<string, Json[]>();
    const errors = new Map<string, string[]>();
    for (const line of r.stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { source: string; object: Json } | { path: string; error: string };
        if ("error" in entry) errors.set(entry.path, [...(errors.get(entry.path) ?? []), entry.error]);
        else objects.set(entry.source, [...(objects.get(entry.source) ?? []), canonical(entry.object)]);
    }
    return { objects, errors };
}

/** The guard's objects for one file, in order, and the errors it reports (any makes it exit 2). */
export function guardReads(file: string): Reading {
    const objects: Json[] = [];
    const errors: string[] = [];
    for (const item of parseManifests(decodeManifestBytes(readFileSync(file)), file)) {
        if ("error" in item) errors.push(item.error.message);
        else objects.push(...item.objects.map((o) => canonical(o.body)));
    }
    return { objects, errors };
}

/**
 * Where the guard refuses what kubectl accepts, on purpose: a value kubectl
 * reads differently from every YAML reader but its own (LS/PS inside a
 * scalar), a map whose keys kubectl keeps one of at random, and a document
 * whose byte-order marks put kubectl's columns out of step with its text.
 */
export const DELIBERATE_REFUSALS = [
    /line or paragraph separator \(U\+2028\/U\+2029\) inside a value/,
    /kubectl keeps either at random/,
    /byte-order marks at the start of a document, which kubectl reads out of step/,
];

/** An object without a version: kubectl's local reader passes it on; only a cluster could say what it is, and the guard refuses it. */
const versionless = (o: Json): boolean => {
    const v = (o as { apiVersion?: unknown }).apiVersion;
    if (typeof v !== "string") return true;
    const slash = v.indexOf("/");
    return (slash < 0 ? v : v.slice(slash + 1)) === "";
};

/** `a` in order within `b`. */
function isSubsequence(a: Json[], b: Json[]): boolean {
    const eq = (x: Json, y: Json) => JSON.stringify(x) === JSON.stringify(y);
    let j = 0;
    for (const x of a) {
        while (j < b.length && !eq(x, b[j])) j++;
        if (j === b.length) return false;
        j++;
    }
    return true;
}

export interface Disagreement {
    readonly file: string;
    readonly why: string;
    readonly kubectl: Reading;
    readonly guard: Reading;
}

/**
 * Compares the guard with kubectl file by file. They agree when both read the
 * same objects with no error; or when both report an error and the guard read
 * every object kubectl sends, in order (kubectl stops a file at some errors
 * where the guard reads on).
 */
export function compare(files: readonly string[]): Disagreement[] {
    const kubectl = kubectlReads(files);
    const out: Disagreement[] = [];
    for (const file of files) {
        const sent = kubectl.objects.get(file) ?? [];
        const k: Reading = { objects: sent.filter((o) => !versionless(o)), errors: kubectl.errors.get(file) ?? [] };
        if (k.objects.length < sent.length) k.errors.push("an object without a version (kubectl's local reader sends it; a cluster decides)");
        const g = guardReads(file);
        const deliberate = g.errors.some((e) => DELIBERATE_REFUSALS.some((re) => re.test(e)));
        let why: string | undefined;
        if (k.errors.length === 0 && g.errors.length === 0) {
            if (JSON.stringify(k.objects) !== JSON.stringify(g.objects)) why = "different objects";
        } else if (k.errors.length > 0 && g.errors.length === 0) why = "kubectl refuses, the guard reads it";
        else if (k.errors.length === 0 && !deliberate) why = "the guard refuses, kubectl reads it";
        else if (!deliberate && !isSubsequence(k.objects, g.objects)) why = "the guard misses objects kubectl sends";
        if (why) out.push({ file, why, kubectl: k, guard: g });
    }
    return out;
}

/** A disagreement as text, for a test failure or the fuzz log. */
export function describe(d: Disagreement): string {
    return `${d.file}: ${d.why}\n  kubectl: ${JSON.stringify(d.kubectl)}\n  guard:   ${JSON.stringify(d.guard)}`;
}
