import { readFileSync } from "node:fs";
import { parse } from "yaml";
// zod's mini build: the guard loads this on every run, and the full build costs more to load
// than reading a small manifest (the stack config in components/ keeps the full one).
import en from "zod/v4/locales/en.js";
import * as z from "zod/mini";
import { formatIssues } from "../../lib/problems";

// The mini build says nothing readable without a locale; English only, not all of them.
z.config(en());

const absolutePath = z.string().check(
    z.refine((p) => p.startsWith("/") && !p.split("/").includes(".."), {
        error: (i) => `${JSON.stringify(i.input)} is not an absolute path without "..": write it as the node sees it, e.g. /var/lib/kubelet/device-plugins`,
    }),
);

/**
 * What a narrow exemption allows, instead of a whole rule: host paths (as the
 * node sees them, read-only unless it says otherwise), added capabilities,
 * privileged mode, host namespaces.
 */
const allowSchema = z.strictObject({
    hostPaths: z.optional(z.array(z.strictObject({ path: absolutePath, readOnly: z._default(z.boolean(), true) })).check(z.minLength(1))),
    capabilities: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1))),
    privileged: z.optional(z.literal(true)),
    hostNamespaces: z.optional(z.array(z.enum(["hostNetwork", "hostPID", "hostIPC"])).check(z.minLength(1))),
});

/** Which rules each kind of allowance narrows. */
export const ALLOWANCE_RULES: Readonly<Record<keyof z.infer<typeof allowSchema>, readonly string[]>> = {
    hostPaths: ["no-host-path-network-state", "no-host-path-node-runtime"],
    capabilities: ["no-privileged-networking"],
    privileged: ["no-privileged-networking"],
    hostNamespaces: ["workload-no-host-namespaces", "daemonset-no-host-network"],
};

/**
 * A provisioner the platform trusts to create PersistentVolumes on node
 * directories under `path`: admission admits such a volume only when the
 * provisioner's own identity creates it. k3s's local-path needs only its name.
 */
const provisionedVolumeSchema = z.strictObject({
    provisioner: z.string().check(z.minLength(1)),
    /** The request's user name, e.g. system:serviceaccount:kube-system:local-path-provisioner-service-account. */
    identity: z.optional(z.string().check(z.minLength(1))),
    path: z.optional(absolutePath),
    reason: z.string().check(z.trim(), z.minLength(1, { error: "is empty: every provisioned-volume entry says why it exists" })),
});

/** Provisioners whose identity and path are known: k3s's own local-path, as k3s ships it. */
export const KNOWN_PROVISIONERS: Readonly<Record<string, { identity: string; path: string }>> = {
    "rancher.io/local-path": {
        identity: "system:serviceaccount:kube-system:local-path-provisioner-service-account",
        path: "/var/lib/rancher/k3s/storage",
    },
};

/** One platform-owned exemption: a named object (and what its controllers create from it) may break the named rules, for a reason, maybe until a date. */
const exemptionSchema = z.strictObject({
    kind: z.string().check(z.minLength(1)),
    /** Omit for cluster-scoped objects. */
    namespace: z.optional(z.string().check(z.minLength(1))),
    name: z.string().check(z.minLength(1)),
    policies: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
    reason: z.string().check(z.trim(), z.minLength(1, { error: "is empty: every exemption says why it exists" })),
    /** Last day the exemption applies (YYYY-MM-DD, UTC). */
    expires: z.optional(z.iso.date({ error: (i) => `${JSON.stringify(i.input)} is not a date: use YYYY-MM-DD` })),
    /** Only these, instead of the whole rules. */
    allow: z.optional(allowSchema),
});

const guardConfigSchema = z.strictObject({
    /** How a value not known at preview counts: "mandatory" (default, fail closed) or "advisory". */
    unknownValues: z._default(z.enum(["mandatory", "advisory"]), "mandatory"),
    exemptions: z._default(z.array(exemptionSchema), []),
    /** Namespaces the in-cluster admission binding skips (k3s's own system pods live in kube-system). */
    admissionExcludedNamespaces: z._default(z.array(z.string().check(z.minLength(1))), []),
    provisionedVolumes: z._default(z.array(provisionedVolumeSchema), []),
});

