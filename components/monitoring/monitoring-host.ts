import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { STACK_KEYS, type MonitoringHostConfig, type RawStackConfig } from "../config/stack-config";
import { remoteConnection } from "../nodes/node-change";
import { stepCommand } from "../nodes/scripts/shell";
import { installScript, removeScript, STDIN_SECRETS, type MonitoringHostSpec } from "./host-scripts";

/**
 * The stack file oceanid-health serve reads on the monitoring host: the stack's plain settings as
 * written, each secret only marked as set (the exporter needs none of them, and none leaves the stack).
 */
export function exporterStackFile(raw: RawStackConfig): string {
    const config: Record<string, unknown> = {};
    for (const key of STACK_KEYS) if (raw[key] !== undefined) config[`oceanid:${key}`] = raw[key];
    for (const [name, set] of Object.entries(raw.secretsSet)) if (set) config[`oceanid:${name}`] = { secure: "kept in the Pulumi stack" };
    return `# oceanid-health serve's copy of stack ${raw.stack}, written by the program: plain settings only.\n${stringify({ config })}`;
}

/** Install-step stdin: each secret base64 on a line of its own, in STDIN_SECRETS order (empty: not set). */
export function stdinLines(secrets: Record<(typeof STDIN_SECRETS)[number], string | undefined>): string {
    return STDIN_SECRETS.map((name) => Buffer.from(secrets[name] ?? "", "utf8").toString("base64")).join("\n") + "\n";
}

export interface MonitoringHostArgs {
    host: MonitoringHostConfig;
    /** dist/oceanid-health.bundle.cjs (npm run build), read by index.ts. */
    exporterBundle: Buffer;
    exporterBundlePath: string;
    stackFile: string;
    rulesFile: string;
    secrets: {
        sshPrivateKey: pulumi.Input<string>;
        /** The exporter's own, read-only (ExporterIdentity). */
        kubeconfig: pulumi.Input<string>;
        pagerUrl: pulumi.Input<string>;
        heartbeatUrl: pulumi.Input<string>;
        /** When the exit node is managed: the exporter asks the control server about it. */
        tailnetApiKey?: pulumi.Input<string>;
    };
}

/** What the component renders, from plain data: kept apart so tests read it without a runtime. */
export function monitoringHostSpec(
    args: Omit<MonitoringHostArgs, "secrets" | "exporterBundle" | "exporterBundlePath"> & { bundleSha256: string; tailnetKey: boolean },
): MonitoringHostSpec {
    return {
        host: args.host.address,
        releases: args.host.releases,
        exporter: { remotePath: `/tmp/oceanid-health-${args.bundleSha256.slice(0, 16)}.cjs`, sha256: args.bundleSha256 },
        stackFile: args.stackFile,
        rulesFile: args.rulesFile,
        intervalSeconds: args.host.intervalSeconds,
        readyTimeoutSeconds: args.host.readyTimeoutSeconds,
        tailnetKey: args.tailnetKey,
    };
}

/**
 * The monitoring host outside the cluster (docs/monitoring.md, Where it runs): oceanid-health serve,
 * Prometheus with the oceanid rules, and Alertmanager paging through the pager's webhook with the
 * dead man's switch to a heartbeat service, as systemd units installed over SSH. The exporter is
 * copied, then the install checks it, stages and checks the configs, restarts, and puts the last
 * install back unless everything is ready.
 */
export class MonitoringHost extends pulumi.ComponentResource {
    readonly installed: command.remote.Command;

    constructor(name: string, args: MonitoringHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:monitoring:MonitoringHost", name, {}, opts);
        const { host } = args;
        const bundleSha256 = createHash("sha256").update(args.exporterBundle).digest("hex");
        const spec = monitoringHostSpec({ ...args, bundleSha256, tailnetKey: args.secrets.tailnetApiKey !== undefined });
        const connection = remoteConnection({
            host: host.address,
            port: host.ssh.port,
            user: host.ssh.user,
            hostKey: host.ssh.hostKey,
            privateKey: args.secrets.sshPrivateKey,
        });
        const copied = new command.remote.CopyToRemote(
            `${name}-exporter`,
            { connection, source: new pulumi.asset.FileAsset(args.exporterBundlePath), remotePath: spec.exporter.remotePath, triggers: [bundleSha256] },
            { parent: this },
        );
        const script = installScript(spec);
        const s = args.secrets;
        const stdin = pulumi
            .all([s.kubeconfig, s.pagerUrl, s.heartbeatUrl, s.tailnetApiKey])
            .apply(([kubeconfig, pager, heartbeat, tailnet]) =>
                stdinLines({ kubeconfig, "pager-url": pager, "heartbeat-url": heartbeat, "tailnet-api-key": tailnet }),
            );
        this.installed = new command.remote.Command(
            `${name}-install`,
            {
                connection,
                create: stepCommand(script, { user: host.ssh.user, timeoutSeconds: 600 }),
                delete: stepCommand(removeScript(), { user: host.ssh.user, timeoutSeconds: 120 }),
                stdin: pulumi.secret(stdin),
                // The script holds no secret; a changed secret alone runs it again too.
                triggers: [createHash("sha256").update(script).digest("hex"), pulumi.secret(stdin.apply((t) => createHash("sha256").update(t).digest("hex")))],
            },
            { parent: this, dependsOn: [copied] },
        );
        this.registerOutputs({});
    }
}
