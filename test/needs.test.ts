// Tests that need root or the toolchain fail naming what is missing, and skip
// only when asked (OCEANID_ALLOW_SKIP=1); nothing else in the suite skips.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unmetNeed } from "./helpers/needs";
import { runAsync } from "./helpers/pulumi-cli";
import { ROOT } from "./helpers/stack-file";

const scratch = mkdtempSync(join(ROOT, ".tools", "needs-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("unmetNeed", () => {
    it("finds a command on the PATH it is given, or names it and the fix", () => {
        const bin = join(scratch, "bin");
        mkdirSync(bin);
        writeFileSync(join(bin, "sometool"), "#!/bin/sh\n");
        chmodSync(join(bin, "sometool"), 0o755);
        writeFileSync(join(bin, "notexecutable"), "");
        expect(unmetNeed(["sometool"], bin)).toBeUndefined();
        expect(unmetNeed(["sometool", "notexecutable"], bin)).toBe("needs notexecutable, which is not on PATH: `npm run setup` builds or installs it");
        expect(unmetNeed(["/no/such/sshd"], bin)).toBe("needs /no/such/sshd, which is not on PATH: `npm run setup` builds or installs it");
    });
});

describe("describeNeeding in a real vitest run", () => {
    const dir = join(scratch, "suite");
    mkdirSync(dir);
    writeFileSync(join(dir, "vitest.config.mts"), 'export default { test: { include: ["*.test.ts"] } };\n');
    writeFileSync(
        join(dir, "gap.test.ts"),
        `import { beforeAll, it } from "vitest";
import { describeNeeding } from ${JSON.stringify(join(ROOT, "test", "helpers", "needs"))};
beforeAll(() => { throw new Error("the file's hooks ran"); });
describeNeeding(["oceanid-no-such-tool"])("a suite with a gap", () => { it("never runs", () => {}); });
`,
    );
    const vitest = (env: NodeJS.ProcessEnv) =>
        runAsync(join(ROOT, "node_modules", ".bin", "vitest"), ["run", "--root", dir], {
            cwd: dir,
            env: { ...process.env, OCEANID_ALLOW_SKIP: undefined, NO_COLOR: "1", FORCE_COLOR: "0", ...env },
        });

    it("fails the file at collection, naming the missing tool and the way to skip, before its hooks run", async () => {
        const r = await vitest({});
        expect(r.code).toBe(1);
        expect(r.output).toContain(
            "Error: needs oceanid-no-such-tool, which is not on PATH: `npm run setup` builds or installs it; or set OCEANID_ALLOW_SKIP=1 to skip these tests",
        );
        expect(r.output).not.toContain("the file's hooks ran");
    });

    it("skips with the gap in the title when OCEANID_ALLOW_SKIP=1", async () => {
        const r = await vitest({ OCEANID_ALLOW_SKIP: "1" });
        expect(r.code).toBe(0);
        expect(r.output).toMatch(/Tests\s+1 skipped/);
        expect(r.output).not.toContain("the file's hooks ran");
    });
});

describe("the suite", () => {
    it("skips nothing on its own: every conditional skip goes through describeNeeding", () => {
        const files = readdirSync(join(ROOT, "test"), { recursive: true, encoding: "utf8" }).filter(
            (f) => f.endsWith(".ts") && !f.endsWith("needs.test.ts") && f !== join("helpers", "needs.ts"),
        );
        const skipping = files.filter((f) => /\.(skipIf|runIf)\(|\b(describe|it|test)\.skip\(/.test(readFileSync(join(ROOT, "test", f), "utf8")));
        expect(skipping).toEqual([]);
    });
});
