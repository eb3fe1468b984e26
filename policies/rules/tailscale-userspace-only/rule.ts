import { hostPathVolumes } from "../../engine/host-path";
import { pathText } from "../../engine/pod-spec";
import type { Finding, Rule } from "../../engine/rule";
import { cannotProve, containerFindings } from "../../engine/rule";
import { celStrings, everyContainerCel, VOLUMES } from "../../engine/cel";
import {
    envBadCel,
    envFromDetail,
    envSetting,
    isUnseen,
    KERNEL_MODE_VALUES,
    tunOverride,
    tunOverrideCel,
    USERSPACE_TUN,
    type Unseen,
} from "../../engine/tailscale";
import {
    commandLines,
    commandLinesCel,
    commandTunCel,
    commandTuns,
    isTailscaleContainer,
    podVolumes,
    tailscaleContainerCel,
    unseenInLine,
    unseenInLineCel,
    unseenMounts,
} from "../../engine/tailscale-command-lines";
import { read, readList, UNKNOWN } from "../../engine/unknown";

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
            const hidden: Array<{ name: string; unseen: Unseen; text: string }> = [];
            const userspace = envSetting(c.container, "TS_USERSPACE");
            if (isUnseen(userspace)) {
                const text = `cannot prove container "${c.name}" keeps TS_USERSPACE true: TS_USERSPACE ${userspace.why}`;
                if (userspace.envFrom !== undefined) hidden.push({ name: "TS_USERSPACE", unseen: userspace, text });
                else findings.push({ detail: text, unknown: userspace.pending });
            } else if (userspace !== undefined && (KERNEL_MODE_VALUES as readonly string[]).includes(userspace)) {
                findings.push({
                    detail: `container "${c.name}" sets TS_USERSPACE=${userspace}: kernel mode needs the node's tun device and NET_ADMIN, and rewrites the routes and firewall of whatever network the pod shares (the node's, on the host network)`,
                    unknown: false,
                });
            }
            const daemonArgs = envSetting(c.container, "TS_TAILSCALED_EXTRA_ARGS");
            if (isUnseen(daemonArgs)) {
                const text = `cannot prove container "${c.name}" leaves tailscaled in userspace mode: TS_TAILSCALED_EXTRA_ARGS ${daemonArgs.why}`;
                if (daemonArgs.envFrom !== undefined) hidden.push({ name: "TS_TAILSCALED_EXTRA_ARGS", unseen: daemonArgs, text });
                else findings.push({ detail: text, unknown: daemonArgs.pending });
            } else if (daemonArgs !== undefined) {
                const tun = tunOverride(daemonArgs);
                if (tun !== undefined && tun !== USERSPACE_TUN) {
                    findings.push({
                        detail: `container "${c.name}" gives tailscaled --tun=${tun} in TS_TAILSCALED_EXTRA_ARGS, which overrides userspace mode: a tun device is kernel mode`,
                        unknown: false,
                    });
                }
            }
            if (hidden.length > 0) {
                findings.unshift({
                    detail: envFromDetail(c.name, "runs Tailscale in userspace mode", hidden, (h) => h.text),
                    unknown: false,
                });
            }
            const unseenFiles = unseenMounts(c.container, podVolumes(pod));
            for (const line of commandLines(c.container)) {
                const unseen = unseenInLine(line, unseenFiles);
                if (unseen !== undefined) {
                    findings.push({
                        detail: `cannot prove container "${c.name}" starts tailscaled in userspace mode: its ${line.where} ${unseen.why}`,
                        unknown: unseen.pending,
                    });
                    continue;
                }
                for (const tun of commandTuns(line.words as readonly string[])) {
                    if (tun !== USERSPACE_TUN) {
                        findings.push({
                            detail: `container "${c.name}" starts tailscaled with --tun=${tun} in its ${line.where}: a tun device is kernel mode (use --tun=${USERSPACE_TUN})`,
                            unknown: false,
                        });
                    }
                }
            }
            const mounts = readList(c.container, "volumeMounts");
            if (mounts === UNKNOWN) return [...findings, cannotProve([...c.path, "volumeMounts"], "mount nothing from the host")];
            const hostVolumes = hostPathVolumes(pod);
            mounts.forEach((m, i) => {
                const mountPath = read(m, "mountPath");
                const mountRef = pathText([...c.path, "volumeMounts", i]);
                if (mountPath === "/dev/net/tun") {
                    findings.push({ detail: `container "${c.name}" mounts /dev/net/tun (${mountRef}): the tun device is kernel mode`, unknown: false });
                    return;
                }
                if (hostVolumes === UNKNOWN) {
                    findings.push(cannotProve([...pod.path, "volumes"], "back this mount with no host path"));
                    return;
                }
                const hostVolume = hostVolumes.find((v) => v.name === read(m, "name"));
                if (hostVolume !== undefined) {
                    const host = hostVolume.raw === UNKNOWN ? "an unknown host path" : `host path ${JSON.stringify(hostVolume.raw)}`;
                    findings.push({
                        detail: `container "${c.name}" mounts ${host} at ${String(mountPath)} (${mountRef}): ${String(mountPath).startsWith("/dev") ? "the node's devices, the tun device among them, reach past the pod" : "Tailscale state on the host outlives the pod and is shared with whatever else mounts it"}`,
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
                `${commandLinesCel}.exists(l, ${unseenInLineCel('l.join(" ")')} || ${commandTunCel('l.join(" ")')}) || ` +
                `(has(c.volumeMounts) && c.volumeMounts.exists(m, m.mountPath == "/dev/net/tun" || ${VOLUMES}.exists(v, v.name == m.name && has(v.hostPath)))))`,
        ),
        message:
            "Tailscale containers must run in userspace mode (no TS_USERSPACE=false, no --tun in TS_TAILSCALED_EXTRA_ARGS or a command line, no setting the manifest does not show) without /dev/net/tun or host-path state",
    },
};
