import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT } from "../helpers/stack-file";

export interface CorpusEntry {
    readonly file: string;
    readonly repository: string;
    readonly path: string;
    readonly commit: string;
    readonly what: string;
    readonly placeholders?: "k3s" | "tailscale";
    readonly expected: ReadonlyArray<{ kind: string; namespace?: string | null; name: string; policy: string; level?: "advisory" }>;
    readonly why: string;
}

export const CORPUS_DIR = join(ROOT, "test", "fixtures", "real-cluster");
export const CORPUS = parse(readFileSync(join(CORPUS_DIR, "corpus.yaml"), "utf8")) as CorpusEntry[];

/** The values k3s puts in its manifests' %{NAME}% placeholders before it applies them (pkg/server, stageFiles), for a default server. */
const K3S_VALUES: Record<string, string> = {
    CLUSTER_DNS: "10.43.0.10",
    CLUSTER_DNS_LIST: "[10.43.0.10]",
    CLUSTER_DNS_IPFAMILYPOLICY: "SingleStack",
    CLUSTER_DOMAIN: "cluster.local",
    SYSTEM_DEFAULT_REGISTRY: "",
    DEFAULT_LOCAL_STORAGE_PATH: "/var/lib/rancher/k3s/storage",
};

/** What Tailscale's docs/k8s Makefile puts in its examples' {{NAME}} placeholders (sed), with a ServiceAccount every namespace has. */
const TAILSCALE_VALUES: Record<string, string> = {
    SA_NAME: "default",
    TS_KUBE_SECRET: "tailscale",
    TS_ROUTES: "10.42.0.0/16",
    TS_DEST_IP: "10.43.0.10",
};

/** A corpus file as the API server receives it: with the placeholders filled in where its project fills them. */
export function corpusText(e: CorpusEntry): string {
    const text = readFileSync(join(CORPUS_DIR, e.file), "utf8");
    if (e.placeholders === "k3s") return text.replace(/%\{([A-Z_]+)\}%/g, (m, name: string) => K3S_VALUES[name] ?? m);
    if (e.placeholders === "tailscale") return text.replace(/\{\{([A-Z_]+)\}\}/g, (m, name: string) => TAILSCALE_VALUES[name] ?? m);
    return text;
}
