import { z } from "zod";
import { isIpAddress, isTailscaleAddress, normalizeAddress } from "../../lib/addresses";
import { agentSkewProblem, parseK3sVersion } from "./k3s-version";
import { formatIssues } from "../../lib/problems";
import { KEY_EXPIRY_DAYS, TAILNET_DEFAULTS } from "../network/tailnet-policy";
import { placeholderProblems, StackConfigError } from "./problems";

/**
 * The stack's settings, as `index.ts` reads them from `pulumi.Config` (namespace `oceanid`).
 * Everything here is plain data; secrets are not in it, only whether each one is set.
 */
export type RawStackConfig = {
    /** Stack name, used in messages. */
    stack: string;
    /** Which secret keys have a value; their values never pass through validation. */
    secretsSet: Partial<Record<SecretName, boolean>>;
    /** The file the values come from, named in messages. @default `Pulumi.<stack>.yaml` */
    configFile?: string;
} & Partial<Record<StackKey, unknown>>;

export const SECRET_NAMES = [
    "sshPrivateKey",
    "k3sToken",
    "tailscaleAuthKey",
    "tailscaleApiKey",
    "exitNodeAuthKey",
    "kubeconfig",
    "monitoringPagerUrl",
    "monitoringHeartbeatUrl",
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Qualified name with optional DNS-subdomain prefix, as Kubernetes label and taint keys are. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** An OpenSSH public host key line: `<type> <base64>`, as `ssh-keyscan` prints after the host name. */
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;

const quote = (v: unknown) => JSON.stringify(v);

const dnsLabel = (what: string) =>
    z.string().regex(DNS_LABEL, {
        error: (i) => `${quote(i.input)} is not a valid ${what}: use lowercase letters, digits and '-', at most 63 characters`,
    });

const ipAddress = z.string().refine(isIpAddress, {
    error: (i) => `${quote(i.input)} is not an IP address`,
});

const tailscaleAddress = z.string().refine(isTailscaleAddress, {
    error: (i) =>
        `${quote(i.input)} is not a Tailscale address: Tailscale assigns addresses in 100.64.0.0/10 or fd7a:115c:a1e0::/48 (see 'tailscale ip' on the node)`,
});

/** The SSH login the program uses for a node or the monitoring host. */
const unixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: (i) => `${quote(i.input)} is not a valid Unix user name` });
const sshPort = z.number().int().min(1).max(65535).default(22);
const sshHostKey = z.string().regex(HOST_KEY, {
    error: (i) => `${quote(i.input)} is not an SSH host key: paste the key part of 'ssh-keyscan -t ed25519 <host>' (e.g. "ssh-ed25519 AAAAC3...")`,
});

const k3sVersion = z.string().refine((v) => parseK3sVersion(v) !== undefined, {
    error: (i) => `${quote(i.input)} is not a k3s release version: use the form v1.33.4+k3s1`,
});

const taintSchema = z
    .object({
        key: z.string().regex(LABEL_KEY, { error: (i) => `${quote(i.input)} is not a valid taint key` }),
        value: z
            .string()
            .regex(LABEL_VALUE, { error: (i) => `${quote(i.input)} is not a valid taint value` })
            .optional(),
        effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
    })
    .strict();

const nodeSchema = z
    .object({
        /** Kubernetes node name (the host name k3s registers). */
        name: dnsLabel("node name"),
        role: z.enum(["server", "agent"]),
        /** The agent that takes every node change first. Exactly one agent has it. @default false */
        canary: z.boolean().default(false),
        k3sVersion,
        addresses: z
            .object({
                public: ipAddress.optional(),
                lan: ipAddress.optional(),
                tailscale: tailscaleAddress.optional(),
            })
            .strict(),
        ssh: z
            .object({
                user: unixUser,
                /** @default 22 */
                port: sshPort,
                /** Which of `addresses` to dial. @default "public", else "lan", else "tailscale" */
                via: z.enum(["public", "lan", "tailscale"]).optional(),
                hostKey: sshHostKey,
            })
            .strict(),
        labels: z
            .record(
                z.string().regex(LABEL_KEY, { error: (i) => `${quote(i.input)} is not a valid label key` }),
                z.string().regex(LABEL_VALUE, { error: (i) => `${quote(i.input)} is not a valid label value` }),
            )
            .default({}),
        taints: z.array(taintSchema).default([]),
        /** How to reach the node when its network is broken (console, provider API, who has hands on it). Required unless `unsafeNoOutOfBand`. */
        outOfBand: z
            .string()
            .trim()
            .min(1, { error: "is empty: say how to reach this node when SSH is gone (console, provider API reboot, local access)" })
            .optional(),
        /**
         * Why this node may be changed over SSH with no way to reach it when SSH is gone.
         * Setting it is the only way to skip `outOfBand`, and every preview and node change prints it.
         */
        unsafeNoOutOfBand: z.string().trim().min(1, { error: "is empty: give the reason this node may be changed without out-of-band access" }).optional(),
        /**
         * The host's own Tailscale preferences. Accepted only to be refused with the reason
         * (hostTailscaleUseProblems): no cluster node may send its own traffic into the tailnet.
         */
        tailscale: z
            .object({ exitNode: z.string().optional(), exitNodeAllowLanAccess: z.boolean().optional(), acceptRoutes: z.boolean().optional() })
            .strict()
            .optional(),
    })
    .strict();

