// The language host shim (scripts/toolchain/cmd/pulumi-language-nodejs) as the engine stops it: SIGINT to its
// process group. Its exit then is a shutdown, and must print nothing into a command's output (a refused `up`'s
// first line is Pulumi's lock message, test/state/s3-backend.test.ts); a host that dies otherwise is reported.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeNeeding } from "../helpers/needs";
import { TOOLS_BIN } from "../helpers/pulumi-cli";

const describeShim = describeNeeding(["pulumi-language-nodejs"]);

const dir = mkdtempSync(join(tmpdir(), "oceanid-shim-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A host that prints a port, as every plugin does, then waits; its pid goes to a file for the test to kill.
const host = join(dir, "host");
writeFileSync(host, `#!/bin/sh\necho $$ > "$0.pid"\necho 45678\nexec sleep 60\n`);
chmodSync(host, 0o755);

interface Ended {
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
}

async function runShim(stop: (shimPid: number) => void): Promise<Ended> {
    const child = spawn("pulumi-language-nodejs", ["127.0.0.1:1"], {
        detached: true,
        env: { ...process.env, PULUMI_NODEJS_REAL_HOST: host },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const ended = new Promise<Ended>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
    // The shim prints its own port once it serves.
    await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d) => {
            stdout += d;
            if (/^\d+\n/.test(stdout)) resolve();
        });
        child.on("exit", () => reject(new Error(`the shim exited before serving: ${stderr}`)));
    });
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 20_000);
    stop(child.pid!);
    const result = await ended;
    clearTimeout(timer);
    return { ...result, stderr };
}

const hostPid = () => Number(readFileSync(`${host}.pid`, "utf8"));

describeShim("the language host shim", () => {
    it("is what the engine runs: the language host beside the CLI's own file is this source's shim", () => {
        // With PULUMI_IGNORE_AMBIENT_PLUGINS the engine does not search PATH for it (scripts/setup, build_shim).
        const beside = join(dirname(realpathSync(join(TOOLS_BIN, "pulumi"))), "pulumi-language-nodejs");
        if (!existsSync(join(TOOLS_BIN, "pulumi-language-nodejs"))) {
            // Setup chose a pulumi already on PATH: its own language host, beside it, is what runs.
            expect(existsSync(beside), beside).toBe(true);
            return;
        }
        expect(realpathSync(beside)).toBe(realpathSync(join(TOOLS_BIN, "pulumi-language-nodejs")));
        expect(realpathSync(beside)).toMatch(/\/pulumi-language-nodejs-shim-[0-9a-f]{12}$/);
    });

    it.each(["SIGINT", "SIGTERM"] as const)("stopped by %s to its process group: exits 0, prints nothing", async (signal) => {
        const ended = await runShim((pid) => process.kill(-pid, signal));
        expect(ended).toEqual({ code: 0, signal: null, stderr: "" });
    });

    it("stopped by SIGINT to the shim alone: hands it to the host, exits 0, prints nothing", async () => {
        const ended = await runShim((pid) => process.kill(pid, "SIGINT"));
        expect(ended).toEqual({ code: 0, signal: null, stderr: "" });
    });

    it("a host killed by anything else: exit 1, the cause on stderr", async () => {
        const ended = await runShim(() => process.kill(hostPid(), "SIGKILL"));
        expect(ended).toEqual({ code: 1, signal: null, stderr: "pulumi-language-nodejs (oceanid shim): signal: killed\n" });
    });
});
