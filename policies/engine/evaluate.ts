import { decideExemption, type AppliedExemption } from "./exemptions";
import type { GuardConfig } from "./guard-config";
import { describeObject, objectMeta, type KubeObject } from "./kube-object";
import { podSpecsOf } from "./pod-spec";
import { remediationFor, type EnforcementLevel, type RemediationContext, type Rule } from "./rule";
import { exemptionRoute } from "./exemption-route";
import { runsTailscale } from "./tailscale-command-lines";
import { read, readList, UNKNOWN } from "./unknown";

/** One rule broken by one object, as every gate reports it. */
export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
    readonly file?: string;
    readonly line?: number;
    readonly urn?: string;
    readonly message: string;
    readonly remediation: string;
    /** The violation stands because a value is not known yet, not because it is known to be bad. */
    readonly unknown: boolean;
}

export interface Evaluation {
    readonly violations: Violation[];
    readonly exemptions: AppliedExemption[];
}

export interface EvaluateOptions {
    /** Whether workload annotations may exempt (pack and CLI: yes; admission: no). */
    readonly annotations: boolean;
    readonly now: Date;
    /**
     * Every object of the run or stack, when the gate has them all (the pack's
     * stack phase): PersistentVolume violations then name the pods that mount them.
     */
    readonly related?: readonly KubeObject[];
}

/** Runs every rule over every object: the single verdict all three gates share. */
export function evaluate(objects: readonly KubeObject[], rules: readonly Rule[], config: GuardConfig, opts: EvaluateOptions): Evaluation {
    const violations: Violation[] = [];
    const exemptions: AppliedExemption[] = [];
    for (const obj of objects) {
        let context: RemediationContext | undefined;
        for (const rule of rules) {
            const findings = rule.check(obj);
            if (findings.length === 0) continue;
            const decision = decideExemption(obj, rule.id, findings, { platform: config.exemptions, annotations: opts.annotations, now: opts.now });
            exemptions.push(...decision.applied);
            if (decision.remaining.length === 0) continue;
            const meta = objectMeta(obj);
            const subject = describeObject(obj);
            context ??= { kind: obj.kind, tailscale: runsTailscale(obj) };
            const remediation = `${remediationFor(rule, context)} ${exemptionRoute(rule.id, opts.annotations ? "annotation" : "platform", obj)}`;
            for (const f of decision.remaining) {
                violations.push({
                    policy: rule.id,
                    enforcementLevel: f.unknown && config.unknownValues === "advisory" ? "advisory" : rule.enforcementLevel,
                    kind: obj.kind,
                    name: meta.name,
                    ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }),
                    ...obj.source,
                    message: `${subject}: ${f.detail}${decision.note ? ` (${decision.note})` : ""}`,
                    remediation,
                    unknown: f.unknown,
                });
            }
        }
    }
    if (opts.related === undefined) return { violations, exemptions };
    const mounts = new PersistentVolumeMounts();
    for (const o of opts.related) mounts.add(o);
    return { violations: violations.map((v) => withMounts(v, mounts)), exemptions };
}

/**
 * Which pods and workloads mount each PersistentVolume, from the objects one
 * run or stack holds: a pod volume's claim, the claim in the same namespace,
 * and the volume bound to it (the claim's spec.volumeName, or the volume's
 * claimRef). Objects are added one at a time, so a streaming reader can keep
 * only these few names.
 */
export class PersistentVolumeMounts {
    private readonly users = new Map<string, string[]>();
    private readonly claimVolume = new Map<string, string>();
    private readonly volumeClaim = new Map<string, string>();

    add(obj: KubeObject): void {
        const { name, namespace } = objectMeta(obj);
        const ns = namespace ?? "default";
        if (obj.kind === "PersistentVolumeClaim") {
            const volume = read(obj.body, "spec", "volumeName");
            if (typeof volume === "string" && volume !== "") this.claimVolume.set(`${ns}/${name}`, volume);
            return;
        }
        if (obj.kind === "PersistentVolume") {
            const ref = read(obj.body, "spec", "claimRef");
            const refName = read(ref, "name");
            if (typeof refName === "string") {
                const refNs = read(ref, "namespace");
                this.volumeClaim.set(name, `${typeof refNs === "string" ? refNs : "default"}/${refName}`);
            }
            return;
        }
        for (const view of podSpecsOf(obj)) {
            const volumes = readList(view.spec, "volumes");
            if (volumes === UNKNOWN) continue;
            for (const v of volumes) {
                const claim = read(v, "persistentVolumeClaim", "claimName");
                if (typeof claim !== "string") continue;
                const key = `${ns}/${claim}`;
                const who = `${describeObject(obj)} (claim ${key})`;
                this.users.set(key, [...new Set([...(this.users.get(key) ?? []), who])]);
            }
        }
    }

    /** "Deployment apps/web (claim apps/data)" for each pod or workload that mounts the volume. */
    usersOf(volume: string): string[] {
        const claims = new Set<string>();
        const bound = this.volumeClaim.get(volume);
        if (bound !== undefined) claims.add(bound);
        for (const [claim, v] of this.claimVolume) if (v === volume) claims.add(claim);
        return [...claims].flatMap((c) => this.users.get(c) ?? []);
    }
}

/** A PersistentVolume violation's message with the pods and workloads that mount the volume, when any does. */
export function withMounts(v: Violation, mounts: PersistentVolumeMounts): Violation {
    if (v.kind !== "PersistentVolume") return v;
    const users = mounts.usersOf(v.name);
    return users.length === 0 ? v : { ...v, message: `${v.message}; mounted by ${users.join(", ")}` };
}