const kubernetesSchema = z.discriminatedUnion("mode", [
    z.object({ mode: z.literal("render"), renderDir: z.string().trim().min(1) }).strict(),
    z.object({ mode: z.literal("cluster"), context: z.string().min(1).optional() }).strict(),
]);

const egressSchema = z
    .object({
        /** @default true */
        enabled: z.boolean().default(true),
        /** Tailscale IP of the exit node, or `auto:any`. */
        exitNode: z.string(),
        /** Namespaces whose egress is forced through the gateway. @default [] */
        namespaces: z.array(dnsLabel("namespace name")).default([]),
        /** Opted-in namespaces whose pods may also reach the API server. @default [] */
        apiServerNamespaces: z.array(dnsLabel("namespace name")).default([]),
        /** Where the gateway runs. @default "egress-gateway" */
        gatewayNamespace: dnsLabel("namespace name").default("egress-gateway"),
        /** Gateway image with a pinned tag. @default "tailscale/tailscale:v1.102.3" */
        image: z
            .string()
            .regex(/^[^\s@]+:[^\s@/:]+$/, { error: (i) => `${quote(i.input)} has no pinned tag: use e.g. tailscale/tailscale:v1.102.3` })
            .optional(),
        /** Manage the tailnet side (policy and auth key) with the Tailscale API. @default off */
        tailnet: z
            .object({
                manage: z.boolean().default(false),
                /** The operators' tailnet policy file (HuJSON), relative to the project. @default "tailnet/policy.hujson" */
                policyFile: z.string().min(1).default("tailnet/policy.hujson"),
                /** Tailscale API tailnet name (e.g. "example.com"); "-" means the API key's default tailnet. @default "-" */
                name: z.string().min(1).default("-"),
                keyExpiryDays: z
                    .number()
                    .int()
                    .min(KEY_EXPIRY_DAYS.min, { error: `must be at least ${KEY_EXPIRY_DAYS.min} day` })
                    .max(KEY_EXPIRY_DAYS.max, { error: `must be at most ${KEY_EXPIRY_DAYS.max} days (Tailscale's limit)` })
                    .default(KEY_EXPIRY_DAYS.max),
            })
            .strict()
            // Parsed like a written {}: the defaults above are the only ones.
            .prefault({}),
        /** Tailscale's log upload from the gateway: "off" renders TS_NO_LOGS_NO_SUPPORT=true. @default "off" */
        tailscaleLogs: z.enum(["off", "upload"]).default("off"),
        /** Image digest, pinned on top of the tag. */
        imageDigest: z
            .string()
            .regex(/^sha256:[a-f0-9]{64}$/, { error: (i) => `${quote(i.input)} is not an image digest: use sha256:<64 hex digits>` })
            .optional(),
    })
    .strict();

/** How node changes run over SSH: each step's time limits, the revert timer, preflight thresholds. */
const nodeChangesSchema = z
    .object({
        /** Seconds after arming until the node restores its previous state by itself, unless the change was confirmed. @default 600 */
        revertAfterSeconds: z.number().int().min(1).default(600),
        /** Time limit of the apply step (the k3s installer). @default 300 */
        applyTimeoutSeconds: z.number().int().min(1).default(300),
        /** How long the gate waits for the node to be Ready, renewing its Lease at the target version and answering SSH. @default 180 */
        gateTimeoutSeconds: z.number().int().min(1).default(180),
        /** Time limit of the preflight and confirm steps. @default 60 */
        stepTimeoutSeconds: z.number().int().min(1).default(60),
        /** The gate passes only after the node has been healthy this long without a break. @default 60 */
        settleSeconds: z.number().int().min(0).default(60),
        /** While the gate waits, a Lease not renewed for longer is a problem (kubelets renew every 10 s). @default 40 */
        maxLeaseAgeSeconds: z.number().int().min(1).default(40),
        /** Cordon and drain the node before its change (Eviction API, PodDisruptionBudgets respected), uncordon it after. @default true */
        drain: z.boolean().default(true),
        /** How long the drain waits for the node's pods to leave before the change is given up. @default 300 */
        drainTimeoutSeconds: z.number().int().min(1).default(300),
        /** Preflight refuses a node with less free disk under /var/lib/rancher. @default 2048 */
        minFreeDiskMiB: z.number().int().min(0).default(2048),
        /** Preflight refuses a node with less available memory. @default 256 */
        minAvailableMemoryMiB: z.number().int().min(0).default(256),
        /** Where nodes fetch the k3s installer. @default "https://get.k3s.io" */
        installScriptUrl: z
            .string()
            .regex(/^(https|file):\/\/\S+$/, { error: (i) => `${quote(i.input)} is not an https:// (or file://) URL` })
            .default("https://get.k3s.io"),
        /** The URL agents join (`K3S_URL`). @default "https://<server's SSH address>:6443" */
        serverUrl: z
            .string()
            .regex(/^https:\/\/[^\s/]+:\d+$/, { error: (i) => `${quote(i.input)} is not a server URL: use https://<address>:6443` })
            .optional(),
    })
    .strict();

