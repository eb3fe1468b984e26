import type { Rule } from "../../engine/rule";
import { describeObject } from "../../engine/kube-object";

/** Helm releases whose objects are rendered where no gate can see them before they are applied. */
export const helmReleaseOpaque: Rule = {
    id: "helm-release-opaque",
    description: "helm.sh/v3 Release (and Flux HelmRelease) objects hide their manifests from preview, so the other rules cannot check them.",
    remediation:
        "Use kubernetes:helm.sh/v4:Chart, whose objects are registered one by one and checked by every rule, " +
        "or render the chart (helm template) and check the output with oceanid-guard.",
    enforcementLevel: "advisory",
    check(obj) {
        const pulumiRelease = obj.apiVersion === "helm.sh/v3" && obj.kind === "Release";
        const fluxRelease = obj.apiVersion.startsWith("helm.toolkit.fluxcd.io/") && obj.kind === "HelmRelease";
        if (!pulumiRelease && !fluxRelease) return [];
        return [{ detail: `${describeObject(obj)} renders its manifests out of sight of preview and of these guardrails`, unknown: false }];
    },
    admission: { none: "advisory, and about Pulumi's Release resource and Flux's HelmRelease, which carry no pod spec for the API server to check" },
};
