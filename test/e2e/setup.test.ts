// scripts/setup on a machine that lacks something: it names the step and what to install.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { TOOLS_BIN } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["pulumi"]);

suite("scripts/setup", () => {
    it("with an empty cache and no Go: uses the Pulumi CLI on PATH, then stops at the first build with what to install", () => {
        // A copy of the project whose toolchain cache is empty. Its node_modules holds only the
        // stamp setup checks, so its npm step passes without touching the real node_modules.
        const root = mkdtempSync(join(tmpdir(), "oceanid-setup-"));
        cpSync(join(ROOT, "scripts"), join(root, "scripts"), { recursive: true });
        for (const f of ["package.json", "package-lock.json"]) cpSync(join(ROOT, f), join(root, f));
        mkdirSync(join(root, "node_modules"));
        const lockSum = createHash("sha256")
            .update(readFileSync(join(root, "package-lock.json")))
            .digest("hex");
        writeFileSync(join(root, "node_modules", ".oceanid-lock-sha256"), `${lockSum}\n`);
        mkdirSync(join(root, "cache"));
        const r = spawnSync("bash", [join(root, "scripts", "setup")], {
            encoding: "utf8",
            // The project's node and pulumi, the system's npm; no Go anywhere.
            env: { ...process.env, PATH: `${TOOLS_BIN}:/usr/bin:/bin`, XDG_CACHE_HOME: join(root, "cache"), PULUMI_HOME: join(root, "pulumi-home") },
        });
        expect(r.status).toBe(1);
        expect(r.stdout).toContain("==> [2/13] npm packages (npm ci)\n    up to date");
        expect(r.stdout).toContain("==> [3/13] Pulumi CLI and Node.js language host");
        expect(r.stdout).toMatch(/using .+\/\.tools\/bin\/pulumi \(v3\.259\.0\) and its own language host/);
        expect(r.stderr.trim().split("\n").at(-1)).toBe(
            "setup: step 4 failed: building the kubernetes provider needs Go >= 1.26.6, found 'no go on PATH': install it (https://go.dev/dl, or Debian's golang package when new enough) and rerun",
        );
    });
});