/** The exit node's host Tailscale, installed and brought up as a gated, self-reverting node change. */
const exitNodeHostSchema = z
    .object({
        /** Tailscale's static release (`https://pkgs.tailscale.com/stable/tailscale_<version>_amd64.tgz`), pinned by checksum. */
        release: z
            .object({
                version: z.string().regex(/^\d+\.\d+\.\d+$/, { error: (i) => `${quote(i.input)} is not a Tailscale version: use e.g. 1.102.3` }),
                url: z
                    .string()
                    .regex(/^https:\/\/\S+\.tgz$/, { error: (i) => `${quote(i.input)} is not an https:// URL of a .tgz (Tailscale's static release)` }),
                sha256: z
                    .string()
                    .regex(/^[a-f0-9]{64}$/, { error: (i) => `${quote(i.input)} is not a sha256: use the 64 hex digits of the .tgz's sha256sum` }),
            })
            .strict(),
        /** `tailscale up --login-server` (headscale); Tailscale's own when absent. */
        loginServer: z
            .string()
            .regex(/^https?:\/\/\S+$/, { error: (i) => `${quote(i.input)} is not a URL` })
            .optional(),
        /** `--advertise-tags`. @default ["tag:exit-node"] */
        tags: z
            .array(z.string().regex(/^tag:[a-z0-9][-a-z0-9]*$/, { error: (i) => `${quote(i.input)} is not a tag: use tag:<name>` }))
            .default(["tag:exit-node"]),
        /** Tailscale's log upload from the exit node. @default false */
        uploadLogs: z.boolean().default(false),
        /** Where the gate asks whether the node is online with its exit routes approved (key: the tailscaleApiKey secret). */
        controlApi: z
            .object({
                kind: z.enum(["tailscale", "headscale"]).default("tailscale"),
                /** @default "https://api.tailscale.com" */
                url: z
                    .string()
                    .regex(/^https?:\/\/\S+$/, { error: (i) => `${quote(i.input)} is not a URL` })
                    .default("https://api.tailscale.com"),
            })
            .strict()
            .prefault({}),
    })
    .strict();

/** A release tarball pinned by checksum. */
const pinnedRelease = (what: string, version: RegExp, example: string) =>
    z
        .object({
            version: z.string().regex(version, { error: (i) => `${quote(i.input)} is not a ${what} version: use e.g. ${example}` }),
            url: z.string().regex(/^https:\/\/\S+\.tar\.(gz|xz)$/, {
                error: (i) => `${quote(i.input)} is not an https:// URL of a .tar.gz or .tar.xz (${what}'s release tarball)`,
            }),
            sha256: z.string().regex(/^[a-f0-9]{64}$/, { error: (i) => `${quote(i.input)} is not a sha256: use the 64 hex digits of the tarball's sha256sum` }),
        })
        .strict();

/**
 * The host outside the cluster that runs oceanid-health serve, Prometheus and Alertmanager
 * (docs/monitoring.md, Where it runs), installed over SSH by the program.
 */
const monitoringHostSchema = z
    .object({
        /** The address the program's SSH dials. None of the nodes' own: the point is a host that fails apart from them. */
        address: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:-]*$/, { error: (i) => `${quote(i.input)} is not a host name or IP address` }),
        ssh: z
            .object({
                user: unixUser,
                /** @default 22 */
                port: sshPort,
                hostKey: sshHostKey,
            })
            .strict(),
        /** What the host runs, each an upstream release tarball pinned by checksum. */
        releases: z
            .object({
                /** nodejs.org's `node-v<version>-linux-x64.tar.xz`: runs oceanid-health serve. */
                node: pinnedRelease("Node.js", /^\d+\.\d+\.\d+$/, "24.9.0"),
                /** `prometheus-<version>.linux-amd64.tar.gz` (holds prometheus and promtool). */
                prometheus: pinnedRelease("Prometheus", /^\d+\.\d+\.\d+$/, "3.16.0"),
                /** `alertmanager-<version>.linux-amd64.tar.gz`. */
                alertmanager: pinnedRelease("Alertmanager", /^\d+\.\d+\.\d+$/, "0.28.1"),
            })
            .strict(),
        /** oceanid-health serve's probe interval and Prometheus's scrape and evaluation interval. @default 15 */
        intervalSeconds: z.number().int().min(1).max(300).default(15),
        /** How long an install waits for the services and the first scrape before it puts the last install back. @default 90 */
        readyTimeoutSeconds: z.number().int().min(10).max(600).default(90),
    })
    .strict();

