import { describe, expect, it } from "vitest";
import { parseStackConfig, SECRET_NAMES, serverUrl } from "../../components/config/stack-config";
import { problemsOf, validRaw } from "../fixtures/stack-config";
import { rawFromStackFile, readStackFile } from "../helpers/stack-file";

describe("parseStackConfig: the compliant fixture", () => {
    it("is accepted, with defaults filled in", () => {
        const s = parseStackConfig(validRaw());
        expect(s.stack).toBe("test");
        expect(s.nodes.map((n) => [n.name, n.role, n.canary])).toEqual([
            ["srv712429", "server", false],
            ["srv712695", "agent", true],
            ["calypso", "agent", false],
        ]);
        expect(s.nodes[0].ssh.port).toBe(22);
        expect(s.nodes[0].labels).toEqual({});
        expect(s.nodes[0].taints).toEqual([]);
        expect(s.egress.enabled).toBe(true);
        // Log upload to Tailscale is a decision: off unless the stack says "upload".
        expect(s.egress.tailscaleLogs).toBe("off");
    });
});

describe("parseStackConfig: k3s versions and skew", () => {
    it("rejects the incident's observed mix: an agent newer than its server", () => {
        const raw = validRaw();
        raw.nodes[1].k3sVersion = "v1.33.5+k3s1";
        expect(problemsOf(raw)).toEqual([
            "nodes[1].k3sVersion: v1.33.5+k3s1 is newer than the server's v1.33.4+k3s1 (srv712429); agents must not be newer than the server",
        ]);
    });

    it("counts the k3s revision: +k3s2 is newer than +k3s1 of the same release", () => {
        const raw = validRaw();
        raw.nodes[2].k3sVersion = "v1.33.4+k3s2";
        expect(problemsOf(raw)).toEqual([
            "nodes[2].k3sVersion: v1.33.4+k3s2 is newer than the server's v1.33.4+k3s1 (srv712429); agents must not be newer than the server",
        ]);
    });

    it("accepts an agent one minor release behind and rejects two", () => {
        const oneBehind = validRaw();
        oneBehind.nodes[2].k3sVersion = "v1.32.9+k3s1";
        expect(problemsOf(oneBehind)).toEqual([]);

        const twoBehind = validRaw();
        twoBehind.nodes[2].k3sVersion = "v1.31.9+k3s1";
        expect(problemsOf(twoBehind)).toEqual([
            "nodes[2].k3sVersion: v1.31.9+k3s1 is more than one minor release behind the server's v1.33.4+k3s1 (srv712429); agents may be at most one minor release older than the server",
        ]);
    });

    it("rejects a version that is not vX.Y.Z+k3sN", () => {
        const raw = validRaw();
        raw.nodes[0].k3sVersion = "1.33.4";
        expect(problemsOf(raw)).toEqual(['nodes[0].k3sVersion: "1.33.4" is not a k3s release version: use the form v1.33.4+k3s1']);
    });
});

describe("parseStackConfig: roles, canary and names", () => {
    it("requires exactly one server", () => {
        const two = validRaw();
        two.nodes[2].role = "server";
        expect(problemsOf(two)).toEqual(['nodes: 2 nodes have role "server" (srv712429, calypso); exactly one must']);

        const none = validRaw();
        none.nodes[0].role = "agent";
        expect(problemsOf(none)).toEqual(['nodes: 0 nodes have role "server" (none); exactly one must']);
    });

    it("requires exactly one canary agent", () => {
        const none = validRaw();
        delete none.nodes[1].canary;
        expect(problemsOf(none)).toEqual(['nodes: 0 agents are marked canary (none); mark exactly one agent "canary: true" so changes reach one node first']);

        const two = validRaw();
        two.nodes[2].canary = true;
        expect(problemsOf(two)).toEqual([
            'nodes: 2 agents are marked canary (srv712695, calypso); mark exactly one agent "canary: true" so changes reach one node first',
        ]);
    });

    it("refuses a server as canary", () => {
        const raw = validRaw();
        raw.nodes[0].canary = true;
        expect(problemsOf(raw)).toEqual(["nodes[0].canary: srv712429 is a server; only an agent can be the canary"]);
    });

    it("requires unique node names", () => {
        const raw = validRaw();
        raw.nodes[2].name = "srv712695";
        expect(problemsOf(raw)).toEqual(['nodes[2].name: "srv712695" is already used by nodes[1]; node names must be unique']);
    });

    it("requires node names to be DNS labels", () => {
        const raw = validRaw();
        raw.nodes[2].name = "Calypso_GPU";
        expect(problemsOf(raw)).toEqual([
            "nodes[2].name: \"Calypso_GPU\" is not a valid node name: use lowercase letters, digits and '-', at most 63 characters",
        ]);
    });
});

