// The team's state backend: the dev stack in an S3 bucket of a real
// S3-compatible server (SeaweedFS on loopback, test/helpers/s3-server.ts),
// driven by the real Pulumi CLI: up, the lock against a concurrent up, the
// server restarting, an up killed mid-update, and no secret in the bucket.
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { pulumiAsync } from "../helpers/deploy-stack";
import { describeNeeding } from "../helpers/needs";
import { renderingDevWorkspace, type Workspace } from "../helpers/pulumi-cli";
import { REGION, useS3Server } from "../helpers/s3-server";
import { readStackFile } from "../helpers/stack-file";
import { pollUntil } from "../helpers/test-cluster";
import { timings } from "../helpers/timings";

const suite = describeNeeding(["pulumi", "weed", "curl"]);
const s3 = useS3Server();
const seconds = timings("S3 backend timings (s)");

/** The dev stack's one secret (Pulumi.dev.yaml, docs/delivery.md "dev") and its public passphrase. */
const DEV_SECRET = "dev-dummy-auth-key-not-a-real-credential";
const DEV_PASSPHRASE = "oceanid-dev-only";
const LOCKS = ".pulumi/locks/";
const LOCKED = "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.";

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The processes of session `sid` (/proc/<pid>/stat: the session is the 4th field after the command). */
function inSession(sid: number): number[] {
    return readdirSync("/proc")
        .filter((d) => /^\d+$/.test(d))
        .filter((pid) => {
            try {
                const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
                return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]) === sid;
            } catch {
                return false; // gone meanwhile
            }
        })
        .map(Number);
}

interface Deployment {
    deployment: { resources?: Array<{ urn: string; outputs?: unknown }>; pending_operations?: Array<{ type: string; resource: { urn: string } }> };
}