/** What the program deploys for monitoring (docs/monitoring.md). */
const monitoringSchema = z
    .object({
        /** The alert rules as a PrometheusRule (prometheus-operator's CRD must be in the cluster). @default not deployed */
        alertRules: z
            .object({
                /** @default "monitoring" */
                namespace: dnsLabel("namespace name").default("monitoring"),
                /** Labels the Prometheus's ruleSelector matches (kube-prometheus-stack: release: <its release name>). @default {} */
                labels: z
                    .record(
                        z.string().regex(LABEL_KEY, { error: (i) => `${quote(i.input)} is not a valid label key` }),
                        z.string().regex(LABEL_VALUE, { error: (i) => `${quote(i.input)} is not a valid label value` }),
                    )
                    .default({}),
            })
            .strict()
            .optional(),
    })
    .strict();

const stackSchema = z.object({
    nodes: z.array(nodeSchema).min(1, { error: "is empty: list every node of the cluster" }),
    /** "ssh": node changes run over SSH; "none": the program never connects to a node (dev). */
    nodeAccess: z.enum(["ssh", "none"]),
    kubernetes: kubernetesSchema,
    egress: egressSchema,
    nodeChanges: nodeChangesSchema.prefault({}),
    /** The exit node's host Tailscale as a node change (nodeAccess "ssh"). @default not managed */
    exitNodeHost: exitNodeHostSchema.optional(),
    monitoring: monitoringSchema.prefault({}),
    /** The monitoring host outside the cluster, installed over SSH. @default not managed */
    monitoringHost: monitoringHostSchema.optional(),
});

/** The plain (non-secret) keys under `oceanid:`, each read once, straight from the schema. */
export const STACK_KEYS = Object.keys(stackSchema.shape) as Array<keyof typeof stackSchema.shape>;
export type StackKey = (typeof STACK_KEYS)[number];

export type NodeConfig = z.infer<typeof nodeSchema>;
export type KubernetesTarget = z.infer<typeof kubernetesSchema>;
export type EgressConfig = z.infer<typeof egressSchema>;
export type NodeChangeSettings = z.infer<typeof nodeChangesSchema>;
export type ExitNodeHostConfig = z.infer<typeof exitNodeHostSchema>;
export type MonitoringHostConfig = z.infer<typeof monitoringHostSchema>;
export type StackSettings = z.infer<typeof stackSchema> & { stack: string };

/**
 * Validates a stack's raw config and returns typed settings, or throws one
 * {@link StackConfigError} that lists every problem with its path, the bad value and a fix.
 */
export function parseStackConfig(raw: RawStackConfig): StackSettings {
    const input = Object.fromEntries(STACK_KEYS.map((key) => [key, raw[key]]));
    // Placeholders get their own message; the schema's complaint about the same field would only repeat it.
    const placeholders = placeholderProblems(input);
    const result = stackSchema.safeParse(input);
    const problems = [...placeholders.problems];
    if (!result.success) problems.push(...formatIssues(result.error.issues, input, placeholders.paths));
    // Every cross-field rule whose own fields are valid runs, whatever else is broken.
    for (const rule of CROSS_FIELD_RULES) {
        const data = rule.needs.safeParse(input);
        if (data.success) problems.push(...rule.check(data.data as never, raw.secretsSet));
    }
    if (problems.length > 0 || !result.success) {
        throw new StackConfigError(raw.stack, problems, raw.configFile);
    }
    return { ...result.data, stack: raw.stack };
}

/** A rule over several fields: the part of the config it reads (valid, or the rule is skipped), and its check. */
interface CrossFieldRule<T> {
    needs: z.ZodType<T>;
    check(data: T, secretsSet: RawStackConfig["secretsSet"]): string[];
}
const rule = <T>(needs: z.ZodType<T>, check: CrossFieldRule<T>["check"]): CrossFieldRule<T> => ({ needs, check });

/** Only some fields of every node (other fields may be broken). */
const nodesWith = <K extends keyof typeof nodeSchema.shape>(...keys: K[]) =>
    z.object({ nodes: z.array(z.object(Object.fromEntries(keys.map((k) => [k, nodeSchema.shape[k]])) as Pick<typeof nodeSchema.shape, K>)) });

