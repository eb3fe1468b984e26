import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { KubernetesTarget } from "../config/stack-config";

/**
 * Provider settings for the stack's Kubernetes target: a render directory
 * (manifests written to files, no cluster contacted) or a cluster reached
 * through the kubeconfig secret.
 */
export function kubernetesProviderArgs(target: KubernetesTarget, kubeconfig?: pulumi.Output<string>): k8s.ProviderArgs {
    if (target.mode === "render") {
        return { renderYamlToDirectory: target.renderDir };
    }
    if (kubeconfig === undefined) {
        throw new Error('kubernetes.mode "cluster" needs the kubeconfig secret');
    }
    return { kubeconfig, ...(target.context === undefined ? {} : { context: target.context }) };
}