export type PlatformExemption = z.infer<typeof exemptionSchema>;
export type Allow = z.infer<typeof allowSchema>;
export type ProvisionedVolume = z.infer<typeof provisionedVolumeSchema>;
export type GuardConfig = z.infer<typeof guardConfigSchema>;

/** A guard config that cannot be used; the message names the file and each bad field. */
export class GuardConfigError extends Error {}

/** Validates a parsed guard config; `source` names it in errors. Unknown rule IDs are errors too. */
export function parseGuardConfig(raw: unknown, source: string, ruleIds: readonly string[]): GuardConfig {
    const result = guardConfigSchema.safeParse(raw ?? {});
    const problems = result.success ? [] : formatIssues(result.error.issues, raw, new Set());
    if (result.success) {
        result.data.exemptions.forEach((e, i) => {
            e.policies.forEach((p, j) => {
                if (!ruleIds.includes(p)) {
                    problems.push(`exemptions[${i}].policies[${j}]: ${JSON.stringify(p)} is not a rule ID (known: ${ruleIds.join(", ")})`);
                }
            });
            problems.push(...allowProblems(e, `exemptions[${i}]`));
        });
        result.data.provisionedVolumes.forEach((v, i) => {
            const known = KNOWN_PROVISIONERS[v.provisioner];
            for (const field of ["identity", "path"] as const) {
                if (v[field] === undefined && known === undefined) {
                    problems.push(
                        `provisionedVolumes[${i}].${field}: required for ${JSON.stringify(v.provisioner)} (known without it: ${Object.keys(KNOWN_PROVISIONERS).join(", ")})`,
                    );
                }
            }
        });
    }
    if (problems.length > 0 || !result.success) {
        throw new GuardConfigError(`${source}: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    return result.data;
}

/** An `allow` must narrow every rule its exemption lists, and only those. */
function allowProblems(e: PlatformExemption, at: string): string[] {
    if (e.allow === undefined) return [];
    const kinds = (Object.keys(e.allow) as (keyof Allow)[]).filter((k) => e.allow![k] !== undefined);
    if (kinds.length === 0)
        return [`${at}.allow: is empty: name what it allows (hostPaths, capabilities, privileged, hostNamespaces), or remove it to exempt the whole rules`];
    const problems: string[] = [];
    for (const k of kinds) {
        if (!ALLOWANCE_RULES[k].some((r) => e.policies.includes(r))) {
            problems.push(
                `${at}.allow.${k}: narrows ${ALLOWANCE_RULES[k].join(" or ")}, which policies does not list: add the rule to policies, or remove allow.${k}`,
            );
        }
    }
    e.policies.forEach((p, j) => {
        if (!kinds.some((k) => ALLOWANCE_RULES[k].includes(p))) {
            problems.push(
                `${at}.policies[${j}]: ${JSON.stringify(p)} is not narrowed by allow, so this exemption would not cover it: move it to an exemption of its own without allow`,
            );
        }
    });
    return problems;
}

/** A provisioned-volume entry with its identity and path filled in from KNOWN_PROVISIONERS. */
export function provisionerOf(v: ProvisionedVolume): { identity: string; path: string } {
    const known = KNOWN_PROVISIONERS[v.provisioner];
    return { identity: v.identity ?? known!.identity, path: (v.path ?? known!.path).replace(/\/+$/, "") };
}

export function loadGuardConfig(file: string, ruleIds: readonly string[]): GuardConfig {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (err) {
        throw new GuardConfigError(`${file}: cannot read the guard config (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    let raw: unknown;
    try {
        raw = parse(text);
    } catch (err) {
        throw new GuardConfigError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    return parseGuardConfig(raw, file, ruleIds);
}