const nodeVia = nodeSchema.shape.ssh.shape.via;
type NodeAddresses = Pick<NodeConfig, "name" | "addresses"> & { ssh: { via?: NodeConfig["ssh"]["via"] } };

const CROSS_FIELD_RULES: ReadonlyArray<CrossFieldRule<never>> = [
    rule(nodesWith("name", "role", "canary", "k3sVersion"), ({ nodes }) => roleProblems(nodes)),
    rule(
        z.object({ nodes: z.array(z.object({ name: nodeSchema.shape.name, addresses: nodeSchema.shape.addresses, ssh: z.object({ via: nodeVia }) })) }),
        ({ nodes }) => addressProblems(nodes),
    ),
    rule(nodesWith("name", "outOfBand", "unsafeNoOutOfBand"), ({ nodes }) => outOfBandProblems(nodes)),
    rule(z.object({ nodeAccess: stackSchema.shape.nodeAccess, kubernetes: kubernetesSchema }), (cfg) =>
        cfg.nodeAccess === "ssh" && cfg.kubernetes.mode !== "cluster"
            ? [`nodeAccess: "ssh" needs kubernetes.mode "cluster": every node change is gated on the node's Ready condition and Lease in the API server`]
            : [],
    ),
    rule(z.object({ nodeChanges: stackSchema.shape.nodeChanges }), ({ nodeChanges }) => nodeChangeTimingProblems(nodeChanges)),
    rule(nodesWith("name", "addresses").extend({ egress: z.object({ exitNode: egressSchema.shape.exitNode }) }), (cfg) => exitNodeProblems(cfg)),
    rule(z.object({ egress: egressSchema }), ({ egress }) => egressNamespaceProblems(egress)),
    rule(nodesWith("name", "tailscale"), ({ nodes }) => hostTailscaleUseProblems(nodes)),
    rule(z.object({ nodeAccess: stackSchema.shape.nodeAccess, egress: egressSchema, exitNodeHost: exitNodeHostSchema }), (cfg) => exitNodeHostProblems(cfg)),
    rule(nodesWith("name", "addresses").extend({ egress: egressSchema }), (cfg) => ciTailnetProblems(cfg)),
    rule(nodesWith("name", "addresses").extend({ kubernetes: kubernetesSchema, monitoringHost: monitoringHostSchema }), (cfg) => monitoringHostProblems(cfg)),
    rule(
        z.object({
            nodeAccess: stackSchema.shape.nodeAccess,
            kubernetes: kubernetesSchema,
            egress: egressSchema,
            exitNodeHost: z.unknown(),
            monitoringHost: z.unknown(),
        }),
        (cfg, secretsSet) => missingSecretProblems(cfg, secretsSet),
    ),
] as never;

/** A managed tailnet grants CI SSH to every node by its Tailscale IP (components/network/ci-tailnet-policy.ts). */
function ciTailnetProblems(cfg: { nodes: ReadonlyArray<Pick<NodeConfig, "name" | "addresses">>; egress: Pick<EgressConfig, "enabled" | "tailnet"> }): string[] {
    if (!cfg.egress.enabled || !cfg.egress.tailnet.manage) return [];
    return cfg.nodes.flatMap((n, i) =>
        n.addresses.tailscale === undefined
            ? [
                  `nodes[${i}].addresses.tailscale: ${n.name} has none; egress.tailnet.manage grants CI SSH to every node over the tailnet: set it ('tailscale ip -4' on the node)`,
              ]
            : [],
    );
}

/** Roles, canary, unique names and version skew. */
function roleProblems(nodes: ReadonlyArray<Pick<NodeConfig, "name" | "role" | "canary" | "k3sVersion">>): string[] {
    const problems: string[] = [];
    const servers = nodes.flatMap((n, i) => (n.role === "server" ? [i] : []));
    if (servers.length !== 1) {
        problems.push(`nodes: ${servers.length} nodes have role "server" (${servers.map((i) => nodes[i].name).join(", ") || "none"}); exactly one must`);
    }
    nodes.forEach((n, i) => {
        if (n.canary && n.role !== "agent") {
            problems.push(`nodes[${i}].canary: ${n.name} is a ${n.role}; only an agent can be the canary`);
        }
    });
    const canaries = nodes.filter((n) => n.canary && n.role === "agent");
    if (canaries.length !== 1 && nodes.some((n) => n.role === "agent")) {
        problems.push(
            `nodes: ${canaries.length} agents are marked canary (${canaries.map((n) => n.name).join(", ") || "none"}); mark exactly one agent "canary: true" so changes reach one node first`,
        );
    }
    const seen = new Map<string, number>();
    nodes.forEach((n, i) => {
        const first = seen.get(n.name);
        if (first !== undefined) {
            problems.push(`nodes[${i}].name: ${quote(n.name)} is already used by nodes[${first}]; node names must be unique`);
        } else {
            seen.set(n.name, i);
        }
    });
    if (servers.length === 1) {
        const server = nodes[servers[0]];
        const serverVersion = parseK3sVersion(server.k3sVersion)!;
        nodes.forEach((n, i) => {
            if (n.role !== "agent") return;
            const problem = agentSkewProblem(parseK3sVersion(n.k3sVersion)!, serverVersion);
            if (problem) {
                problems.push(
                    `nodes[${i}].k3sVersion: ${n.k3sVersion} ${problem.relation} the server's ${server.k3sVersion} (${server.name}); ${problem.rule}`,
                );
            }
        });
    }
    return problems;
}

