// The workflows as written: every run: step is a repository script or npm
// target that exists (so CI can be run locally), and the rules the pipeline
// keeps (least privilege, no pull_request_target, no caches of the actions' own,
// one deploy at a time). Which commit each action is pinned to: action-pins.test.ts.
import { accessSync, constants, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runStep } from "../helpers/ci-script";
import { ROOT } from "../helpers/stack-file";
import { FILES, steps, text, WORKFLOWS } from "./github-files";

const lib = readFileSync(join(ROOT, "scripts", "lib.sh"), "utf8");
/** A version scripts/lib.sh pins (`NAME=value`). */
const pinned = (name: string) => new RegExp(`^${name}=(\\S+)$`, "m").exec(lib)![1];

const scripts = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts);

describe("workflow run: steps", () => {
    const runs = FILES.flatMap((file) => steps(file).flatMap((s) => (s.run === undefined ? [] : [{ file, run: s.run.trim() }])));

    it("each is one command: a repository script or an npm target", () => {
        expect(runs.length).toBeGreaterThan(10);
        for (const { file, run } of runs) {
            expect(run, `${file}: ${run}`).not.toContain("\n");
            expect(run, `${file}: ${run}`).toMatch(/^(npm run (-s )?[\w:-]+|scripts\/ci\/[\w.-]+|node scripts\/ci\/[\w.-]+\.mjs)( |$)/);
        }
    });

    it("every npm target they name is in package.json", () => {
        const targets = runs.flatMap(({ run }) => [...run.matchAll(/npm run (?:-s )?([\w:-]+)/g)].map((m) => m[1]));
        expect(new Set(targets)).toEqual(new Set(["lint", "test:unit", "setup", "up"]));
        for (const t of targets) expect(scripts, `npm run ${t}`).toContain(t);
    });

    it("every script they name exists and is executable", () => {
        const paths = runs.flatMap(({ run }) => [...run.matchAll(/(?:^|\s)(scripts\/[\w./-]+)/g)].map((m) => m[1]));
        expect(paths.length).toBeGreaterThan(8);
        for (const p of paths) {
            expect(existsSync(join(ROOT, p)), p).toBe(true);
            expect(() => accessSync(join(ROOT, p), constants.X_OK), p).not.toThrow();
        }
    });
});

describe("workflow rules", () => {
    it("every local action it uses exists", () => {
        const local = FILES.flatMap((f) => steps(f)).flatMap((s) => (s.uses?.startsWith("./") ? [s.uses] : []));
        expect(local).toHaveLength(5);
        for (const ref of local) expect(existsSync(join(ROOT, ref, "action.yml")), ref).toBe(true);
    });

    it("grants nothing at the top, and each job only what it uses", () => {
        const jobs: Record<string, unknown> = {};
        for (const file of WORKFLOWS) {
            const doc = parse(text(file));
            expect(doc.permissions, file).toEqual({});
            expect(Object.keys(doc.on), file).not.toContain("pull_request_target");
            for (const [name, job] of Object.entries(doc.jobs as Record<string, { permissions: unknown }>)) jobs[`${file}:${name}`] = job.permissions;
        }
        expect(jobs).toEqual({
            "workflows/deploy.yml:deploy": { contents: "read" },
            "workflows/drift.yml:drift": { contents: "read" },
            "workflows/pull-request.yml:checks": { contents: "read" },
            "workflows/pull-request.yml:review-areas": { contents: "read" },
            "workflows/pull-request.yml:guard": { contents: "read", "security-events": "write" },
            "workflows/pull-request.yml:preview": { contents: "read" },
        });
    });

    it("every checkout keeps no credentials", () => {
        const checkouts = FILES.flatMap((f) => steps(f)).filter((s) => s.uses?.startsWith("actions/checkout@"));
        expect(checkouts).toHaveLength(6);
        for (const s of checkouts) expect(s.with?.["persist-credentials"]).toBe(false);
    });

    it("deploys one at a time, never cancelling one in progress, in the protected environment", () => {
        const deploy = parse(text("workflows/deploy.yml"));
        expect(deploy.on).toEqual({ push: { branches: ["main"] }, workflow_dispatch: null });
        expect(deploy.concurrency).toEqual({ group: "deploy-prod", "cancel-in-progress": false });
        expect(deploy.jobs.deploy.environment).toBe("prod");
    });

    it("the deploy and scheduled jobs join the tailnet with the CI tag the tailnet policy grants, on the lab's Tailscale", () => {
        for (const file of ["workflows/deploy.yml", "workflows/drift.yml"]) {
            const join = steps(file).filter((s) => s.uses?.startsWith("tailscale/github-action@"));
            expect(
                join.map((s) => s.with),
                file,
            ).toEqual([
                {
                    "oauth-client-id": "${{ secrets.TS_OAUTH_CLIENT_ID }}",
                    "oauth-secret": "${{ secrets.TS_OAUTH_SECRET }}",
                    tags: "tag:oceanid-ci",
                    version: pinned("TAILSCALE_VERSION"),
                    "use-cache": false,
                },
            ]);
        }
    });

    it("no action keeps a cache of its own: the toolchain's actions/cache is the only one", () => {
        const all = FILES.flatMap((f) => steps(f));
        const cachesOff = (action: string, input: string) => {
            const uses = all.filter((s) => s.uses?.startsWith(`${action}@`));
            expect(uses.length, action).toBeGreaterThan(0);
            for (const s of uses) expect(s.with?.[input], `${action} ${input}`).toBe(false);
        };
        cachesOff("actions/setup-node", "package-manager-cache");
        cachesOff("actions/setup-go", "cache");
        cachesOff("tailscale/github-action", "use-cache");
        const caches = all.filter((s) => s.uses?.startsWith("actions/cache@"));
        expect(caches.map((s) => s.with?.path)).toEqual(["~/.cache/oceanid-infra"]);
    });

    it("secrets come only from an environment's jobs", () => {
        for (const file of WORKFLOWS) {
            const doc = parse(text(file));
            for (const [name, job] of Object.entries(doc.jobs as Record<string, { environment?: string }>)) {
                if (JSON.stringify(job).includes("secrets.")) expect(job.environment, `${file}:${name}`).toBeDefined();
            }
        }
    });
});

describe("scripts/ci/versions", () => {
    it("hands the setup actions the versions scripts/lib.sh pins", () => {
        const r = runStep("versions", []);
        expect(r.code, r.output).toBe(0);
        expect(r.outputs).toEqual([`node=${pinned("NODE_VERSION")}`, `pulumi=${pinned("PULUMI_VERSION")}`, `go=${pinned("GO_MIN_VERSION")}`]);
    });

    it("asks for a Go at least as new as every toolchain module's go directive", () => {
        const goMin = pinned("GO_MIN_VERSION");
        const toolchain = join(ROOT, "scripts", "toolchain");
        const mods = readdirSync(toolchain, { recursive: true, encoding: "utf8" }).filter((f) => f === "go.mod" || f.endsWith("/go.mod"));
        const newer = mods
            .map((f) => [f, /^go (\S+)$/m.exec(readFileSync(join(toolchain, f), "utf8"))![1]] as const)
            .filter(
                ([, v]) =>
                    v
                        .split(".")
                        .map(Number)
                        .reduce((d, n, i) => d || n - (goMin.split(".").map(Number)[i] ?? 0), 0) > 0,
            );
        expect(mods.length).toBeGreaterThan(5);
        expect(newer).toEqual([]);
    });
});
