// scripts/setup on a machine that lacks something: it names the step and what to install.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";
import { describeNeeding } from "../helpers/needs";
import { pidAlive } from "../lab/processes";

/** The Go release setup asks for (scripts/lib.sh: the newest go directive among the toolchain modules). */
const GO_MIN_VERSION = /^GO_MIN_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, "scripts", "lib.sh"), "utf8"))![1];

const suite = describeNeeding(["pulumi"]);

/**
 * A copy of the project whose toolchain cache is empty. Its node_modules holds only the
 * stamp setup checks, so its npm step passes without touching the real node_modules.
 */
const copies: string[] = [];
// Each copy holds a toolchain's worth of files (about 190 MB): none outlives the file.
afterAll(() => {
    for (const root of copies) rmSync(root, { recursive: true, force: true });
});

function emptyCacheCopy(): string {
    const root = mkdtempSync(join(tmpdir(), "oceanid-setup-"));
    copies.push(root);
    cpSync(join(ROOT, "scripts"), join(root, "scripts"), { recursive: true });
    cpSync(join(ROOT, "bench", "build-kube-read.sh"), join(root, "bench", "build-kube-read.sh"));
    for (const f of ["package.json", "package-lock.json"]) cpSync(join(ROOT, f), join(root, f));
    mkdirSync(join(root, "node_modules"));
    const lockSum = createHash("sha256")
        .update(readFileSync(join(root, "package-lock.json")))
        .digest("hex");
    writeFileSync(join(root, "node_modules", ".oceanid-lock-sha256"), `${lockSum}\n`);
    mkdirSync(join(root, "cache"));
    return root;
}

suite("scripts/setup", () => {
    it("with an empty cache and no Go: uses the Pulumi CLI on PATH, then stops at the first build with what to install", () => {
        const root = emptyCacheCopy();
        const r = spawnSync("bash", [join(root, "scripts", "setup")], {
            encoding: "utf8",
            // The project's node and pulumi, the system's npm; no Go anywhere.
            env: { ...process.env, PATH: `${TOOLS_BIN}:/usr/bin:/bin`, XDG_CACHE_HOME: join(root, "cache"), PULUMI_HOME: join(root, "pulumi-home") },
        });
        expect(r.status).toBe(1);
        expect(r.stdout).not.toContain("building in the background");
        expect(r.stdout).toContain("==> [2/7] npm packages (npm ci)\n    up to date");
        expect(r.stdout).toContain("==> [3/7] Pulumi CLI and Node.js language host");
        expect(r.stdout).toMatch(/using .+\/\.tools\/bin\/pulumi \(v3\.259\.0\) and its own language host/);
        expect(r.stderr.trim().split("\n").at(-1)).toBe(
            `setup: step 4 failed: building the kubernetes provider needs Go >= ${GO_MIN_VERSION}, found 'no go on PATH': install it (https://go.dev/dl, or Debian's golang package when new enough) and rerun`,
        );
    });

    it("with an empty cache: builds in the background; a failed build fails its step with its own message and stops the others", () => {
        const root = emptyCacheCopy();
        // A stand-in for go: new enough, no module proxy, and every build runs until it is stopped.
        const bin = join(root, "fake-go");
        mkdirSync(bin);
        writeFileSync(
            join(bin, "go"),
            [
                "#!/bin/sh",
                `echo $$ >> ${join(root, "go-pids")}`,
                'case "$1 $2" in',
                '  "env GOVERSION") echo go1.26.8 ;;',
                '  "mod download") echo "go: proxy refused" >&2; exit 1 ;;',
                "  *) exec sleep 120 ;;",
                "esac",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        const r = spawnSync("bash", [join(root, "scripts", "setup"), "--tests"], {
            encoding: "utf8",
            env: {
                ...process.env,
                PATH: `${bin}:${TOOLS_BIN}:/usr/bin:/bin`,
                XDG_CACHE_HOME: join(root, "cache"),
                PULUMI_HOME: join(root, "pulumi-home"),
                OCEANID_SETUP_JOBS: "3",
            },
            timeout: 60_000,
        });
        const jobs = join(root, "cache", "oceanid-infra", "setup-jobs");
        expect(r.stdout.split("\n")[0]).toBe(
            `    building in the background, 3 at a time: k8s_provider control_plane tailnet seaweedfs monitoring test_tools linters (logs: ${jobs})`,
        );
        expect(r.status).toBe(1);
        expect(r.stderr.trim().split("\n").at(-1)).toBe(
            "setup: step 4 failed: cannot download github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199 from the Go module proxy",
        );
        expect(readFileSync(join(jobs, "k8s_provider.log"), "utf8")).toContain("go: proxy refused");
        // The builds still running when the step failed were stopped with it.
        const pids = readFileSync(join(root, "go-pids"), "utf8").trim().split("\n").map(Number);
        expect(pids.length).toBeGreaterThan(1);
        expect(pids.filter(pidAlive)).toEqual([]);
    });
});

suite("scripts/setup's progress", () => {
    it("says what it waits for, for how long, and what to expect, at a steady pace; a first build here gets the measured figure", async () => {
        const root = emptyCacheCopy();
        // A go that is new enough and whose module download never ends: the provider's build hangs.
        const bin = join(root, "fake-go");
        mkdirSync(bin);
        writeFileSync(
            join(bin, "go"),
            ["#!/bin/sh", 'case "$1 $2" in', '  "env GOVERSION") echo go1.26.8 ;;', "  *) exec sleep 120 ;;", "esac", ""].join("\n"),
            {
                mode: 0o755,
            },
        );
        const child = spawn("bash", [join(root, "scripts", "setup")], {
            env: {
                ...process.env,
                PATH: `${bin}:${TOOLS_BIN}:/usr/bin:/bin`,
                XDG_CACHE_HOME: join(root, "cache"),
                PULUMI_HOME: join(root, "pulumi-home"),
                OCEANID_SETUP_PROGRESS_SECONDS: "2",
            },
            detached: true,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        const jobs = join(root, "cache", "oceanid-infra", "setup-jobs");
        const line = (s: string) =>
            `    ... the kubernetes provider: waiting ${s} so far; it takes about 9m02s on 2 cores (measured 2026-12-04) (log: ${jobs}/k8s_provider.log)`;
        try {
            const t0 = Date.now();
            while (!out.includes(line("0m04s")) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
            const lines = out.split("\n");
            expect(lines).toContain("==> [4/7] kubernetes provider plugin 4.24.1+git.f47bc2d6f199");
            expect(lines.slice(lines.indexOf("==> [4/7] kubernetes provider plugin 4.24.1+git.f47bc2d6f199") + 1, -1)).toEqual([line("0m02s"), line("0m04s")]);
        } finally {
            process.kill(-child.pid!, "SIGTERM");
            await new Promise((r) => child.once("exit", r));
        }
    });
});