/** One Tailscale address per node, and an address to SSH to. */
function addressProblems(nodes: readonly NodeAddresses[]): string[] {
    const problems: string[] = [];
    const tailnetOwners = new Map<string, number>();
    nodes.forEach((n, i) => {
        if (n.addresses.tailscale === undefined) return;
        const key = normalizeAddress(n.addresses.tailscale);
        const first = tailnetOwners.get(key);
        if (first !== undefined) {
            problems.push(
                `nodes[${i}].addresses.tailscale: ${n.addresses.tailscale} is already the address of nodes[${first}] (${nodes[first].name}); each node has its own`,
            );
        } else {
            tailnetOwners.set(key, i);
        }
    });
    nodes.forEach((n, i) => {
        const via = n.ssh.via ?? defaultSshVia(n);
        if (via === undefined) {
            problems.push(`nodes[${i}].addresses: ${n.name} has no address; give at least one of public, lan, tailscale`);
        } else if (n.addresses[via] === undefined) {
            problems.push(`nodes[${i}].ssh.via: ${quote(via)} but nodes[${i}].addresses.${via} is not set`);
        }
    });
    return problems;
}

export function defaultSshVia(n: Pick<NodeConfig, "addresses">): "public" | "lan" | "tailscale" | undefined {
    if (n.addresses.public !== undefined) return "public";
    if (n.addresses.lan !== undefined) return "lan";
    if (n.addresses.tailscale !== undefined) return "tailscale";
    return undefined;
}

/** The SSH address of a node: `ssh.via`, else public, then lan, then tailscale. */
export function sshAddress(n: NodeConfig): string {
    return n.addresses[n.ssh.via ?? defaultSshVia(n)!]!;
}

/** The node whose Tailscale address is egress.exitNode (none for "auto:any"). */
export function exitNodeOf(cfg: Pick<StackSettings, "nodes" | "egress">): NodeConfig | undefined {
    const exitNode = cfg.egress.exitNode;
    if (!isIpAddress(exitNode)) return undefined;
    return cfg.nodes.find((n) => n.addresses.tailscale !== undefined && normalizeAddress(n.addresses.tailscale) === normalizeAddress(exitNode));
}

/** The URL agents join: `nodeChanges.serverUrl`, else the server's SSH address on 6443. */
export function serverUrl(cfg: Pick<StackSettings, "nodes" | "nodeChanges">): string {
    if (cfg.nodeChanges.serverUrl !== undefined) return cfg.nodeChanges.serverUrl;
    const address = sshAddress(cfg.nodes.find((n) => n.role === "server")!);
    return `https://${address.includes(":") ? `[${address}]` : address}:6443`;
}

function outOfBandProblems(nodes: ReadonlyArray<Pick<NodeConfig, "name" | "outOfBand" | "unsafeNoOutOfBand">>): string[] {
    const problems: string[] = [];
    nodes.forEach((n, i) => {
        if (n.outOfBand === undefined && n.unsafeNoOutOfBand === undefined) {
            problems.push(
                `nodes[${i}].outOfBand: not set for ${n.name}; a node change can cut SSH, so say how to reach the node without it ` +
                    `(console, provider API reboot, local access), or set nodes[${i}].unsafeNoOutOfBand: "<why it may be changed anyway>"`,
            );
        } else if (n.outOfBand !== undefined && n.unsafeNoOutOfBand !== undefined) {
            problems.push(`nodes[${i}].unsafeNoOutOfBand: ${n.name} has outOfBand access; remove the override`);
        }
    });
    return problems;
}