describe("parseStackConfig: addresses", () => {
    it("rejects an address that is not an IP", () => {
        const raw = validRaw();
        raw.nodes[0].addresses.public = "157.173.210.300";
        expect(problemsOf(raw)).toEqual(['nodes[0].addresses.public: "157.173.210.300" is not an IP address']);
    });

    it("rejects a Tailscale address outside Tailscale's ranges", () => {
        const raw = validRaw();
        raw.nodes[1].addresses.tailscale = "10.0.0.5";
        expect(problemsOf(raw)).toEqual([
            "nodes[1].addresses.tailscale: \"10.0.0.5\" is not a Tailscale address: Tailscale assigns addresses in 100.64.0.0/10 or fd7a:115c:a1e0::/48 (see 'tailscale ip' on the node)",
        ]);
    });

    it("accepts Tailscale IPv6 addresses and the edges of 100.64.0.0/10", () => {
        const raw = validRaw();
        raw.nodes[1].addresses.tailscale = "fd7a:115c:a1e0::1234";
        raw.nodes[2].addresses.tailscale = "100.127.255.254";
        expect(problemsOf(raw)).toEqual([]);

        const justOutside = validRaw();
        justOutside.nodes[2].addresses.tailscale = "100.128.0.1";
        expect(problemsOf(justOutside)).toHaveLength(1);
    });

    it("rejects two nodes with one Tailscale address", () => {
        const raw = validRaw();
        raw.nodes[2].addresses.tailscale = "100.64.0.20";
        expect(problemsOf(raw)).toEqual(["nodes[2].addresses.tailscale: 100.64.0.20 is already the address of nodes[1] (srv712695); each node has its own"]);
    });

    it("rejects ssh.via naming an address the node does not have", () => {
        const raw = validRaw();
        raw.nodes[2].ssh.via = "public";
        expect(problemsOf(raw)).toEqual(['nodes[2].ssh.via: "public" but nodes[2].addresses.public is not set']);
    });

    it("rejects a host key that is not an OpenSSH public key", () => {
        const raw = validRaw();
        raw.nodes[1].ssh.hostKey = "SHA256:abc";
        expect(problemsOf(raw)).toEqual([
            'nodes[1].ssh.hostKey: "SHA256:abc" is not an SSH host key: paste the key part of \'ssh-keyscan -t ed25519 <host>\' (e.g. "ssh-ed25519 AAAAC3...")',
        ]);
    });

    it("requires out-of-band access notes", () => {
        const raw = validRaw();
        raw.nodes[2].outOfBand = "  ";
        expect(problemsOf(raw)).toEqual([
            'nodes[2].outOfBand: is empty: say how to reach this node when SSH is gone (console, provider API reboot, local access) (got "  ")',
        ]);
    });
});

describe("parseStackConfig: the egress exit node", () => {
    it("rejects the incident's short hostname with the reason", () => {
        const raw = validRaw();
        raw.egress.exitNode = "srv712429";
        expect(problemsOf(raw)).toEqual([
            'egress.exitNode: got "srv712429"; use the Tailscale IP (100.x.y.z) of the exit node or "auto:any": ' +
                'a name is not in the peer list when the gateway first starts, so tailscale rejects it ("invalid value for --exit-node")',
        ]);
    });

    it("rejects the exit node's public address", () => {
        const raw = validRaw();
        raw.egress.exitNode = "157.173.210.123";
        expect(problemsOf(raw)).toEqual([
            "egress.exitNode: 157.173.210.123 is not a Tailscale address (100.64.0.0/10 or fd7a:115c:a1e0::/48); use the exit node's Tailscale IP, not its public or LAN address",
        ]);
    });

    it("rejects a Tailscale IP that belongs to no node, which would drop egress silently", () => {
        const raw = validRaw();
        raw.egress.exitNode = "100.121.150.66";
        expect(problemsOf(raw)).toEqual([
            "egress.exitNode: 100.121.150.66 is not the Tailscale address of any node in nodes; a wrong address is accepted by tailscale and silently drops all egress, so name the exit node's address as one node's addresses.tailscale",
        ]);
    });

    it("accepts auto:any", () => {
        const raw = validRaw();
        raw.egress.exitNode = "auto:any";
        expect(problemsOf(raw)).toEqual([]);
    });
});

