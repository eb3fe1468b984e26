// The oceanid cluster. This is the only file that reads stack config; it hands
// the raw values to parseStackConfig and builds the components from the result.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tailscale from "@pulumi/tailscale";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GuardrailsAdmission } from "./components/admission/guardrails-admission";
import { StackConfigError } from "./components/config/problems";
import { exitNodeOf, parseStackConfig, SECRET_NAMES, serverUrl, STACK_KEYS, type RawStackConfig, type StackSettings } from "./components/config/stack-config";
import { EgressGateway } from "./components/network/egress-gateway";
import { TailnetAccess } from "./components/network/tailnet-access";
import { AlertRules } from "./components/monitoring/alert-rules";
import { EGRESS_GATEWAY_DEPLOYMENT } from "./components/health/egress-gateway-name";
import { ExporterIdentity } from "./components/monitoring/exporter-identity";
import { exporterStackFile, MonitoringHost } from "./components/monitoring/monitoring-host";
import { ClusterNode } from "./components/nodes/cluster-node";
import { ExitNode } from "./components/nodes/exit-node";
import { rolloutOrder } from "./components/nodes/rollout-order";
import { commandPluginProblem } from "./components/platform/command-plugin";
import { kubernetesProviderArgs } from "./components/platform/kubernetes-provider";
import { loadGuardConfig } from "./policies/engine/guard-config";
import { RULES } from "./policies/rules";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS shared with the launchers
const { buildProblem } = require("./policies/cli/compiled.cjs") as { buildProblem(root: string): string | undefined };

const config = new pulumi.Config("oceanid");