function nodeChangeTimingProblems(c: NodeChangeSettings): string[] {
    const problems: string[] = [];
    if (c.settleSeconds >= c.gateTimeoutSeconds) {
        problems.push(
            `nodeChanges.settleSeconds: ${c.settleSeconds} leaves the gate no time: it must be shorter than gateTimeoutSeconds ${c.gateTimeoutSeconds}`,
        );
    }
    if (c.settleSeconds > 0 && c.settleSeconds <= c.maxLeaseAgeSeconds) {
        problems.push(
            `nodeChanges.settleSeconds: ${c.settleSeconds} is not longer than maxLeaseAgeSeconds ${c.maxLeaseAgeSeconds}: ` +
                `a release that renews its Lease once and then stops would pass the gate; raise settleSeconds above ${c.maxLeaseAgeSeconds}`,
        );
    }
    const needed = c.applyTimeoutSeconds + c.gateTimeoutSeconds + c.stepTimeoutSeconds;
    if (c.revertAfterSeconds <= needed) {
        problems.push(
            `nodeChanges.revertAfterSeconds: ${c.revertAfterSeconds} would revert a healthy change before it can be confirmed ` +
                `(applyTimeoutSeconds ${c.applyTimeoutSeconds} + gateTimeoutSeconds ${c.gateTimeoutSeconds} + stepTimeoutSeconds ${c.stepTimeoutSeconds} = ${needed}); ` +
                `raise it above ${needed} or lower the timeouts`,
        );
    }
    return problems;
}

function exitNodeProblems(cfg: { nodes: ReadonlyArray<Pick<NodeConfig, "addresses">>; egress: Pick<EgressConfig, "exitNode"> }): string[] {
    const exitNode = cfg.egress.exitNode;
    if (exitNode === "auto:any") return [];
    if (!isIpAddress(exitNode)) {
        return [
            `egress.exitNode: got ${quote(exitNode)}; use the Tailscale IP (100.x.y.z) of the exit node or "auto:any": ` +
                `a name is not in the peer list when the gateway first starts, so tailscale rejects it ("invalid value for --exit-node")`,
        ];
    }
    if (!isTailscaleAddress(exitNode)) {
        return [
            `egress.exitNode: ${exitNode} is not a Tailscale address (100.64.0.0/10 or fd7a:115c:a1e0::/48); use the exit node's Tailscale IP, not its public or LAN address`,
        ];
    }
    const owner = cfg.nodes.find((n) => n.addresses.tailscale !== undefined && normalizeAddress(n.addresses.tailscale) === normalizeAddress(exitNode));
    if (owner === undefined) {
        return [
            `egress.exitNode: ${exitNode} is not the Tailscale address of any node in nodes; ` +
                `a wrong address is accepted by tailscale and silently drops all egress, so name the exit node's address as one node's addresses.tailscale`,
        ];
    }
    return [];
}

const INCIDENT =
    "tailscaled then routes the host's own traffic, the kubelet's to the API server and SSH included, into the tailnet " +
    "(the 2025-10-13 incident: two nodes NotReady, SSH lost); pods reach the exit node through the egress gateway (oceanid:egress)";

/** No cluster node uses an exit node (or tailnet routes) for its own traffic. */
function hostTailscaleUseProblems(nodes: ReadonlyArray<Pick<NodeConfig, "name" | "tailscale">>): string[] {
    return nodes.flatMap((n, i) => {
        const t = n.tailscale;
        if (t === undefined) return [];
        const at = `nodes[${i}].tailscale`;
        const problems: string[] = [];
        if (t.exitNode !== undefined) {
            problems.push(`${at}.exitNode: ${quote(t.exitNode)}: ${n.name} must not use an exit node: ${INCIDENT}; remove ${at}.exitNode`);
        }
        if (t.exitNodeAllowLanAccess !== undefined) {
            problems.push(
                `${at}.exitNodeAllowLanAccess: ${t.exitNodeAllowLanAccess}: no node uses an exit node, and LAN access would not save one: it excepts only directly connected subnets, not the API server behind a router; remove it`,
            );
        }
        if (t.acceptRoutes === true) {
            problems.push(
                `${at}.acceptRoutes: true: routes other tailnet machines advertise would capture ${n.name}'s own traffic to those subnets; remove it`,
            );
        }
        return problems;
    });
}

/** The managed exit node: the node egress.exitNode names, changed over SSH, its tag the one the tailnet policy approves. */
function exitNodeHostProblems(cfg: { nodeAccess: StackSettings["nodeAccess"]; egress: EgressConfig; exitNodeHost: ExitNodeHostConfig }): string[] {
    const problems: string[] = [];
    if (cfg.nodeAccess !== "ssh")
        problems.push(
            `exitNodeHost: set, but nodeAccess is ${quote(cfg.nodeAccess)}: the exit node is changed over SSH; set nodeAccess "ssh" or remove exitNodeHost`,
        );
    if (!cfg.egress.enabled) problems.push("exitNodeHost: set, but egress.enabled is false: nothing uses the exit node; remove exitNodeHost");
    if (cfg.egress.exitNode === "auto:any") {
        problems.push(
            `exitNodeHost: set, but egress.exitNode is "auto:any": name the exit node's Tailscale address, so the program knows which node to make the exit node`,
        );
    }
    if (cfg.egress.tailnet.manage && !cfg.exitNodeHost.tags.includes(TAILNET_DEFAULTS.exitNodeTag)) {
        problems.push(
            `exitNodeHost.tags: ${quote(cfg.exitNodeHost.tags)} lacks ${TAILNET_DEFAULTS.exitNodeTag}, the tag whose exit routes the managed tailnet policy approves (autoApprovers.exitNode); add it`,
        );
    }
    return problems;
}

