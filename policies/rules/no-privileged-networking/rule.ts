import { allowedCel, celStrings, everyContainerCel } from "../../engine/cel";
import { pathText } from "../../engine/pod-spec";
import type { Finding, Rule } from "../../engine/rule";
import { cannotProve, containerFindings, normalizeCapability } from "../../engine/rule";
import { isUnknown, read, readList, UNKNOWN } from "../../engine/unknown";

/** Capabilities that let a container rewrite the node's network (or anything else). */
export const FORBIDDEN_CAPABILITIES = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_MODULE", "ALL"] as const;

/** What each forbidden capability lets a container do to the node, when it shares the node's network or devices. */
const CAPABILITY_RISK: Record<string, string> = {
    NET_ADMIN: ", which lets it rewrite routes, firewall rules and interfaces of any network it shares with the node",
    NET_RAW: ", which lets it forge packets and spoof addresses on its network",
    SYS_ADMIN: ", which lets it mount file systems and escape most confinement",
    SYS_MODULE: ", which lets it load kernel modules into the node's kernel",
    ALL: ", which is every capability, NET_ADMIN and SYS_ADMIN included",
};

export const noPrivilegedNetworking: Rule = {
    id: "no-privileged-networking",
    description: "Containers must not run privileged or add NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_MODULE or ALL capabilities.",
    remediation: (ctx) =>
        ctx.tailscale
            ? "Drop privileged and the added capabilities: Tailscale in userspace mode needs neither."
            : "Drop privileged and the added capabilities, or add only what the workload needs that cannot touch the node's network (e.g. NET_BIND_SERVICE); " +
              "node software that truly needs one (a load balancer's speaker, a storage or device driver) needs a reasoned exemption that names it (allow.capabilities, allow.privileged).",
    enforcementLevel: "mandatory",
    check(obj) {
        return containerFindings(obj, "is unprivileged", (c) => {
            const findings: Finding[] = [];
            const privPath = [...c.path, "securityContext", "privileged"];
            const privileged = read(c.container, "securityContext", "privileged");
            if (privileged === UNKNOWN) findings.push(cannotProve(privPath, "is false"));
            else if (privileged === true) {
                findings.push({
                    detail: `container "${c.name}" sets ${pathText(privPath)}: true, which gives it every device and capability of the node, its network included`,
                    unknown: false,
                    allowance: { type: "privileged" },
                });
            }
            const addPath = [...c.path, "securityContext", "capabilities", "add"];
            const added = readList(c.container, "securityContext", "capabilities", "add");
            if (added === UNKNOWN) return [...findings, cannotProve(addPath, "adds no forbidden capability")];
            added.forEach((cap, i) => {
                if (isUnknown(cap)) findings.push(cannotProve([...addPath, i], "is an allowed capability"));
                else if (typeof cap === "string" && (FORBIDDEN_CAPABILITIES as readonly string[]).includes(normalizeCapability(cap))) {
                    findings.push({
                        detail: `container "${c.name}" adds capability ${cap} (${pathText([...addPath, i])})${CAPABILITY_RISK[normalizeCapability(cap)]}`,
                        unknown: false,
                        allowance: { type: "capability", value: normalizeCapability(cap) },
                    });
                }
            });
            return findings;
        });
    },
    admission: {
        expression: everyContainerCel(
            "!has(c.securityContext) || (" +
                `(!(has(c.securityContext.privileged) && c.securityContext.privileged == true) || ${allowedCel("no-privileged-networking", "privileged")}) && ` +
                "!(has(c.securityContext.capabilities) && has(c.securityContext.capabilities.add) && " +
                'c.securityContext.capabilities.add.map(x, x.trim().upperAscii()).map(x, x.startsWith("CAP_") ? x.substring(4) : x)' +
                `.exists(cap, cap in ${celStrings(FORBIDDEN_CAPABILITIES)} && !${allowedCel("no-privileged-networking", "capability", "cap")})))`,
        ),
        message: "containers must not be privileged or add NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_MODULE or ALL",
    },
};
