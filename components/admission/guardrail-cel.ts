// The guardrail rules in CEL, for a ValidatingAdmissionPolicy: the API server
// itself refuses what the pack and oceanid-guard refuse, so a plain
// `kubectl apply` cannot get around them. Each expression mirrors one rule in
// policies/; test/admission runs both over the same fixture table.
import type { GuardConfig } from "../../policies/engine/guard-config";
import { FORBIDDEN_CAPABILITIES } from "../../policies/no-privileged-networking";
import { PROTECTED_HOST_PATHS } from "../../policies/no-host-path-network-state";
import { MAX_EXIT_NODE_FLAGS } from "../../policies/engine/tailscale";

/** A CEL string literal. */
const lit = (s: string) => JSON.stringify(s);

/** True for a Tailscale IPv4 (100.64.0.0/10, dotted quad) or an address in fd7a:115c:a1e0::/48. */
export const TAILSCALE_IPV4_RE = "^100\\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){2}$";
export const TAILSCALE_IPV6_RE = "^fd7a:115c:a1e0(:[0-9a-f]{0,4}){1,5}$";

/** `n` (a normalized path) matches a protected host path; same table as the pack. */
function protectedPathCel(n: string): string {
    return PROTECTED_HOST_PATHS.map((p) => {
        if (p === "/") return `${n} == "/"`;
        if (p.endsWith("*")) return `${n}.startsWith(${lit(p.slice(0, -1))})`;
        return `(${n} == ${lit(p)} || ${n}.startsWith(${lit(`${p}/`)}))`;
    }).join(" || ");
}

/** A hostPath with `.`, empty segments and a trailing slash dropped, and /var/run folded into /run. */
const NORMALIZE = (raw: string) => {
    const joined = `("/" + ${raw}.split("/").filter(s, s != "" && s != ".").join("/"))`;
    return `(${joined}.startsWith("/var/run/") || ${joined} == "/var/run" ? "/run" + ${joined}.substring(8) : ${joined})`;
};

const isTailscale = `((has(c.image) && c.image.lowerAscii().contains("tailscale")) || (has(c.env) && c.env.exists(e, e.name.startsWith("TS_"))))`;

/** The env var `name` of container `c` is set to a literal that fails `bad(value)`, or comes from elsewhere (cannot prove). */
const envBad = (name: string, bad: (v: string) => string) =>
    `(has(c.env) && c.env.exists(e, e.name == ${lit(name)} && (has(e.valueFrom) || ${bad(`(has(e.value) ? e.value : "")`)})))`;

/** A valid --exit-node value: empty (clears it), auto:any, or a Tailscale IP. */
const validExitNodeCel = (v: string) =>
    `(${v} == "" || ${v} == "auto:any" || ${v}.matches(${lit(TAILSCALE_IPV4_RE)}) || ${v}.lowerAscii().matches(${lit(TAILSCALE_IPV6_RE)}))`;

/** Exit node values in an argument string, split as policies/engine/tailscale.ts exitNodeValues does. */
function exitNodeBad(args: string): string {
    const checks: string[] = [];
    for (const sep of [" --exit-node=", " --exit-node "]) {
        const parts = `(" " + ${args} + " ").split(${lit(sep)})`;
        for (let i = 1; i <= MAX_EXIT_NODE_FLAGS; i++) {
            checks.push(`(${parts}.size() > ${i} && !${validExitNodeCel(`${parts}[${i}].split(" ")[0]`)})`);
        }
    }
    return checks.join(" || ");
}

export interface CelValidation {
    /** Rule ID, also the first word of the message. */
    readonly policy: string;
    /** True when the object passes (or is exempt). */
    readonly expression: string;
    readonly message: string;
}

export interface CelPolicy {
    readonly variables: ReadonlyArray<{ name: string; expression: string }>;
    readonly validations: readonly CelValidation[];
}

/**
 * The guardrails as CEL. Only the platform exemption list counts here (anyone
 * who can apply can annotate), and only entries not expired on `now`: the API
 * server's CEL has no clock, so expiry takes effect at the next deploy.
 */