/** Namespaces k3s itself needs unrestricted; forcing them through the gateway would cut DNS and the control plane. */
const SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"];

function egressNamespaceProblems(egress: EgressConfig): string[] {
    const problems: string[] = [];
    egress.namespaces.forEach((ns, i) => {
        if (SYSTEM_NAMESPACES.includes(ns)) {
            problems.push(`egress.namespaces[${i}]: ${quote(ns)} is a system namespace; its pods need the cluster network, not the gateway`);
        } else if (ns === egress.gatewayNamespace) {
            problems.push(`egress.namespaces[${i}]: ${quote(ns)} is the gateway's own namespace; it cannot send its egress through itself`);
        }
    });
    egress.apiServerNamespaces.forEach((ns, i) => {
        if (!egress.namespaces.includes(ns)) {
            problems.push(`egress.apiServerNamespaces[${i}]: ${quote(ns)} is not in egress.namespaces; only opted-in namespaces need an API server exception`);
        }
    });
    return problems;
}

/** The monitoring host must fail apart from the cluster, and its exporter needs the API server. */
function monitoringHostProblems(cfg: {
    nodes: ReadonlyArray<Pick<NodeConfig, "name" | "addresses">>;
    kubernetes: KubernetesTarget;
    monitoringHost: MonitoringHostConfig;
}): string[] {
    const problems: string[] = [];
    if (cfg.kubernetes.mode !== "cluster") {
        problems.push(
            `monitoringHost: set, but kubernetes.mode is ${quote(cfg.kubernetes.mode)}: its exporter reads the nodes from the API server; use mode "cluster" or remove monitoringHost`,
        );
    }
    const address = cfg.monitoringHost.address;
    const node = cfg.nodes.find((n) =>
        Object.values(n.addresses).some(
            (a) => a !== undefined && (a === address || (isIpAddress(address) && normalizeAddress(a) === normalizeAddress(address))),
        ),
    );
    if (node !== undefined) {
        problems.push(
            `monitoringHost.address: ${quote(address)} is ${node.name}'s: monitoring on a cluster node goes down with it (docs/monitoring.md, Where it runs); use a host outside the cluster`,
        );
    }
    return problems;
}

function missingSecretProblems(
    cfg: Pick<StackSettings, "nodeAccess" | "kubernetes" | "egress"> & { exitNodeHost?: unknown; monitoringHost?: unknown },
    secretsSet: RawStackConfig["secretsSet"],
): string[] {
    const needed: Array<[SecretName, string]> = [];
    if (cfg.nodeAccess === "ssh") {
        needed.push(["sshPrivateKey", 'nodeAccess "ssh" logs in to the nodes with it']);
        needed.push(["k3sToken", 'nodeAccess "ssh" joins agents to the server with it']);
    }
    if (cfg.kubernetes.mode === "cluster") {
        needed.push(["kubeconfig", 'kubernetes.mode "cluster" deploys with it']);
    }
    if (cfg.exitNodeHost !== undefined) {
        needed.push(["exitNodeAuthKey", "exitNodeHost joins the exit node to the tailnet with it (reusable, not ephemeral, tagged with exitNodeHost.tags)"]);
        needed.push(["tailscaleApiKey", "exitNodeHost's gate asks the control server (exitNodeHost.controlApi) about the exit node with it"]);
    }
    if (cfg.monitoringHost !== undefined) {
        if (cfg.nodeAccess !== "ssh") needed.push(["sshPrivateKey", "monitoringHost is installed over SSH with it"]);
        needed.push(["monitoringPagerUrl", "monitoringHost's Alertmanager sends every alert but Watchdog to it (the pager's webhook URL)"]);
        needed.push([
            "monitoringHeartbeatUrl",
            "monitoringHost's Alertmanager sends the Watchdog alert to it every minute (a heartbeat service outside, which pages when it stops)",
        ]);
    }
    if (cfg.egress.enabled && cfg.egress.tailnet.manage && cfg.exitNodeHost === undefined) {
        needed.push(["tailscaleApiKey", "egress.tailnet.manage creates the gateway's auth key and policy with it"]);
    } else if (cfg.egress.enabled && cfg.kubernetes.mode === "cluster") {
        needed.push(["tailscaleAuthKey", "the egress gateway joins the tailnet with it (or set egress.tailnet.manage)"]);
    }
    return needed
        .filter(([name]) => !secretsSet[name])
        .map(([name, why]) => `${name}: not set; ${why}: pulumi config set --secret oceanid:${name} (value on stdin)`);
}
