// The monitoring host in stack config: pinned releases, a host that is none of the nodes, the
// API server to read, and the receivers' URLs as secrets.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../components/config/stack-config";
import { problemsOf, validRaw } from "../fixtures/stack-config";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGFppaNk5AuY3v0liC69Fy1sjXaQnwx5LEoh0dG7B2q";
const release = (name: string, version: string) => ({ version, url: `https://example.test/${name}-${version}.linux-amd64.tar.gz`, sha256: "b".repeat(64) });
const RELEASES = { node: release("node", "24.9.0"), prometheus: release("prometheus", "3.16.0"), alertmanager: release("alertmanager", "0.28.1") };
const withMonitoringHost = (host: Record<string, unknown> = {}) => {
    const raw = validRaw() as ReturnType<typeof validRaw> & { monitoringHost?: unknown };
    raw.monitoringHost = { address: "203.0.113.9", ssh: { user: "oceanid", hostKey: HOST_KEY }, releases: RELEASES, ...host };
    raw.secretsSet = { ...raw.secretsSet, monitoringPagerUrl: true, monitoringHeartbeatUrl: true };
    return raw;
};

describe("stack config: monitoringHost", () => {
    it("is accepted with its defaults", () => {
        expect(parseStackConfig(withMonitoringHost()).monitoringHost).toEqual({
            address: "203.0.113.9",
            ssh: { user: "oceanid", port: 22, hostKey: HOST_KEY },
            releases: RELEASES,
            intervalSeconds: 15,
            readyTimeoutSeconds: 90,
        });
    });

    it("names each bad field and how to fix it", () => {
        const raw = withMonitoringHost({
            address: "not a host",
            ssh: { user: "Root", hostKey: "AAAA" },
            releases: { ...RELEASES, prometheus: { version: "v3", url: "http://example.test/p.zip", sha256: "abc" } },
            intervalSeconds: 0,
        });
        expect(problemsOf(raw)).toEqual([
            'monitoringHost.address: "not a host" is not a host name or IP address',
            'monitoringHost.ssh.user: "Root" is not a valid Unix user name',
            `monitoringHost.ssh.hostKey: "AAAA" is not an SSH host key: paste the key part of 'ssh-keyscan -t ed25519 <host>' (e.g. "ssh-ed25519 AAAAC3...")`,
            'monitoringHost.releases.prometheus.version: "v3" is not a Prometheus version: use e.g. 3.16.0',
            `monitoringHost.releases.prometheus.url: "http://example.test/p.zip" is not an https:// URL of a .tar.gz or .tar.xz (Prometheus's release tarball)`,
            `monitoringHost.releases.prometheus.sha256: "abc" is not a sha256: use the 64 hex digits of the tarball's sha256sum`,
            expect.stringMatching(/^monitoringHost\.intervalSeconds: /),
        ]);
    });

    it("refuses a cluster node as the monitoring host, by any of its addresses", () => {
        for (const address of ["157.173.210.123", "100.121.150.65"]) {
            expect(problemsOf(withMonitoringHost({ address }))).toEqual([
                `monitoringHost.address: "${address}" is srv712429's: monitoring on a cluster node goes down with it (docs/monitoring.md, Where it runs); use a host outside the cluster`,
            ]);
        }
    });

    it("needs the API server and both receivers' URLs", () => {
        const raw = withMonitoringHost();
        raw.nodeAccess = "none";
        raw.kubernetes = { mode: "render", renderDir: "rendered/test" };
        raw.secretsSet = { tailscaleAuthKey: true };
        expect(problemsOf(raw)).toEqual([
            'monitoringHost: set, but kubernetes.mode is "render": its exporter reads the nodes from the API server; use mode "cluster" or remove monitoringHost',
            "sshPrivateKey: not set; monitoringHost is installed over SSH with it: pulumi config set --secret oceanid:sshPrivateKey (value on stdin)",
            "monitoringPagerUrl: not set; monitoringHost's Alertmanager sends every alert but Watchdog to it (the pager's webhook URL): pulumi config set --secret oceanid:monitoringPagerUrl (value on stdin)",
            "monitoringHeartbeatUrl: not set; monitoringHost's Alertmanager sends the Watchdog alert to it every minute (a heartbeat service outside, which pages when it stops): pulumi config set --secret oceanid:monitoringHeartbeatUrl (value on stdin)",
        ]);
    });
});