describe("parseStackConfig: egress namespaces and image", () => {
    it("refuses to force system namespaces or the gateway's own through the gateway", () => {
        const raw = validRaw();
        raw.egress.namespaces = ["apps", "kube-system", "egress-gateway"];
        expect(problemsOf(raw)).toEqual([
            'egress.namespaces[1]: "kube-system" is a system namespace; its pods need the cluster network, not the gateway',
            'egress.namespaces[2]: "egress-gateway" is the gateway\'s own namespace; it cannot send its egress through itself',
        ]);
    });

    it("allows API server access only for opted-in namespaces", () => {
        const raw = validRaw();
        raw.egress.apiServerNamespaces = ["workers"];
        expect(problemsOf(raw)).toEqual([
            'egress.apiServerNamespaces[0]: "workers" is not in egress.namespaces; only opted-in namespaces need an API server exception',
        ]);
    });

    it("wants the image pinned by tag, and a digest that is a digest", () => {
        const raw = validRaw();
        raw.egress.image = "tailscale/tailscale";
        raw.egress.imageDigest = "latest";
        expect(problemsOf(raw)).toEqual([
            'egress.image: "tailscale/tailscale" has no pinned tag: use e.g. tailscale/tailscale:v1.102.3',
            'egress.imageDigest: "latest" is not an image digest: use sha256:<64 hex digits>',
        ]);
    });

    it("needs the auth key only where the gateway is deployed to a cluster", () => {
        const raw = validRaw();
        raw.nodeAccess = "none";
        raw.kubernetes = { mode: "render", renderDir: "rendered/test" };
        raw.secretsSet = {};
        expect(problemsOf(raw)).toEqual([]);
        raw.kubernetes = { mode: "cluster" };
        raw.secretsSet = { kubeconfig: true };
        expect(problemsOf(raw)).toEqual([
            "tailscaleAuthKey: not set; the egress gateway joins the tailnet with it (or set egress.tailnet.manage): pulumi config set --secret oceanid:tailscaleAuthKey (value on stdin)",
        ]);
    });
});

describe("parseStackConfig: the tailnet side", () => {
    it("is off by default", () => {
        expect(parseStackConfig(validRaw()).egress.tailnet).toEqual({ manage: false, policyFile: "tailnet/policy.hujson", name: "-", keyExpiryDays: 90 });
    });

    it("when managed, needs the API key instead of an auth key", () => {
        const raw = validRaw();
        raw.kubernetes = { mode: "cluster" };
        raw.egress.tailnet = { manage: true };
        raw.secretsSet = { sshPrivateKey: true, k3sToken: true, kubeconfig: true };
        expect(problemsOf(raw)).toEqual([
            "tailscaleApiKey: not set; egress.tailnet.manage creates the gateway's auth key and policy with it: pulumi config set --secret oceanid:tailscaleApiKey (value on stdin)",
        ]);
    });

    it("when managed, needs every node's Tailscale IP: CI reaches the nodes only over the tailnet", () => {
        const raw = validRaw();
        raw.egress.tailnet = { manage: true };
        raw.secretsSet = { ...raw.secretsSet, tailscaleApiKey: true };
        delete raw.nodes[2].addresses.tailscale;
        expect(problemsOf(raw)).toEqual([
            "nodes[2].addresses.tailscale: calypso has none; egress.tailnet.manage grants CI SSH to every node over the tailnet: set it ('tailscale ip -4' on the node)",
        ]);
    });

    it("caps the key's lifetime at Tailscale's 90 days", () => {
        const raw = validRaw();
        raw.egress.tailnet = { manage: true, keyExpiryDays: 365 };
        expect(problemsOf(raw)).toEqual(["egress.tailnet.keyExpiryDays: must be at most 90 days (Tailscale's limit) (got 365)"]);
    });
});

