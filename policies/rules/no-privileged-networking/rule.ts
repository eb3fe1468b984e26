import { celStrings, everyContainerCel } from "../../engine/cel";
import { pathText } from "../../engine/pod-spec";
import type { Finding, Rule } from "../../engine/rule";
import { cannotProve, containerFindings } from "../../engine/rule";
import { isUnknown, read, readList, UNKNOWN } from "../../engine/unknown";

/** Capabilities that let a container rewrite the node's network (or anything else). */
export const FORBIDDEN_CAPABILITIES = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_MODULE", "ALL"] as const;

/** "cap_net_admin" and "NET_ADMIN" are the same capability to the runtime. */
function normalizeCapability(c: string): string {
    const upper = c.trim().toUpperCase();
    return upper.startsWith("CAP_") ? upper.slice(4) : upper;
}

export const noPrivilegedNetworking: Rule = {
    id: "no-privileged-networking",
    description: "Containers must not run privileged or add NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_MODULE or ALL capabilities.",
    remediation: "Drop privileged and the added capabilities; Tailscale in userspace mode needs neither.",
    enforcementLevel: "mandatory",
    check(obj) {
        return containerFindings(obj, "is unprivileged", (c) => {
            const findings: Finding[] = [];
            const privPath = [...c.path, "securityContext", "privileged"];
            const privileged = read(c.container, "securityContext", "privileged");
            if (privileged === UNKNOWN) findings.push(cannotProve(privPath, "is false"));
            else if (privileged === true) {
                findings.push({
                    detail: `container "${c.name}" sets ${pathText(privPath)}: true, which gives it the node's whole network stack`,
                    unknown: false,
                });
            }
            const addPath = [...c.path, "securityContext", "capabilities", "add"];
            const added = readList(c.container, "securityContext", "capabilities", "add");
            if (added === UNKNOWN) return [...findings, cannotProve(addPath, "adds no forbidden capability")];
            added.forEach((cap, i) => {
                if (isUnknown(cap)) findings.push(cannotProve([...addPath, i], "is an allowed capability"));
                else if (typeof cap === "string" && (FORBIDDEN_CAPABILITIES as readonly string[]).includes(normalizeCapability(cap))) {
                    findings.push({ detail: `container "${c.name}" adds capability ${cap} (${pathText([...addPath, i])})`, unknown: false });
                }
            });
            return findings;
        });
    },
    admission: {
        expression: everyContainerCel(
            "!has(c.securityContext) || (" +
                "!(has(c.securityContext.privileged) && c.securityContext.privileged == true) && " +
                "!(has(c.securityContext.capabilities) && has(c.securityContext.capabilities.add) && " +
                `c.securityContext.capabilities.add.exists(a, ${celStrings(FORBIDDEN_CAPABILITIES)}.exists(f, a.trim().upperAscii() == f || a.trim().upperAscii() == "CAP_" + f))))`,
        ),
        message: "containers must not be privileged or add NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_MODULE or ALL",
    },
};