suite("the dev stack in an S3 bucket", () => {
    let ws: Workspace;
    const exported = (): Deployment => {
        const r = ws.pulumi(["stack", "export", "--stack", "dev"]);
        if (r.code !== 0) throw new Error(`pulumi stack export failed: ${r.output}`);
        return JSON.parse(r.stdout) as Deployment;
    };
    const outputsByUrn = (d: Deployment) => Object.fromEntries((d.deployment.resources ?? []).map((r) => [r.urn, r.outputs]));

    beforeAll(() => {
        seconds.record("server start", s3.startSeconds);
        ws = renderingDevWorkspace();
        ws.backendEnv = s3.env();
        const init = ws.pulumi(["stack", "init", "dev", "--secrets-provider", "passphrase", "--no-select"]);
        if (init.code !== 0) throw new Error(`stack init in the bucket failed: ${init.output}`);
    });

    afterAll(() => {
        seconds.print();
        if (ws) rmSync(ws.dir, { recursive: true, force: true });
    });

    it("refuses anonymous requests and wrong credentials", () => {
        const anonymous = s3.get(`/${s3.bucket}?list-type=2`, null);
        expect(anonymous.code).not.toBe(0);
        expect(anonymous.stdout).toContain("<Code>AccessDenied</Code>");
        const wrong = ws.pulumi(["stack", "ls"], s3.env({ ...s3.credentials, secretAccessKey: "not-the-secret" }));
        expect(wrong.code).toBe(1);
        expect(wrong.output).toContain(
            "api error SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        );
        expect(wrong.output).not.toContain("not-the-secret");
    });

    it("`pulumi up` writes the dev stack's state into the bucket", async () => {
        const r = await seconds.time("up (20 resources)", () => pulumiAsync(ws, ["up", "--yes", "--skip-preview"]));
        expect(r.code, r.output).toBe(0);
        expect(r.output).toMatch(/Resources:\s+\+ 20 created/);
        expect(s3.keys(".pulumi/stacks/")).toContain(".pulumi/stacks/oceanid-infra/dev.json");
        expect(s3.keys(LOCKS)).toEqual([]);
        expect(exported().deployment.resources).toHaveLength(20);
    });

    it("a second `up` while one runs is refused by the lock and changes nothing", async () => {
        const before = exported();
        let pid = 0;
        const first = pulumiAsync(ws, ["up", "--yes", "--skip-preview"], undefined, { started: (child) => (pid = child.pid ?? 0) });
        // Pulumi lists the locks, writes its own, lists again: no atomic step. Start the second once the first holds its lock.
        const [lock] = await pollUntil("the first up's lock object", () => {
            const keys = s3.keys(LOCKS);
            return keys.length > 0 ? keys : undefined;
        });
        expect(lock).toMatch(/^\.pulumi\/locks\/organization\/oceanid-infra\/dev\/[0-9a-f-]{36}\.json$/);
        const second = await seconds.time("refused up", () => pulumiAsync(ws, ["up", "--yes", "--skip-preview"]));
        const done = await first;
        expect(done.code, done.output).toBe(0);
        expect(second.code).toBe(1);
        // Pulumi names the lock by the backend URL as it uses it: query sorted, its own checksum setting added.
        const query = new URLSearchParams([
            ["endpoint", s3.endpoint],
            ["region", REGION],
            ["request_checksum_calculation", "when_required"],
            ["response_checksum_validation", "when_required"],
            ["use_path_style", "true"],
        ]);
        const holder = `  s3://${s3.bucket}/${lock}?${query}: created by ${userInfo().username}@${hostname()} (pid ${pid}) at `;
        const at = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(Z|[+-]\\d\\d:\\d\\d)";
        expect(second.stderr.split("\n")).toEqual([LOCKED, expect.stringMatching(new RegExp(`^${escape(holder)}${at}$`)), ""]);
        expect(second.stdout).toBe("");
        const after = exported();
        // The same resources with the same outputs (the order in the checkpoint follows registration, which varies).
        expect(outputsByUrn(after)).toEqual(outputsByUrn(before));
        expect(s3.keys(LOCKS)).toEqual([]);
    });

    it("the state survives the server restarting", async () => {
        const before = exported();
        seconds.record("server restart", await s3.restart());
        expect(exported()).toEqual(before);
        const preview = await seconds.time("preview after restart", () => pulumiAsync(ws, ["preview", "--expect-no-changes"]));
        expect(preview.code, preview.output).toBe(0);
        expect(preview.output).toMatch(/Resources:\s+20 unchanged/);
    });

    it("an `up` killed with SIGKILL leaves its lock; `pulumi cancel` clears it and the next `up` converges", async () => {
        // A change to deploy: the gateway's policies for a second opted-in namespace.
        ws.editConfig(["oceanid:egress", "namespaces"], ["apps", "batch"]);
        let session = 0;
        let output = "";
        let killing = false;
        // The machine running the update is gone: the CLI and every plugin it started (each in a process group of
        // its own, all in the CLI's session). Killing the CLI alone leaves them running for minutes.
        const killed = await pulumiAsync(ws, ["up", "--yes", "--skip-preview"], undefined, {
            detached: true,
            started: (child) => {
                session = child.pid ?? 0;
                child.stdout?.on("data", (d) => {
                    output += d;
                    if (killing || !/^ \+ +\S+ \S+ creating/m.test(output)) return;
                    killing = true;
                    for (const pid of inSession(session)) {
                        try {
                            process.kill(pid, "SIGKILL");
                        } catch {
                            // gone meanwhile
                        }
                    }
                });
            },
        });
        expect(killed.code, killed.output).toBe(-1);
        expect(killed.output).not.toContain("created");
        await pollUntil("the killed update's processes gone", () => (inSession(session).length === 0 ? true : undefined));
        expect(s3.keys(LOCKS)).toHaveLength(1);

        const refused = await pulumiAsync(ws, ["up", "--yes", "--skip-preview"]);
        expect(refused.code).toBe(1);
        expect(refused.stderr.split("\n")[0]).toBe(LOCKED);

        const cancel = await pulumiAsync(ws, ["cancel", "--yes"]);
        expect(cancel.code, cancel.output).toBe(0);
        expect(cancel.output).toBe("The currently running update for 'dev' has been canceled!\n");
        expect(s3.keys(LOCKS)).toEqual([]);

        const pendingBefore = (exported().deployment.pending_operations ?? []).map((p) => `${p.type} ${p.resource.urn}`);
        const up = await seconds.time("up after cancel", () => pulumiAsync(ws, ["up", "--yes", "--skip-preview"]));
        expect(up.code, up.output).toBe(0);
        // Whether the killed update checkpointed its in-flight create as a pending operation depends on when the
        // kill lands. Pulumi keeps such an operation through `up` (which creates the resource again) and warns
        // about it, naming it, until it is cleared (docs/delivery.md, "Team state").
        const pendingAfter = (exported().deployment.pending_operations ?? []).map((p) => `${p.type} ${p.resource.urn}`);
        expect(pendingAfter).toEqual(pendingBefore);
        for (const p of pendingBefore) {
            expect(p).toMatch(/^creating urn:pulumi:dev::oceanid-infra::\S+::egress-gateway-batch-only$/);
            expect(up.output).toContain(`${p.split(" ")[1]}, interrupted while creating`);
        }
        if (pendingAfter.length > 0) {
            // `refresh` cannot clear it here (a rendering provider reaches no cluster); an export and import does.
            const file = join(ws.dir, "repair.json");
            try {
                expect((await pulumiAsync(ws, ["stack", "export", "--file", file])).code).toBe(0);
                const imported = await pulumiAsync(ws, ["stack", "import", "--file", file]);
                expect(imported.code, imported.output).toBe(0);
                for (const p of pendingAfter) expect(imported.output).toContain(`removing pending operation 'creating' on '${p.split(" ")[1]}' from snapshot`);
            } finally {
                rmSync(file, { force: true });
            }
        }
        expect(exported().deployment.pending_operations ?? []).toEqual([]);
        const preview = await pulumiAsync(ws, ["preview", "--expect-no-changes"]);
        expect(preview.code, preview.output).toBe(0);
        expect(preview.output).toMatch(/Resources:\s+\d+ unchanged/);
    });

    it("no secret is in the bucket in plain text: not in the objects, not in weed's files", () => {
        const keys = s3.keys();
        expect(keys).toContain(".pulumi/stacks/oceanid-infra/dev.json");
        const objects = keys.map((k) => {
            const r = s3.get(`/${s3.bucket}/${k}`);
            if (r.code !== 0) throw new Error(`GET ${k} failed: ${r.output}`);
            return r.stdout;
        });
        // The secret is in the bucket, encrypted: each update's history keeps the stack's config as the stack file holds it.
        const ciphertext = (readStackFile("dev")["oceanid:tailscaleAuthKey"] as { secure: string }).secure;
        expect(keys.filter((_key, i) => objects[i].includes(ciphertext))).toEqual(expect.arrayContaining([expect.stringMatching(/^\.pulumi\/history\//)]));
        for (const text of objects) {
            expect(text).not.toContain(DEV_SECRET);
            expect(text).not.toContain(DEV_PASSPHRASE);
        }
        const files = readdirSync(join(s3.dir, "data"), { recursive: true })
            .map((f) => join(s3.dir, "data", String(f)))
            .filter((f) => statSync(f).isFile());
        expect(files.length).toBeGreaterThan(0);
        for (const f of files) {
            const bytes = readFileSync(f);
            expect(bytes.includes(DEV_SECRET), f).toBe(false);
            expect(bytes.includes(DEV_PASSPHRASE), f).toBe(false);
        }
    });
});
