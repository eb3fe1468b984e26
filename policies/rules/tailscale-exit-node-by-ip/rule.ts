import { isTailscaleAddress } from "../../../lib/addresses";
import type { Finding, Rule } from "../../engine/rule";
import { containerFindings } from "../../engine/rule";
import { everyContainerCel } from "../../engine/cel";
import { envFromDetail, tailscaleAddressCel } from "../../engine/tailscale";
import { isTailscaleContainer, podVolumes, tailscaleContainerCel } from "../../engine/tailscale-command-lines";
import { exitNodeSettings, exitNodeSettingsBadCel } from "../../engine/tailscale-exit-node";

/** A valid --exit-node value in CEL: empty (clears it), auto:any, or a Tailscale IP. */
const validExitNodeCel = (v: string) => `(${v} == "" || ${v} == "auto:any" || ${tailscaleAddressCel(v)})`;

export const tailscaleExitNodeByIp: Rule = {
    id: "tailscale-exit-node-by-ip",
    description: "A Tailscale container's --exit-node must be a Tailscale IP (100.64.0.0/10, fd7a:115c:a1e0::/48) or auto:any.",
    remediation: "Name the exit node by its Tailscale IP ('tailscale ip -4' on the exit node), e.g. --exit-node=100.121.150.65, or use auto:any.",
    enforcementLevel: "mandatory",
    check(obj) {
        return containerFindings(obj, "sets no exit node by name", (c, pod) => {
            if (!isTailscaleContainer(c.container)) return [];
            const settings = exitNodeSettings(c.container, podVolumes(pod));
            const hidden = settings.flatMap((s) => ("unseen" in s && s.unseen.envFrom !== undefined ? [{ name: s.setting, unseen: s.unseen }] : []));
            const merged: Finding[] =
                hidden.length === 0
                    ? []
                    : [
                          {
                              detail: envFromDetail(
                                  c.name,
                                  "names its exit node by IP",
                                  hidden,
                                  (h) => `cannot prove container "${c.name}" names its exit node by IP: ${h.name} ${h.unseen.why}`,
                              ),
                              unknown: false,
                          },
                      ];
            return merged.concat(
                settings.flatMap((s): Finding[] => {
                    if ("unseen" in s && s.unseen.envFrom !== undefined) return [];
                    if ("unseen" in s) {
                        return [
                            { detail: `cannot prove container "${c.name}" names its exit node by IP: ${s.setting} ${s.unseen.why}`, unknown: s.unseen.pending },
                        ];
                    }
                    if (s.value === "" || s.value === "auto:any" || isTailscaleAddress(s.value)) return [];
                    return [
                        {
                            detail:
                                `container "${c.name}" sets --exit-node=${s.value} in ${s.where}; a name is not in the peer list when ` +
                                `the container first starts, so tailscale rejects it ("invalid value for --exit-node"), and a non-Tailscale IP ` +
                                "is never a peer: use the exit node's Tailscale IP or auto:any",
                            unknown: false,
                        },
                    ];
                }),
            );
        });
    },
    admission: {
        expression: everyContainerCel(`!${tailscaleContainerCel} || !${exitNodeSettingsBadCel(validExitNodeCel)}`),
        message:
            "a Tailscale container's --exit-node must be a Tailscale IP or auto:any, given as --exit-node=<value>, with no tailscaled config file and no value the manifest does not show",
    },
};