describe("parseStackConfig: secrets and targets", () => {
    it("names every missing secret and how to set it", () => {
        const raw = validRaw();
        raw.kubernetes = { mode: "cluster" };
        raw.secretsSet = {};
        expect(problemsOf(raw)).toEqual([
            'sshPrivateKey: not set; nodeAccess "ssh" logs in to the nodes with it: pulumi config set --secret oceanid:sshPrivateKey (value on stdin)',
            'k3sToken: not set; nodeAccess "ssh" joins agents to the server with it: pulumi config set --secret oceanid:k3sToken (value on stdin)',
            'kubeconfig: not set; kubernetes.mode "cluster" deploys with it: pulumi config set --secret oceanid:kubeconfig (value on stdin)',
            "tailscaleAuthKey: not set; the egress gateway joins the tailnet with it (or set egress.tailnet.manage): pulumi config set --secret oceanid:tailscaleAuthKey (value on stdin)",
        ]);
    });

    it("needs no node secrets when nodeAccess is none", () => {
        const raw = validRaw();
        raw.nodeAccess = "none";
        raw.secretsSet = { tailscaleAuthKey: true, kubeconfig: true };
        expect(problemsOf(raw)).toEqual([]);
    });

    it("rejects an unknown kubernetes mode", () => {
        const raw = validRaw();
        raw.kubernetes = { mode: "apply" };
        expect(problemsOf(raw)).toEqual(["kubernetes.mode: Invalid discriminator value. Expected 'render' | 'cluster' (got \"apply\")"]);
    });
});

describe("parseStackConfig: shape errors", () => {
    it("names an unknown key so a typo cannot pass as a default", () => {
        const raw = validRaw();
        raw.nodes[0].adresses = raw.nodes[0].addresses;
        expect(problemsOf(raw)).toEqual(["nodes[0].adresses: unknown setting; remove it or fix its spelling"]);
    });

    it("names a missing required key", () => {
        const raw = validRaw();
        delete raw.nodes[1].ssh;
        expect(problemsOf(raw)).toEqual(["nodes[1].ssh: is required (expected object)"]);
    });

    it("quotes a bad enum value", () => {
        const raw = validRaw();
        raw.nodes[2].taints[0].effect = "NoScheduleX";
        expect(problemsOf(raw)).toEqual([
            'nodes[2].taints[0].effect: Invalid option: expected one of "NoSchedule"|"PreferNoSchedule"|"NoExecute" (got "NoScheduleX")',
        ]);
    });

    it("lists every problem in one error with a header naming the stack file", () => {
        const raw = validRaw();
        raw.nodes[0].addresses.public = "not-an-ip";
        raw.nodes[1].k3sVersion = "latest";
        let message = "";
        try {
            parseStackConfig(raw);
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).toBe(
            'stack "test" config has 2 problems (keys under "oceanid:" in Pulumi.test.yaml):\n' +
                '  - nodes[0].addresses.public: "not-an-ip" is not an IP address\n' +
                '  - nodes[1].k3sVersion: "latest" is not a k3s release version: use the form v1.33.4+k3s1',
        );
    });
});