/** A config value as written: objects and lists are stored as JSON, plain strings as they are. */
function readValue(key: string): unknown {
    const text = config.get(key);
    if (text === undefined) return undefined;
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

const raw: RawStackConfig = {
    ...Object.fromEntries(STACK_KEYS.map((key) => [key, readValue(key)])),
    stack: pulumi.getStack(),
    // Only whether each secret is set; the values stay Outputs marked secret.
    secretsSet: Object.fromEntries(SECRET_NAMES.map((name) => [name, config.getSecret(name) !== undefined])),
};

function readSettings(): StackSettings {
    try {
        return parseStackConfig(raw);
    } catch (err) {
        // RunError ends the program with just the message: no stack trace for a config mistake.
        if (err instanceof StackConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

const settings = readSettings();
// Before any resource: without the plugin the engine would fail on the first node command.
if (settings.nodeAccess === "ssh") {
    const problem = commandPluginProblem(process.env);
    if (problem !== undefined) throw new pulumi.RunError(problem);
}

const provider = new k8s.Provider(
    "oceanid",
    kubernetesProviderArgs(settings.kubernetes, settings.kubernetes.mode === "cluster" ? config.requireSecret("kubeconfig") : undefined),
);

// The kubeconfig context the node changes' local steps use (the kubeconfig's current one when unset).
const kubeContext = settings.kubernetes.mode === "cluster" && settings.kubernetes.context !== undefined ? { context: settings.kubernetes.context } : {};

// Node changes go one node at a time in rollout order (server, canary, the rest),
// each starting only after the previous node's change is confirmed.
const server = settings.nodes.find((n) => n.role === "server")!;
const nodeSecrets =
    settings.nodeAccess === "ssh"
        ? { sshPrivateKey: config.requireSecret("sshPrivateKey"), k3sToken: config.requireSecret("k3sToken"), kubeconfig: config.requireSecret("kubeconfig") }
        : undefined;
let previous: pulumi.Resource | undefined;
for (const node of rolloutOrder(settings.nodes)) {
    const clusterNode = new ClusterNode(node.name, {
        node,
        provider,
        // Only a cluster has a Node to read: the taints others set are kept from it.
        readLive: settings.kubernetes.mode === "cluster",
        ...(nodeSecrets === undefined
            ? {}
            : {
                  k3s: {
                      server,
                      serverUrl: serverUrl(settings),
                      settings: settings.nodeChanges,
                      secrets: nodeSecrets,
                      ...kubeContext,
                      ...(previous === undefined ? {} : { after: previous }),
                  },
              }),
    });
    previous = clusterNode.k3sConfirmed;
}

// The exit node's host Tailscale: one more gated, self-reverting node change, after every k3s change.
const exitNodeHost = settings.exitNodeHost;
if (exitNodeHost !== undefined && nodeSecrets !== undefined) {
    const node = exitNodeOf(settings)!;
    new ExitNode(`${node.name}-exit-node`, {
        node,
        host: exitNodeHost,
        address: settings.egress.exitNode,
        settings: settings.nodeChanges,
        leftoversScript: readFileSync(join(__dirname, "scripts", "recovery", "remove-tailscale-leftovers"), "utf8"),
        apiUrl: node.role === "server" ? "https://127.0.0.1:6443" : serverUrl(settings),
        secrets: {
            sshPrivateKey: nodeSecrets.sshPrivateKey,
            kubeconfig: nodeSecrets.kubeconfig,
            authKey: config.requireSecret("exitNodeAuthKey"),
            controlApiKey: config.requireSecret("tailscaleApiKey"),
        },
        ...kubeContext,
        ...(previous === undefined ? {} : { after: previous }),
    });
}

// The same guardrails as the policy pack, enforced by the API server itself.
const guard = loadGuardConfig(
    join(__dirname, "policies", "guard-config.yaml"),
    RULES.map((r) => r.id),
);
new GuardrailsAdmission("oceanid-guardrails", { rules: RULES, config: guard, excludedNamespaces: guard.admissionExcludedNamespaces, provider });

// The tailnet side (policy and auth key), when the stack manages it.
const tailnet =
    settings.egress.enabled && settings.egress.tailnet.manage
        ? new TailnetAccess("tailnet", {
              basePolicy: readFileSync(join(__dirname, settings.egress.tailnet.policyFile), "utf8"),
              policyFile: settings.egress.tailnet.policyFile,
              keyExpiryDays: settings.egress.tailnet.keyExpiryDays,
              ci: {
                  nodes: settings.nodes.map((n) => ({ name: n.name, tailscale: n.addresses.tailscale, sshPort: n.ssh.port })),
                  // The server URL always names its port; URL reports https's default (443) as "".
                  apiServer: { node: server.name, port: Number(new URL(serverUrl(settings)).port || 443) },
              },
              provider: new tailscale.Provider("tailscale", { apiKey: config.requireSecret("tailscaleApiKey"), tailnet: settings.egress.tailnet.name }),
          })
        : undefined;
// Rendered manifests never hold the key: there the Secret is made outside Pulumi.
const gatewayAuthKey = settings.kubernetes.mode === "cluster" ? (tailnet?.authKey ?? config.requireSecret("tailscaleAuthKey")) : undefined;

// Egress through Tailscale from the pod network, never from the host's.
const primaryAddress = (n: (typeof settings.nodes)[number]) => n.addresses.lan ?? n.addresses.public ?? n.addresses.tailscale!;
const gateway = settings.egress.enabled
    ? new EgressGateway(EGRESS_GATEWAY_DEPLOYMENT, {
          exitNode: settings.egress.exitNode,
          ...(gatewayAuthKey === undefined ? {} : { authKey: gatewayAuthKey }),
          namespace: settings.egress.gatewayNamespace,
          optInNamespaces: settings.egress.namespaces,
          apiServerAccess: settings.egress.apiServerNamespaces,
          apiServer: { address: primaryAddress(server) },
          probeSources: settings.nodes.map(primaryAddress),
          ...(settings.egress.image === undefined ? {} : { image: settings.egress.image }),
          ...(settings.egress.imageDigest === undefined ? {} : { imageDigest: settings.egress.imageDigest }),
          tailscaleLogs: settings.egress.tailscaleLogs,
          provider,
      })
    : undefined;

// The monitoring host outside the cluster: oceanid-health serve, Prometheus and Alertmanager over SSH.
const rulesFile = () => readFileSync(join(__dirname, "components", "monitoring", "oceanid.rules.yaml"), "utf8");
const monitoringHost = settings.monitoringHost;
if (monitoringHost !== undefined) {
    // The host runs the compiled exporter: one older than the sources would report what nobody reviewed.
    const problem = buildProblem(__dirname);
    if (problem !== undefined) throw new pulumi.RunError(`monitoringHost: ${problem}: run npm run build`);
    const bundlePath = join(__dirname, "dist", "oceanid-health.bundle.cjs");
    // The host holds a read-only identity's token, never the stack's admin kubeconfig.
    const identity = new ExporterIdentity(
        "monitoring-identity",
        {
            ...(settings.egress.enabled ? { gatewayNamespace: settings.egress.gatewayNamespace } : {}),
            adminKubeconfig: config.requireSecret("kubeconfig"),
            ...kubeContext,
            provider,
        },
        // Its Role in the gateway's namespace needs the namespace.
        { dependsOn: gateway === undefined ? [] : [gateway] },
    );
    new MonitoringHost("monitoring-host", {
        host: monitoringHost,
        exporterBundle: readFileSync(bundlePath),
        exporterBundlePath: bundlePath,
        stackFile: exporterStackFile(raw),
        rulesFile: rulesFile(),
        secrets: {
            sshPrivateKey: config.requireSecret("sshPrivateKey"),
            kubeconfig: identity.kubeconfig,
            pagerUrl: config.requireSecret("monitoringPagerUrl"),
            heartbeatUrl: config.requireSecret("monitoringHeartbeatUrl"),
            ...(settings.exitNodeHost === undefined ? {} : { tailnetApiKey: config.requireSecret("tailscaleApiKey") }),
        },
    });
}

// The alert rules on oceanid-health's metrics, for a Prometheus run by prometheus-operator.
const alertRules = settings.monitoring.alertRules;
if (alertRules !== undefined) {
    new AlertRules("oceanid-alerts", {
        rulesFile: rulesFile(),
        namespace: alertRules.namespace,
        labels: alertRules.labels,
        provider,
    });
}

export const egressProxyEnv = gateway?.proxyEnv;
export const nodes = settings.nodes.map((n) => ({ name: n.name, role: n.role, k3sVersion: n.k3sVersion, canary: n.canary }));
export const nodeRolloutOrder = rolloutOrder(settings.nodes).map((n) => n.name);
export const kubernetesTarget = settings.kubernetes.mode === "render" ? `render:${settings.kubernetes.renderDir}` : "cluster";
/** Nodes changed over SSH with no out-of-band access, and why: kept visible in every stack's outputs. */
export const nodesWithoutOutOfBand = Object.fromEntries(
    settings.nodes.flatMap((n) => (n.unsafeNoOutOfBand === undefined ? [] : [[n.name, n.unsafeNoOutOfBand]])),
);
