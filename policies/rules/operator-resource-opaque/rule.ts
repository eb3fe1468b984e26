import { apiGroup } from "../../engine/pod-spec";
import type { Rule } from "../../engine/rule";

/** Operator resources whose pods a controller renders in the cluster, where no gate reads them first, and what each one hides. */
const OPAQUE: ReadonlyArray<{ group: string; kinds: readonly string[]; hides: string }> = [
    { group: "helm.cattle.io", kinds: ["HelmChart", "HelmChartConfig"], hides: "k3s's helm controller renders the chart's objects in the cluster" },
    { group: "nvidia.com", kinds: ["ClusterPolicy"], hides: "the GPU operator renders its privileged, host-path driver and toolkit DaemonSets in the cluster" },
    {
        group: "tailscale.com",
        kinds: ["Connector", "ProxyGroup"],
        hides: "the Tailscale operator renders its proxy StatefulSets (subnet routers, exit nodes, egress) in the cluster",
    },
];

export const operatorResourceOpaque: Rule = {
    id: "operator-resource-opaque",
    description:
        "k3s HelmChart and HelmChartConfig, the NVIDIA GPU operator's ClusterPolicy and the Tailscale operator's Connector and ProxyGroup make pods that no gate sees before they run.",
    remediation:
        "Render what the operator will create and check it with oceanid-guard (helm template for a HelmChart), and keep the operator's own namespace under admission, " +
        "which judges the pods it creates; the finding is advisory.",
    enforcementLevel: "advisory",
    check(obj) {
        const entry = OPAQUE.find((o) => o.group === apiGroup(obj.apiVersion) && o.kinds.includes(obj.kind));
        if (entry === undefined) return [];
        return [{ detail: `${entry.hides}, out of sight of preview and of oceanid-guard`, unknown: false }];
    },
    admission: {
        none: "advisory; the pods these operators create are themselves judged by admission when the operator creates them",
    },
};
