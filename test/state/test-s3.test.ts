// scripts/test-s3 itself: its server goes away with the process that owns it,
// killed with SIGKILL (a crashed test run), leaving no process, data or socket.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeNeeding } from "../helpers/needs";
import { ROOT } from "../helpers/stack-file";
import { pollUntil } from "../helpers/test-cluster";

const suite = describeNeeding(["weed", "curl"]);
const SCRIPT = join(ROOT, "scripts", "test-s3");

suite("scripts/test-s3", () => {
    const dir = mkdtempSync(join(tmpdir(), "oceanid-s3-owner-"));
    afterAll(() => {
        spawnSync("bash", [SCRIPT, "stop", "--dir", dir]);
        rmSync(dir, { recursive: true, force: true });
    });

    it("stops weed, removes its data and sockets once the owner is killed", async () => {
        const owner = spawn("sleep", ["600"], { stdio: "ignore" });
        const identities = join(dir, "identities.json");
        writeFileSync(
            identities,
            JSON.stringify({ identities: [{ name: "a", credentials: [{ accessKey: "AKOWNER", secretKey: "s" }], actions: ["Admin"] }] }),
            {
                mode: 0o600,
            },
        );
        const start = spawnSync("bash", [SCRIPT, "start", "--dir", dir, "--owner", String(owner.pid), "--s3-config", identities], { encoding: "utf8" });
        expect(start.status, start.stderr).toBe(0);
        const status = spawnSync("bash", [SCRIPT, "status", "--dir", dir], { encoding: "utf8" });
        expect(status.status, status.stdout).toBe(0);
        // The sockets weed puts in /tmp whatever TMPDIR says, one per gRPC port of this server.
        const sockets = [...readFileSync(join(dir, "s3.env"), "utf8").matchAll(/^(\w+)_grpc_port=(\d+)$/gm)].map(
            ([, name, port]) => `/tmp/seaweedfs-${name}-grpc-${port}.sock`,
        );
        expect(sockets).toHaveLength(4);
        expect(sockets.filter((s) => existsSync(s))).toEqual(sockets);

        owner.kill("SIGKILL");
        await pollUntil(
            "weed stopped by the reaper",
            () => (spawnSync("bash", [SCRIPT, "status", "--dir", dir]).status === 3 && !existsSync(join(dir, "data")) ? true : undefined),
            20_000,
        );
        expect(spawnSync("bash", [SCRIPT, "status", "--dir", dir], { encoding: "utf8" }).stdout).toBe(
            `S3 server in ${dir}: not started\n  weed     not running\n  reaper   not running\n`,
        );
        expect(sockets.filter((s) => existsSync(s))).toEqual([]);
    }, 60_000);
});
