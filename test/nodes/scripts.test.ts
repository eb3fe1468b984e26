// The scripts node changes run, as rendered: snapshot files a reviewer reads as
// diffs, each parsed by bash and clean under shellcheck.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import {
    changeDir,
    parseAppliedAt,
    parseChangeId,
    parsePrevious,
    renderApply,
    renderConfirm,
    renderPreflight,
    renderRevert,
    renderRevertUnits,
} from "../../components/nodes/scripts/node-change-scripts";
import { k3sChangeSpec, type K3sChange } from "../../components/nodes/scripts/k3s-scripts";
import { hostTailscaleSpec } from "../../components/nodes/scripts/tailscale-scripts";
import { exitNodeChange } from "../../components/nodes/exit-node";
import { parseStackConfig } from "../../components/config/stack-config";
import { validRaw } from "../fixtures/stack-config";
import { shellQuote } from "../../components/platform/shell-quote";
import { stepCommand } from "../../components/nodes/scripts/shell";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["shellcheck"]);

const agent: K3sChange = {
    node: "srv712695",
    role: "agent",
    version: "v1.33.5+k3s1",
    serverUrl: "https://157.173.210.123:6443",
    installScriptUrl: "https://get.k3s.io",
    minFreeDiskMiB: 2048,
    minAvailableMemoryMiB: 256,
    outOfBand: { how: "Hostinger VPS API reboot; it's the styx token" },
};
const server: K3sChange = { ...agent, node: "srv712429", role: "server", outOfBand: { unsafeNoOutOfBandBecause: "lab host" } };

const rendered = (c: K3sChange) => {
    const spec = k3sChangeSpec(c);
    return {
        preflight: renderPreflight(spec),
        apply: renderApply(spec, 600),
        confirm: renderConfirm(spec, "20261204T210000Z-0a1b2c3d", "pulumi up --replace 'urn:pulumi:prod::oceanid-infra::x::y-k3s-change-preflight'"),
        revert: renderRevert(spec),
    };
};

// The exit node's change, as the program renders it (components/nodes/exit-node.ts).
const renderedTailscale = () => {
    const spec = hostTailscaleSpec(
        exitNodeChange({
            node: { ...parseStackConfig(validRaw()).nodes[0] },
            host: {
                release: { version: "1.102.3", url: "https://pkgs.tailscale.com/stable/tailscale_1.102.3_amd64.tgz", sha256: "c".repeat(64) },
                tags: ["tag:exit-node"],
                uploadLogs: false,
                controlApi: { kind: "tailscale", url: "https://api.tailscale.com" },
            },
            settings: parseStackConfig(validRaw()).nodeChanges,
            leftoversScript: readFileSync(join(__dirname, "..", "..", "scripts", "recovery", "remove-tailscale-leftovers"), "utf8"),
            apiUrl: "https://127.0.0.1:6443",
        }),
    );
    return { preflight: renderPreflight(spec), apply: renderApply(spec, 600), revert: renderRevert(spec) };
};