export function guardrailCel(config: GuardConfig, now: Date): CelPolicy {
    const today = now.toISOString().slice(0, 10);
    const exemptions = config.exemptions
        .filter((e) => e.expires === undefined || e.expires >= today)
        .flatMap((e) => e.policies.map((p) => `[${[e.kind, e.namespace ?? "", e.name, p].map(lit).join(", ")}]`));
    const exempt = (policy: string) =>
        `variables.exemptions.exists(x, x[0] == object.kind && x[1] == variables.namespace && x[2] == object.metadata.name && x[3] == ${lit(policy)})`;

    const variables = [
        {
            name: "podSpec",
            expression:
                'object.kind == "Pod" ? object.spec : object.kind == "PodTemplate" ? object.template.spec : ' +
                'object.kind == "CronJob" ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec',
        },
        {
            name: "containers",
            expression:
                "(has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + " +
                "(has(variables.podSpec.containers) ? variables.podSpec.containers : []) + " +
                "(has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])",
        },
        { name: "volumes", expression: "has(variables.podSpec.volumes) ? variables.podSpec.volumes : []" },
        { name: "namespace", expression: 'has(object.metadata.namespace) ? object.metadata.namespace : ""' },
        { name: "exemptions", expression: `[${exemptions.join(", ")}]` },
    ];

    const flag = (f: string) => `(has(variables.podSpec.${f}) && variables.podSpec.${f} == true)`;
    const caps = `[${FORBIDDEN_CAPABILITIES.map(lit).join(", ")}]`;
    const rules: Array<[string, string, string]> = [
        ["daemonset-no-host-network", `object.kind != "DaemonSet" || !${flag("hostNetwork")}`, "DaemonSet pods must not use hostNetwork: true"],
        [
            "workload-no-host-namespaces",
            `!${flag("hostPID")} && !${flag("hostIPC")} && (object.kind == "DaemonSet" || !${flag("hostNetwork")})`,
            "pods must not use hostPID, hostIPC, or hostNetwork outside a DaemonSet",
        ],
        [
            "no-host-path-network-state",
            `variables.volumes.all(v, !has(v.hostPath) || (!(${protectedPathCel(NORMALIZE("v.hostPath.path"))}) && !v.hostPath.path.split("/").exists(s, s == "..")))`,
            "pods must not mount host paths that hold node network or cluster state, nor host paths with ..",
        ],
        [
            "no-privileged-networking",
            "variables.containers.all(c, !has(c.securityContext) || (" +
                "!(has(c.securityContext.privileged) && c.securityContext.privileged == true) && " +
                `!(has(c.securityContext.capabilities) && has(c.securityContext.capabilities.add) && c.securityContext.capabilities.add.exists(a, ${caps}.exists(f, a.trim().upperAscii() == f || a.trim().upperAscii() == "CAP_" + f)))))`,
            "containers must not be privileged or add NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_MODULE or ALL",
        ],
        [
            "tailscale-exit-node-by-ip",
            `variables.containers.all(c, !${isTailscale} || !(` +
                `${envBad("TS_EXTRA_ARGS", (v) => `(${exitNodeBad(v)})`)} || ` +
                `${envBad("TS_EXIT_NODE", (v) => `!${validExitNodeCel(v)}`)} || ` +
                `(has(c.command) && (${exitNodeBad('c.command.join(" ")')})) || ` +
                `(has(c.args) && (${exitNodeBad('c.args.join(" ")')}))))`,
            "a Tailscale container's --exit-node must be a Tailscale IP or auto:any",
        ],
        [
            "tailscale-userspace-only",
            `variables.containers.all(c, !${isTailscale} || !(` +
                `${envBad("TS_USERSPACE", (v) => `${v}.trim().lowerAscii() in ["false", "0", "no", "off"]`)} || ` +
                '(has(c.volumeMounts) && c.volumeMounts.exists(m, m.mountPath == "/dev/net/tun" || variables.volumes.exists(v, v.name == m.name && has(v.hostPath))))))',
            "Tailscale containers must run in userspace mode without /dev/net/tun or host-path state",
        ],
    ];
    return {
        variables,
        validations: rules.map(([policy, expression, what]) => ({
            policy,
            expression: `${exempt(policy)} || (${expression})`,
            message: `${policy}: ${what} (oceanid guardrails; run oceanid-guard on the manifest for details)`,
        })),
    };
}
