import type { KubeObject } from "./kube-object";
import { containersOf, pathText, podSpecsOf, type ContainerView, type PodSpecView } from "./pod-spec";
import { read, UNKNOWN } from "./unknown";

export type EnforcementLevel = "mandatory" | "advisory";

/**
 * What exactly a finding is about, when a narrow exemption (guard-config
 * `allow`) can name it: a host path (and whether every mount of it is
 * read-only), a capability, privileged mode, a host namespace.
 */
export type Allowance =
    | { readonly type: "hostPath"; readonly path: string; readonly readOnly: boolean }
    | { readonly type: "capability"; readonly value: string }
    | { readonly type: "privileged" }
    | { readonly type: "hostNamespace"; readonly value: string };

/** "cap_net_admin" and "NET_ADMIN" are the same capability to the runtime: the spelling findings and allowances compare. */
export function normalizeCapability(c: string): string {
    const upper = c.trim().toUpperCase();
    return upper.startsWith("CAP_") ? upper.slice(4) : upper;
}

/** One thing wrong with one object. `detail` follows "<Kind> <ns>/<name>: " in the message. */
export interface Finding {
    readonly detail: string;
    /** True when the finding exists because a value is not known yet (preview). */
    readonly unknown: boolean;
    /** Set when a narrow exemption may allow exactly this. */
    readonly allowance?: Allowance;
}

/**
 * A rule's check in the API server: a CEL expression for a
 * ValidatingAdmissionPolicy validation (see admission.ts for the variables it
 * may use), true when the object passes.
 */
export interface AdmissionCheck {
    readonly expression: string;
    /** What the API server answers after "<id>: ". */
    readonly message: string;
}

/**
 * A guardrail: the same object, ID and verdict in the pack, the CLI and
 * admission. Each lives in its own folder, policies/rules/<id>/, with its fixtures.
 */
export interface Rule {
    /** Stable ID, `<scope>-<verb>-<what>`; also the policy name in the pack. */
    readonly id: string;
    readonly description: string;
    /** What to do instead, shown with every violation: one text, or one per kind of workload. */
    readonly remediation: string | ((ctx: RemediationContext) => string);
    readonly enforcementLevel: EnforcementLevel;
    check(obj: KubeObject): Finding[];
    /**
     * The same check for the API server. Every mandatory rule has one;
     * an advisory rule may instead say why it has none.
     */
    readonly admission: AdmissionCheck | { readonly none: string };
}

/** What a remediation may depend on: the object's kind, and whether it runs Tailscale. */
export interface RemediationContext {
    readonly kind: string;
    readonly tailscale: boolean;
}

/** A rule's remediation for one object (`ctx` undefined: the text for any workload, as in a SARIF rule). */
export function remediationFor(rule: Rule, ctx?: RemediationContext): string {
    if (typeof rule.remediation === "string") return rule.remediation;
    return rule.remediation(ctx ?? { kind: "", tailscale: false });
}

export function cannotProve(path: ReadonlyArray<string | number>, what: string): Finding {
    return { detail: `cannot prove ${pathText(path)} ${what}: its value is not known until the update runs`, unknown: true };
}

/**
 * A boolean switch in an object: a finding when it is `true` (or unknown),
 * nothing when it is false or absent.
 */
export function flagFinding(obj: unknown, path: ReadonlyArray<string | number>, whenTrue: string): Finding[] {
    const v = read(obj, ...path);
    if (v === UNKNOWN) return [cannotProve(path, "is false")];
    return v === true ? [{ detail: `${pathText(path)} is true; ${whenTrue}`, unknown: false }] : [];
}

/**
 * Runs `check` on every container (init, regular, ephemeral, and those found
 * by shape) of every pod spec the object carries. A container, or a whole
 * list, that is not known yet becomes "cannot prove <path> <what>": unknown never passes.
 */
export function containerFindings(obj: KubeObject, what: string, check: (container: ContainerView, pod: PodSpecView) => Finding[]): Finding[] {
    return podSpecsOf(obj).flatMap((view) => {
        const containers = containersOf(view);
        if (containers === UNKNOWN) return [cannotProve([...view.path, "containers"], what)];
        return containers.flatMap((c) => (c.container === UNKNOWN ? [cannotProve(c.path, what)] : check(c, view)));
    });
}
