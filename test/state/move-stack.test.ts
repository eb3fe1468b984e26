// scripts/state/move-stack: the dev stack from the local file backend into an S3
// bucket of a real S3-compatible server (test/helpers/s3-server.ts), and the
// refusals that leave both backends as they were.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse } from "yaml";
import { describeNeeding } from "../helpers/needs";
import { renderingDevWorkspace, type CliResult, type Workspace } from "../helpers/pulumi-cli";
import { useS3Server } from "../helpers/s3-server";
import { ROOT } from "../helpers/stack-file";
import { timings } from "../helpers/timings";

const suite = describeNeeding(["pulumi", "weed", "curl", "node"]);
const s3 = useS3Server();
const seconds = timings("move-stack timings (s)");
const SCRIPT = join(ROOT, "scripts", "state", "move-stack");

suite("scripts/state/move-stack", () => {
    let ws: Workspace;
    /** Where the script's temporary export goes: empty again after every run. */
    let tmp: string;
    let fileBackend: string;

    const move = (args: string[], env: Record<string, string> = {}): CliResult => {
        // The script sets PULUMI_BACKEND_URL itself, command by command.
        const r = spawnSync("bash", [SCRIPT, ...args], { cwd: ROOT, encoding: "utf8", env: ws.env({ ...s3.env(), TMPDIR: tmp, ...env }), timeout: 300_000 });
        const stdout = r.stdout ?? "";
        const stderr = r.stderr ?? "";
        return { code: r.status ?? -1, stdout, stderr, output: stdout + stderr };
    };
    const exported = (backendEnv: Record<string, string>) => {
        const r = ws.pulumi(["stack", "export", "--stack", "dev"], backendEnv);
        if (r.code !== 0) throw new Error(`pulumi stack export failed: ${r.output}`);
        return JSON.parse(r.stdout) as { deployment: { resources?: unknown[]; secrets_providers?: unknown } };
    };

    beforeAll(() => {
        ws = renderingDevWorkspace();
        fileBackend = `file://${ws.backend}`;
        tmp = mkdtempSync(join(tmpdir(), "oceanid-move-tmp-"));
        const up = ws.pulumi(["up", "--yes", "--skip-preview"]);
        if (up.code !== 0) throw new Error(`up into the file backend failed: ${up.output}`);
    });

    afterAll(() => {
        seconds.print();
        for (const d of [ws?.dir, tmp]) if (d) rmSync(d, { recursive: true, force: true });
    });

    it("refuses usage errors with exit 2", () => {
        const usage = "usage: scripts/state/move-stack --stack NAME --from URL --to URL";
        expect(move(["--stack", "dev", "--from", fileBackend])).toMatchObject({ code: 2, stderr: `move-stack: --to is required; ${usage}\n` });
        expect(move(["--stack", "dev", "--from", fileBackend, "--to"])).toMatchObject({ code: 2, stderr: `move-stack: --to needs a value; ${usage}\n` });
        expect(move(["--stack", "d/ev", "--from", fileBackend, "--to", s3.backendUrl]).stderr).toContain(
            "move-stack: --stack must be a stack name (letters, digits, '_', '.', '-'), got 'd/ev'",
        );
        expect(move(["--stack", "dev", "--from", fileBackend, "--to", fileBackend])).toMatchObject({
            code: 2,
            stderr: "move-stack: --from and --to are the same backend\n",
        });
    });

    it("refuses a URL that is no backend, or that carries credentials, without echoing them", () => {
        expect(move(["--stack", "dev", "--from", fileBackend, "--to", `${s3.endpoint}/${s3.bucket}`])).toMatchObject({
            code: 2,
            stderr: `move-stack: --to must be a state backend URL (file://DIR, s3://BUCKET?…, gs://BUCKET, azblob://CONTAINER), got '${s3.endpoint}/${s3.bucket}'\n`,
        });
        const { accessKeyId, secretAccessKey } = s3.credentials;
        const withKeys = move(["--stack", "dev", "--from", fileBackend, "--to", s3.backendUrl.replace("s3://", `s3://${accessKeyId}:${secretAccessKey}@`)]);
        expect(withKeys).toMatchObject({
            code: 2,
            stderr: "move-stack: --to must not carry credentials: put them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the cloud's own environment variables)\n",
        });
        expect(s3.keys(".pulumi/stacks/")).toEqual([]);
    });

    it("refuses a stack the source does not have", () => {
        expect(move(["--stack", "prod", "--from", fileBackend, "--to", s3.backendUrl])).toMatchObject({
            code: 2,
            stderr: `move-stack: stack 'prod' is not in ${fileBackend}\n`,
        });
    });

    it("fails with exit 1 and the server's error when the target refuses the credentials", () => {
        const r = move(["--stack", "dev", "--from", fileBackend, "--to", s3.backendUrl], { AWS_SECRET_ACCESS_KEY: "not-the-secret" });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("SignatureDoesNotMatch");
        expect(r.stderr).toContain(`move-stack: cannot list the stacks in s3://${s3.bucket} (above: pulumi's error)`);
        expect(s3.keys(".pulumi/stacks/")).toEqual([]);
    });

    it("moves the stack: same resources, its secrets still encrypted with the same passphrase, nothing to change", async () => {
        const source = exported({});
        const r = await seconds.time("move (20 resources)", async () => move(["--stack", "dev", "--from", fileBackend, "--to", s3.backendUrl]));
        expect(r.code, r.output).toBe(0);
        expect(r.stdout).toBe(
            [
                `moved stack 'dev' (20 resources) from ${fileBackend} to s3://${s3.bucket}`,
                `next: pulumi login '${s3.backendUrl}' (everyone who deploys this stack; the credentials in AWS_* variables)`,
                "the source still holds the stack: once everyone uses the target, remove it there with",
                `  PULUMI_BACKEND_URL='${fileBackend}' pulumi stack rm dev --force --preserve-config`,
                "",
            ].join("\n"),
        );
        expect(readdirSync(tmp)).toEqual([]);
        ws.backendEnv = s3.env();
        const target = exported({});
        expect(target.deployment.resources).toEqual(source.deployment.resources);
        // The passphrase provider with the stack file's salt: the same passphrase decrypts on the target.
        expect(target.deployment.secrets_providers).toEqual({ type: "passphrase", state: { salt: parse(readFileSync(ws.configFile, "utf8")).encryptionsalt } });
        const secret = ws.pulumi(["config", "get", "oceanid:tailscaleAuthKey", "--stack", "dev", "--config-file", ws.configFile]);
        expect(secret.stdout.trim(), secret.output).toBe("dev-dummy-auth-key-not-a-real-credential");
        const preview = await seconds.time("preview on the target", () => Promise.resolve(ws.pulumi(["preview", "--expect-no-changes"])));
        expect(preview.code, preview.output).toBe(0);
        expect(preview.output).toMatch(/Resources:\s+20 unchanged/);
    });

    it("refuses a target that already has the stack, and changes nothing", () => {
        const before = s3.keys();
        const state = s3.get(`/${s3.bucket}/.pulumi/stacks/oceanid-infra/dev.json`).stdout;
        const r = move(["--stack", "dev", "--from", fileBackend, "--to", s3.backendUrl]);
        expect(r).toMatchObject({
            code: 2,
            stderr:
                `move-stack: stack 'dev' already exists in s3://${s3.bucket}: nothing was changed ` +
                "(remove it there first if it is a leftover: PULUMI_BACKEND_URL=… pulumi stack rm dev --preserve-config)\n",
        });
        expect(s3.keys()).toEqual(before);
        expect(s3.get(`/${s3.bucket}/.pulumi/stacks/oceanid-infra/dev.json`).stdout).toBe(state);
        expect(readdirSync(tmp)).toEqual([]);
    });
});
