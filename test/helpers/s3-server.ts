// A real S3-compatible server for one test file (scripts/test-s3: SeaweedFS's
// `weed server` on loopback): started in beforeAll with a fresh bucket and a
// random identity, stopped in afterAll. Like the test cluster it stops by itself
// when this test process dies, so a crashed run leaves nothing behind.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { runAsync, type CliResult } from "./pulumi-cli";
import { ROOT } from "./stack-file";

const SCRIPT = join(ROOT, "scripts", "test-s3");
/** Longer than any test file; the server ends with its test process anyway. */
const LIFETIME_SECONDS = 1800;
/** The identity that owns the bucket; it may use that bucket and nothing else. */
const IDENTITY = "oceanid-state";
/** The AWS SDK wants a region even for a server that has none. */
export const REGION = "us-east-1";

export interface S3Credentials {
    accessKeyId: string;
    secretAccessKey: string;
}

export interface S3Server {
    /** The server's directory: data/ (weed's own files), logs/. */
    readonly dir: string;
    /** http://127.0.0.1:<port> */
    readonly endpoint: string;
    readonly bucket: string;
    /** The bucket's identity, generated for this test file. */
    readonly credentials: S3Credentials;
    /** What `pulumi login` takes for the bucket: no credentials in it. */
    readonly backendUrl: string;
    /** Seconds `scripts/test-s3 start` took. */
    readonly startSeconds: number;
    /** PULUMI_BACKEND_URL and the AWS_* variables for a pulumi run against the bucket (other credentials if given). */
    env(credentials?: S3Credentials): Record<string, string>;
    /** Stops weed and starts it again on the same data and ports; resolves to the seconds it took. */
    restart(): Promise<number>;
    /**
     * A SigV4-signed GET of `path` (`/<bucket>/<key>`, `/<bucket>?list-type=2`) with curl, the secret on curl's stdin;
     * `null` credentials: an anonymous request.
     */
    get(path: string, credentials?: S3Credentials | null): CliResult;
    /** The bucket's object keys under `prefix`, listed through the S3 API (ListObjectsV2). */
    keys(prefix?: string): string[];
}

const random = (bytes: number) => randomBytes(bytes).toString("hex");
const run = (args: string[]) => runAsync("bash", [SCRIPT, ...args], { cwd: ROOT });

/**
 * Registers beforeAll/afterAll that start and stop an S3 server for the calling
 * test file. The returned object is usable inside tests and hooks declared
 * after this call.
 */
export function useS3Server(): S3Server {
    const bucket = `oceanid-state-${random(4)}`;
    const credentials: S3Credentials = { accessKeyId: `AK${random(9).toUpperCase()}`, secretAccessKey: random(20) };
    let state: { dir: string; endpoint: string; startSeconds: number } | undefined;
    const get = () => {
        if (!state) throw new Error("the S3 server is not started: use it inside tests or hooks");
        return state;
    };
    // response_checksum_validation: weed sends no checksums, and the AWS SDK would warn on every read.
    const backendUrl = () => `s3://${bucket}?endpoint=${get().endpoint}&region=${REGION}&use_path_style=true&response_checksum_validation=when_required`;

    beforeAll(async () => {
        const dir = mkdtempSync(join(tmpdir(), "oceanid-s3-"));
        const identities = join(dir, "identities.json");
        const actions = ["Read", "Write", "List", "Tagging"].map((a) => `${a}:${bucket}`);
        writeFileSync(
            identities,
            JSON.stringify({
                identities: [{ name: IDENTITY, credentials: [{ accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey }], actions }],
            }),
            { mode: 0o600 },
        );
        const t0 = Date.now();
        // The owner is this process: when it dies the server's reaper stops weed.
        const start = ["start", "--dir", dir, "--owner", String(process.pid), "--lifetime", String(LIFETIME_SECONDS)];
        const setup = ["--s3-config", identities, "--bucket", bucket, "--bucket-owner", IDENTITY];
        let r = await run([...start, ...setup]);
        // Ports are picked free, then bound by weed seconds later: another server may take one meanwhile.
        for (let retry = 0; retry < 2 && r.code !== 0 && r.output.includes("address already in use"); retry++) r = await run([...start, ...setup]);
        rmSync(identities);
        const m = /^S3_ENDPOINT=(.+)\n$/.exec(r.stdout);
        if (r.code !== 0 || !m) {
            rmSync(dir, { recursive: true, force: true });
            throw new Error(`scripts/test-s3 start failed (${r.code}):\n${r.output}`);
        }
        state = { dir, endpoint: m[1], startSeconds: (Date.now() - t0) / 1000 };
    }, 180_000);

    afterAll(async () => {
        if (!state) return;
        const r = await run(["stop", "--dir", state.dir]);
        if (r.code !== 0) throw new Error(`scripts/test-s3 stop failed (${r.code}):\n${r.output}`);
        rmSync(state.dir, { recursive: true, force: true });
    }, 60_000);

    return {
        get dir() {
            return get().dir;
        },
        get endpoint() {
            return get().endpoint;
        },
        bucket,
        credentials,
        get backendUrl() {
            return backendUrl();
        },
        get startSeconds() {
            return get().startSeconds;
        },
        env(c = credentials) {
            return {
                PULUMI_BACKEND_URL: backendUrl(),
                AWS_ACCESS_KEY_ID: c.accessKeyId,
                AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
                // Hermetic: no operator's ~/.aws files, no instance metadata service.
                AWS_CONFIG_FILE: join(get().dir, "no-aws-config"),
                AWS_SHARED_CREDENTIALS_FILE: join(get().dir, "no-aws-credentials"),
                AWS_EC2_METADATA_DISABLED: "true",
            };
        },
        async restart() {
            const t0 = Date.now();
            const r = await run(["restart", "--dir", get().dir]);
            if (r.code !== 0) throw new Error(`scripts/test-s3 restart failed (${r.code}):\n${r.output}`);
            return (Date.now() - t0) / 1000;
        },
        get(path, c = credentials) {
            const sign = c === null ? [] : ["--aws-sigv4", `aws:amz:${REGION}:s3`, "-K", "-"];
            const r = spawnSync("curl", ["-sS", "--fail-with-body", "--max-time", "30", ...sign, `${get().endpoint}${path}`], {
                encoding: "utf8",
                input: c === null ? "" : `user = "${c.accessKeyId}:${c.secretAccessKey}"\n`,
                maxBuffer: 64 << 20,
            });
            const stdout = r.stdout ?? "";
            const stderr = r.stderr ?? "";
            return { code: r.status ?? -1, stdout, stderr, output: stdout + stderr };
        },
        keys(prefix = "") {
            const r = this.get(`/${bucket}?list-type=2&max-keys=1000&prefix=${encodeURIComponent(prefix)}`);
            if (r.code !== 0) throw new Error(`listing s3://${bucket}/${prefix} failed (${r.code}): ${r.output}`);
            // The state of one stack is a few objects: one page holds them all.
            if (r.stdout.includes("<IsTruncated>true</IsTruncated>")) throw new Error(`more than 1000 objects under s3://${bucket}/${prefix}`);
            return [...r.stdout.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
        },
    };
}