describe("the bundled stack files", () => {
    it("dev parses", () => {
        const s = parseStackConfig(rawFromStackFile("dev"));
        expect(s.nodeAccess).toBe("none");
        expect(s.kubernetes).toEqual({ mode: "render", renderDir: "rendered/dev" });
    });

    it("prod names each placeholder and each secret still to set, and nothing else", () => {
        expect(problemsOf(rawFromStackFile("prod"))).toEqual([
            'nodes[0].ssh.user: placeholder "FILL-IN: SSH login user on srv712429 (needs sudo)" must be replaced with the real value',
            "nodes[0].ssh.hostKey: placeholder \"FILL-IN: key part of 'ssh-keyscan -t ed25519 157.173.210.123'\" must be replaced with the real value",
            'nodes[1].addresses.public: placeholder "FILL-IN: public IPv4 of srv712695 (styx)" must be replaced with the real value',
            "nodes[1].addresses.tailscale: placeholder \"FILL-IN: Tailscale IPv4 of srv712695 ('tailscale ip -4' on the node)\" must be replaced with the real value",
            'nodes[1].ssh.user: placeholder "FILL-IN: SSH login user on srv712695 (needs sudo)" must be replaced with the real value',
            "nodes[1].ssh.hostKey: placeholder \"FILL-IN: key part of 'ssh-keyscan -t ed25519 <srv712695 public IP>'\" must be replaced with the real value",
            'nodes[2].addresses.lan: placeholder "FILL-IN: home-LAN IPv4 of calypso" must be replaced with the real value',
            "nodes[2].addresses.tailscale: placeholder \"FILL-IN: Tailscale IPv4 of calypso ('tailscale ip -4' on the node)\" must be replaced with the real value",
            'nodes[2].ssh.user: placeholder "FILL-IN: SSH login user on calypso (needs sudo)" must be replaced with the real value',
            "nodes[2].ssh.hostKey: placeholder \"FILL-IN: key part of 'ssh-keyscan -t ed25519 <calypso LAN IP>'\" must be replaced with the real value",
            'exitNodeHost.release.sha256: placeholder "FILL-IN: sha256 of tailscale_1.102.3_amd64.tgz (pkgs.tailscale.com publishes it as <file>.sha256)" must be replaced with the real value',
            'monitoringHost.address: placeholder "FILL-IN: public IPv4 of the monitoring host (a machine that is none of the nodes)" must be replaced with the real value',
            'monitoringHost.ssh.user: placeholder "FILL-IN: SSH login user on the monitoring host (needs sudo)" must be replaced with the real value',
            "monitoringHost.ssh.hostKey: placeholder \"FILL-IN: key part of 'ssh-keyscan -t ed25519 <monitoring host>'\" must be replaced with the real value",
            'monitoringHost.releases.node.sha256: placeholder "FILL-IN: sha256 of node-v24.9.0-linux-x64.tar.xz (nodejs.org/dist/v24.9.0/SHASUMS256.txt)" must be replaced with the real value',
            'monitoringHost.releases.prometheus.sha256: placeholder "FILL-IN: sha256 of prometheus-3.16.0.linux-amd64.tar.gz (the release\'s sha256sums.txt)" must be replaced with the real value',
            'monitoringHost.releases.alertmanager.sha256: placeholder "FILL-IN: sha256 of alertmanager-0.28.1.linux-amd64.tar.gz (the release\'s sha256sums.txt)" must be replaced with the real value',
            'sshPrivateKey: not set; nodeAccess "ssh" logs in to the nodes with it: pulumi config set --secret oceanid:sshPrivateKey (value on stdin)',
            'k3sToken: not set; nodeAccess "ssh" joins agents to the server with it: pulumi config set --secret oceanid:k3sToken (value on stdin)',
            'kubeconfig: not set; kubernetes.mode "cluster" deploys with it: pulumi config set --secret oceanid:kubeconfig (value on stdin)',
            "exitNodeAuthKey: not set; exitNodeHost joins the exit node to the tailnet with it (reusable, not ephemeral, tagged with exitNodeHost.tags): pulumi config set --secret oceanid:exitNodeAuthKey (value on stdin)",
            "tailscaleApiKey: not set; exitNodeHost's gate asks the control server (exitNodeHost.controlApi) about the exit node with it: pulumi config set --secret oceanid:tailscaleApiKey (value on stdin)",
            "monitoringPagerUrl: not set; monitoringHost's Alertmanager sends every alert but Watchdog to it (the pager's webhook URL): pulumi config set --secret oceanid:monitoringPagerUrl (value on stdin)",
            "monitoringHeartbeatUrl: not set; monitoringHost's Alertmanager sends the Watchdog alert to it every minute (a heartbeat service outside, which pages when it stops): pulumi config set --secret oceanid:monitoringHeartbeatUrl (value on stdin)",
            "tailscaleAuthKey: not set; the egress gateway joins the tailnet with it (or set egress.tailnet.manage): pulumi config set --secret oceanid:tailscaleAuthKey (value on stdin)",
        ]);
    });

    it("prod with its placeholders and secrets filled in passes, versions included", () => {
        const config = readStackFile("prod");
        const fill = (v: unknown): unknown => {
            if (typeof v === "string" && v.startsWith("FILL-IN:")) {
                if (v.includes("SSH login user")) return "oceanid";
                if (v.includes("ssh-keyscan")) return "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBSgVhpZJ91oZCceCmllHH7x9MkpQ1otU/mHIbbxxNI";
                if (v.includes("Tailscale IPv4 of srv712695")) return "100.64.0.20";
                if (v.includes("Tailscale IPv4 of calypso")) return "100.64.0.30";
                if (v.includes("sha256 of")) return "0".repeat(64);
                if (v.includes("monitoring host (a machine")) return "203.0.113.9";
                return "192.0.2.99";
            }
            if (Array.isArray(v)) return v.map(fill);
            if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
            return v;
        };
        const raw = rawFromStackFile("prod", fill(config) as Record<string, unknown>);
        raw.secretsSet = {
            sshPrivateKey: true,
            k3sToken: true,
            kubeconfig: true,
            tailscaleAuthKey: true,
            exitNodeAuthKey: true,
            tailscaleApiKey: true,
            monitoringPagerUrl: true,
            monitoringHeartbeatUrl: true,
        };
        const s = parseStackConfig(raw);
        expect(s.nodes.map((n) => n.k3sVersion)).toEqual(["v1.33.5+k3s1", "v1.33.5+k3s1", "v1.33.5+k3s1"]);
    });

    it("keeps secret keys out of plain text in every stack file", () => {
        for (const stack of ["dev", "prod"]) {
            const config = readStackFile(stack);
            for (const name of SECRET_NAMES) {
                const v = config[`oceanid:${name}`];
                if (v !== undefined) expect(v, `${stack}: oceanid:${name}`).toHaveProperty("secure");
            }
        }
    });
});