function run(cmd: string, args: string[], input?: string) {
    const r = spawnSync(cmd, args, { encoding: "utf8", input });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

suite("node change scripts", () => {
    for (const [role, change] of [
        ["agent", agent],
        ["server", server],
    ] as const) {
        for (const [step, script] of Object.entries(rendered(change))) {
            // The server's confirm differs from the agent's only in names: no snapshot of its own.
            const snapshot = role === "agent" || step !== "confirm";
            it(`${role} ${step}: ${snapshot ? "matches its snapshot, " : ""}parses, and passes shellcheck`, async () => {
                if (snapshot) await expect(script).toMatchFileSnapshot(`__snapshots__/k3s-${role}-${step}.sh`);
                expect(run("bash", ["-n"], script)).toEqual({ code: 0, out: "" });
                expect(run("shellcheck", ["-s", "bash", "-"], script)).toEqual({ code: 0, out: "" });
            });
        }
    }

    for (const [step, script] of Object.entries(renderedTailscale())) {
        it(`tailscale (exit node) ${step}: matches its snapshot, parses, and passes shellcheck`, async () => {
            await expect(script).toMatchFileSnapshot(`__snapshots__/tailscale-exit-node-${step}.sh`);
            expect(run("bash", ["-n"], script)).toEqual({ code: 0, out: "" });
            expect(run("shellcheck", ["-s", "bash", "-"], script)).toEqual({ code: 0, out: "" });
        });
    }

    it("installs agents with K3S_URL and the server without, the token only through a root-only file", () => {
        const a = rendered(agent).apply;
        expect(a).toContain(`INSTALL_K3S_VERSION="$target" INSTALL_K3S_EXEC=agent K3S_URL="$server_url" K3S_TOKEN_FILE=/etc/rancher/k3s/oceanid-token`);
        expect(a).not.toMatch(/K3S_TOKEN=/);
        expect(rendered(server).apply).toContain("INSTALL_K3S_EXEC=server K3S_TOKEN_FILE=");
        expect(rendered(server).revert).toContain("    systemctl restart k3s || problem");
    });

    it("backs up and restores the binary, config, token file and the service unit", () => {
        expect(k3sChangeSpec(agent).backupPaths).toEqual([
            "/usr/local/bin/k3s",
            "/etc/rancher/k3s/config.yaml",
            "/etc/rancher/k3s/oceanid-token",
            "/etc/systemd/system/k3s-agent.service",
            "/etc/systemd/system/k3s-agent.service.env",
        ]);
        expect(rendered(agent).apply).toContain("deadline=$((armed_at + 600))");
        expect(changeDir("k3s")).toBe("/var/lib/oceanid/changes/k3s");
    });

    it("keeps the revert in systemd units that survive a reboot: a timer at the deadline and a service that also runs at boot", async () => {
        const units = renderRevertUnits(k3sChangeSpec(agent));
        await expect(units.service).toMatchFileSnapshot("__snapshots__/oceanid-revert-k3s.service");
        await expect(units.timer).toMatchFileSnapshot("__snapshots__/oceanid-revert-k3s.timer");
        expect(units.service).toContain("[Install]\nWantedBy=multi-user.target\n");
        expect(units.timer).toContain("OnCalendar=@DEADLINE@\nAccuracySec=1s\n");
        expect(rendered(agent).apply).toContain(`sed "s/@DEADLINE@/$(date -u -d "@$deadline" '+%Y-%m-%d %H:%M:%S UTC')/"`);
    });

    it("says the out-of-band way in, or warns loudly when there is none", () => {
        expect(rendered(agent).preflight).toContain(`echo ${shellQuote("out-of-band access to srv712695: Hostinger VPS API reboot; it's the styx token")}`);
        expect(rendered(server).preflight).toContain("WARNING: srv712429 has no out-of-band access; changed anyway because: lab host");
    });

    it("reads the armed change, what ran before and the node's clock from apply's lines, and fails plainly without them", () => {
        const out =
            "armed: change=20261204T210000Z-0a1b2c3d reverts at 2026-12-04T21:10:00Z unless confirmed\nprevious: v1.33.4+k3s1\napplied: x now runs v1\napplied-at: 1767225600.123456789";
        expect(parseChangeId(out)).toBe("20261204T210000Z-0a1b2c3d");
        expect(parsePrevious(out)).toBe("v1.33.4+k3s1");
        expect(parseAppliedAt(out)).toBe("1767225600.123456789");
        expect(parseAppliedAt("unchanged: x already runs v1\napplied-at: 1767225600\n")).toBe("1767225600");
        expect(() => parseAppliedAt("applied: x\n")).toThrow('the apply step printed no "applied-at: <epoch seconds>" line');
        expect(() => parseChangeId("applied: x\n")).toThrow('the apply step printed no "armed: change=<id> ..." line');
        expect(() => parsePrevious("applied: x\n")).toThrow('the apply step printed no "previous: <version>" line');
    });
});

suite("step command lines", () => {
    it("run the script as root under timeout, through sudo -n for other logins", () => {
        expect(stepCommand("echo 'hi'", { user: "root", timeoutSeconds: 60 })).toBe(`timeout -k 10 60 bash -c 'echo '\\''hi'\\'''`);
        expect(stepCommand("echo hi", { user: "oceanid", timeoutSeconds: 5 })).toBe("sudo -n timeout -k 10 5 bash -c 'echo hi'");
    });

    it("carry the script through the shell unchanged", () => {
        const script = rendered(agent).apply;
        const r = run("bash", ["-c", `printf '%s' ${shellQuote(script)}`]);
        expect(r.out).toBe(script);
    });
});
