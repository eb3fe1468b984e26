import { hostPathVolumes } from "../../engine/host-path";
import { pathText } from "../../engine/pod-spec";
import type { Finding, Rule } from "../../engine/rule";
import { cannotProve, containerFindings } from "../../engine/rule";
import { celStrings, everyContainerCel, VOLUMES } from "../../engine/cel";
import {
    commandTunCel,
    commandTuns,
    envBadCel,
    envValue,
    isTailscaleContainer,
    KERNEL_MODE_VALUES,
    tailscaleContainerCel,
    tunOverride,
    tunOverrideCel,
    USERSPACE_TUN,
} from "../../engine/tailscale";
import { isUnknown, read, readList, UNKNOWN } from "../../engine/unknown";

/** Tailscale inside the cluster runs in userspace mode with in-pod state: no tun device, nothing on the host. */
export const tailscaleUserspaceOnly: Rule = {
    id: "tailscale-userspace-only",
    description:
        "Tailscale containers must run in userspace mode (TS_USERSPACE not false, no --tun in TS_TAILSCALED_EXTRA_ARGS), without /dev/net/tun or host-path state.",
    remediation:
        'Leave TS_USERSPACE unset (it defaults to true), drop the tun device, and keep state in memory (TS_KUBE_SECRET="") ' + "or in a Kubernetes Secret.",
    enforcementLevel: "mandatory",
    check(obj) {
        return containerFindings(obj, "runs Tailscale in userspace mode", (c, pod) => {
            if (!isTailscaleContainer(c.container)) return [];
            const findings: Finding[] = [];
            const userspace = envValue(c.container, "TS_USERSPACE");
            if (userspace === UNKNOWN) {
                findings.push({
                    detail: `cannot prove container "${c.name}" keeps TS_USERSPACE true: its value is not known until the update runs (or is set outside the manifest: valueFrom, envFrom, a $(VAR) reference)`,
                    unknown: true,
                });
            } else if (userspace !== undefined && (KERNEL_MODE_VALUES as readonly string[]).includes(userspace)) {
                findings.push({
                    detail: `container "${c.name}" sets TS_USERSPACE=${userspace}: kernel mode rewrites the node's routes and firewall`,
                    unknown: false,
                });
            }
            const daemonArgs = envValue(c.container, "TS_TAILSCALED_EXTRA_ARGS");
            if (daemonArgs === UNKNOWN) {
                findings.push({
                    detail: `cannot prove container "${c.name}" leaves tailscaled in userspace mode: TS_TAILSCALED_EXTRA_ARGS is not known until the update runs (or is set outside the manifest: valueFrom, envFrom, a $(VAR) reference)`,
                    unknown: true,
                });
            } else if (daemonArgs !== undefined) {
                const tun = tunOverride(daemonArgs);
                if (tun !== undefined && tun !== USERSPACE_TUN) {
                    findings.push({
                        detail: `container "${c.name}" gives tailscaled --tun=${tun} in TS_TAILSCALED_EXTRA_ARGS, which overrides userspace mode: a tun device is kernel mode`,
                        unknown: false,
                    });
                }
            }
            const command = readList(c.container, "command");
            const args = readList(c.container, "args");
            if (command === UNKNOWN || args === UNKNOWN || [...command, ...args].some(isUnknown)) {
                findings.push(cannotProve([...c.path, "command"], "starts tailscaled in userspace mode"));
            } else {
                for (const tun of commandTuns([...command, ...args].filter((w): w is string => typeof w === "string"))) {
                    if (tun !== USERSPACE_TUN) {
                        findings.push({
                            detail: `container "${c.name}" starts tailscaled with --tun=${tun} in its command line: a tun device is kernel mode (use --tun=${USERSPACE_TUN})`,
                            unknown: false,
                        });
                    }
                }
            }
            const mounts = readList(c.container, "volumeMounts");
            if (mounts === UNKNOWN) return [...findings, cannotProve([...c.path, "volumeMounts"], "mount nothing from the host")];
            const volumes = hostPathVolumes(pod);
            mounts.forEach((m, i) => {
                const mountPath = read(m, "mountPath");
                const mountRef = pathText([...c.path, "volumeMounts", i]);
                if (mountPath === "/dev/net/tun") {
                    findings.push({ detail: `container "${c.name}" mounts /dev/net/tun (${mountRef}): the tun device is kernel mode`, unknown: false });
                    return;
                }
                if (volumes === UNKNOWN) {
                    findings.push(cannotProve([...pod.path, "volumes"], "back this mount with no host path"));
                    return;
                }
                const hostVolume = volumes.find((v) => v.name === read(m, "name"));
                if (hostVolume !== undefined) {
                    const host = hostVolume.raw === UNKNOWN ? "an unknown host path" : `host path ${JSON.stringify(hostVolume.raw)}`;
                    findings.push({
                        detail: `container "${c.name}" mounts ${host} at ${String(mountPath)} (${mountRef}): Tailscale state on the host outlives the pod`,
                        unknown: hostVolume.raw === UNKNOWN,
                    });
                }
            });
            return findings;
        });
    },
    admission: {
        expression: everyContainerCel(
            `!${tailscaleContainerCel} || !(` +
                `${envBadCel("TS_USERSPACE", (v) => `${v} in ${celStrings(KERNEL_MODE_VALUES)}`)} || ` +
                `${envBadCel("TS_TAILSCALED_EXTRA_ARGS", tunOverrideCel)} || ` +
                `${commandTunCel('((has(c.command) ? c.command : []) + (has(c.args) ? c.args : [])).join(" ")')} || ` +
                `(has(c.volumeMounts) && c.volumeMounts.exists(m, m.mountPath == "/dev/net/tun" || ${VOLUMES}.exists(v, v.name == m.name && has(v.hostPath)))))`,
        ),
        message:
            "Tailscale containers must run in userspace mode (no TS_USERSPACE=false, no --tun in TS_TAILSCALED_EXTRA_ARGS) without /dev/net/tun or host-path state",
    },
};