describe("parseStackConfig: every problem at once", () => {
    it("reports a bad host key, a hostname exit node and an agent two minors behind in one run", () => {
        const raw = validRaw();
        raw.nodes[0].ssh.hostKey = "AAAAC3NzaC1lZDI1NTE5";
        raw.egress.exitNode = "srv712429";
        raw.nodes[2].k3sVersion = "v1.31.9+k3s1";
        expect(problemsOf(raw)).toEqual([
            'nodes[0].ssh.hostKey: "AAAAC3NzaC1lZDI1NTE5" is not an SSH host key: paste the key part of \'ssh-keyscan -t ed25519 <host>\' (e.g. "ssh-ed25519 AAAAC3...")',
            "nodes[2].k3sVersion: v1.31.9+k3s1 is more than one minor release behind the server's v1.33.4+k3s1 (srv712429); agents may be at most one minor release older than the server",
            'egress.exitNode: got "srv712429"; use the Tailscale IP (100.x.y.z) of the exit node or "auto:any": a name is not in the peer list when the gateway first starts, so tailscale rejects it ("invalid value for --exit-node")',
        ]);
    });

    it("skips only the rules whose own fields are broken, so a broken field causes no second, wrong complaint", () => {
        const raw = validRaw();
        raw.nodes[0].role = "master";
        raw.nodes[1].addresses.public = "not-an-ip";
        expect(problemsOf(raw)).toEqual([
            'nodes[0].role: Invalid option: expected one of "server"|"agent" (got "master")',
            'nodes[1].addresses.public: "not-an-ip" is not an IP address',
        ]);
    });
});

