// The scripts node changes run, as rendered: snapshot files a reviewer reads as
// diffs, each parsed by bash and clean under shellcheck.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import {
    changeDir,
    parseAppliedAt,
    renderApply,
    renderArm,
    renderConfirm,
    renderPreflight,
    renderRevert,
} from "../../components/nodes/scripts/node-change-scripts";
import { k3sChangeSpec, type K3sChange } from "../../components/nodes/scripts/k3s-scripts";
import { shellQuote } from "../../components/platform/shell-quote";
import { stepCommand } from "../../components/nodes/scripts/shell";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["shellcheck"]);

const agent: K3sChange = {
    node: "srv712695",
    role: "agent",
    version: "v1.33.5+k3s1",
    serverVersion: "v1.33.5+k3s1",
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
        arm: renderArm(spec, 600),
        apply: renderApply(spec),
        confirm: renderConfirm(spec),
        revert: renderRevert(spec),
    };
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
            // The server's arm and confirm differ from the agent's only in names: no snapshot of their own.
            const snapshot = role === "agent" || !["arm", "confirm"].includes(step);
            it(`${role} ${step}: ${snapshot ? "matches its snapshot, " : ""}parses, and passes shellcheck`, async () => {
                if (snapshot) await expect(script).toMatchFileSnapshot(`__snapshots__/k3s-${role}-${step}.sh`);
                expect(run("bash", ["-n"], script)).toEqual({ code: 0, out: "" });
                expect(run("shellcheck", ["-s", "bash", "-"], script)).toEqual({ code: 0, out: "" });
            });
        }
    }

    it("installs agents with K3S_URL and the server without, the token only through a root-only file", () => {
        const a = rendered(agent).apply;
        expect(a).toContain(`INSTALL_K3S_VERSION="$target" INSTALL_K3S_EXEC=agent K3S_URL="$server_url" K3S_TOKEN_FILE=/etc/rancher/k3s/oceanid-token`);
        expect(a).not.toMatch(/K3S_TOKEN=/);
        expect(rendered(server).apply).toContain("INSTALL_K3S_EXEC=server K3S_TOKEN_FILE=");
        expect(rendered(server).revert).toContain("systemctl restart k3s;");
    });

    it("backs up and restores the binary, config, token file and the service unit", () => {
        expect(k3sChangeSpec(agent).backupPaths).toEqual([
            "/usr/local/bin/k3s",
            "/etc/rancher/k3s/config.yaml",
            "/etc/rancher/k3s/oceanid-token",
            "/etc/systemd/system/k3s-agent.service",
            "/etc/systemd/system/k3s-agent.service.env",
        ]);
        expect(rendered(agent).arm).toContain('systemd-run --unit="$unit" --on-active=600s --timer-property=RemainAfterElapse=no --collect --quiet');
        expect(changeDir("k3s")).toBe("/var/lib/oceanid/changes/k3s");
    });

    it("says the out-of-band way in, or warns loudly when there is none", () => {
        expect(rendered(agent).preflight).toContain(`echo ${shellQuote("out-of-band access to srv712695: Hostinger VPS API reboot; it's the styx token")}`);
        expect(rendered(server).preflight).toContain("WARNING: srv712429 has no out-of-band access; changed anyway because: lab host");
    });

    it("reads the node's clock from apply's last line, and fails plainly without it", () => {
        expect(parseAppliedAt("unchanged: x already runs v1\napplied-at: 1767225600\n")).toBe("1767225600");
        expect(parseAppliedAt("applied: x now runs v1\napplied-at: 1767225600.123456789")).toBe("1767225600.123456789");
        expect(() => parseAppliedAt("applied: x\n")).toThrow('the apply step printed no "applied-at: <epoch seconds>" line');
    });
});

suite("step command lines", () => {
    it("run the script as root under timeout, through sudo -n for other logins", () => {
        expect(stepCommand("echo 'hi'", { user: "root", timeoutSeconds: 60 })).toBe(`timeout -k 10 60 bash -c 'echo '\\''hi'\\'''`);
        expect(stepCommand("echo hi", { user: "oceanid", timeoutSeconds: 5 })).toBe("sudo -n timeout -k 10 5 bash -c 'echo hi'");
    });

    it("carry the script through the shell unchanged", () => {
        const script = rendered(agent).arm;
        const r = run("bash", ["-c", `printf '%s' ${shellQuote(script)}`]);
        expect(r.out).toBe(script);
    });
});