describe("parseStackConfig: node changes", () => {
    it("fills in the node-change defaults, and derives K3S_URL from the server's SSH address", () => {
        const s = parseStackConfig(validRaw());
        expect(s.nodeChanges).toEqual({
            revertAfterSeconds: 600,
            applyTimeoutSeconds: 300,
            gateTimeoutSeconds: 180,
            stepTimeoutSeconds: 60,
            settleSeconds: 60,
            maxLeaseAgeSeconds: 40,
            drain: true,
            drainTimeoutSeconds: 300,
            minFreeDiskMiB: 2048,
            minAvailableMemoryMiB: 256,
            installScriptUrl: "https://get.k3s.io",
        });
        expect(serverUrl(s)).toBe("https://157.173.210.123:6443");
        const raw = validRaw();
        raw.nodes[0].ssh.via = "tailscale";
        expect(serverUrl(parseStackConfig(raw))).toBe("https://100.121.150.65:6443");
        raw.nodeChanges = { serverUrl: "https://10.0.0.1:6443" };
        expect(serverUrl(parseStackConfig(raw))).toBe("https://10.0.0.1:6443");
    });

    it("refuses a revert timer that would fire before a healthy change is confirmed", () => {
        const raw = validRaw();
        raw.nodeChanges = { revertAfterSeconds: 540 };
        expect(problemsOf(raw)).toEqual([
            "nodeChanges.revertAfterSeconds: 540 would revert a healthy change before it can be confirmed " +
                "(applyTimeoutSeconds 300 + gateTimeoutSeconds 180 + stepTimeoutSeconds 60 = 540); raise it above 540 or lower the timeouts",
        ]);
        raw.nodeChanges = { revertAfterSeconds: 541 };
        expect(problemsOf(raw)).toEqual([]);
    });

    it("refuses a settle window the gate cannot hold, or one a release that dies after one heartbeat would pass", () => {
        const raw = validRaw();
        raw.nodeChanges = { settleSeconds: 180 };
        expect(problemsOf(raw)).toEqual(["nodeChanges.settleSeconds: 180 leaves the gate no time: it must be shorter than gateTimeoutSeconds 180"]);
        raw.nodeChanges = { settleSeconds: 30 };
        expect(problemsOf(raw)).toEqual([
            "nodeChanges.settleSeconds: 30 is not longer than maxLeaseAgeSeconds 40: a release that renews its Lease once and then stops " +
                "would pass the gate; raise settleSeconds above 40",
        ]);
        raw.nodeChanges = { settleSeconds: 30, maxLeaseAgeSeconds: 20 };
        expect(problemsOf(raw)).toEqual([]);
        raw.nodeChanges = { settleSeconds: 0, drain: false };
        expect(parseStackConfig(raw).nodeChanges).toMatchObject({ settleSeconds: 0, drain: false });
    });

    it("names bad URLs and unknown keys", () => {
        const raw = validRaw();
        raw.nodeChanges = { installScriptUrl: "http://get.k3s.io", serverUrl: "10.0.0.1:6443", reboot: true };
        expect(problemsOf(raw)).toEqual([
            'nodeChanges.installScriptUrl: "http://get.k3s.io" is not an https:// (or file://) URL',
            'nodeChanges.serverUrl: "10.0.0.1:6443" is not a server URL: use https://<address>:6443',
            "nodeChanges.reboot: unknown setting; remove it or fix its spelling",
        ]);
    });

    it("refuses a node with no out-of-band access unless the override says why", () => {
        const raw = validRaw();
        delete raw.nodes[2].outOfBand;
        expect(problemsOf(raw)).toEqual([
            "nodes[2].outOfBand: not set for calypso; a node change can cut SSH, so say how to reach the node without it " +
                '(console, provider API reboot, local access), or set nodes[2].unsafeNoOutOfBand: "<why it may be changed anyway>"',
        ]);
        raw.nodes[2].unsafeNoOutOfBand = "lab machine, rebuilt from scratch when lost";
        expect(parseStackConfig(raw).nodes[2].unsafeNoOutOfBand).toBe("lab machine, rebuilt from scratch when lost");
        raw.nodes[2].outOfBand = "local console";
        expect(problemsOf(raw)).toEqual(["nodes[2].unsafeNoOutOfBand: calypso has outOfBand access; remove the override"]);
    });

    it("needs a cluster to gate node changes on", () => {
        const raw = validRaw();
        raw.kubernetes = { mode: "render", renderDir: "rendered/test" };
        expect(problemsOf(raw)).toEqual([
            'nodeAccess: "ssh" needs kubernetes.mode "cluster": every node change is gated on the node\'s Ready condition and Lease in the API server',
        ]);
    });
});
