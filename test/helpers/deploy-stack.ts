// The e2e stack: the dev stack's topology deployed into a real API server
// (kubernetes.mode "cluster"), in a scratch workspace. Pulumi runs
// asynchronously here so a test can act as the cluster's kubelets meanwhile.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { TOOLS_BIN, Workspace, type CliResult } from "./pulumi-cli";

/** Runs pulumi in the workspace without blocking; `stdin` is fed to it (secret values go only there). */
export function pulumiAsync(ws: Workspace, args: string[], stdin?: string): Promise<CliResult> {
    const runsProgram = ["preview", "up", "destroy", "refresh"].includes(args[0]);
    const full = [
        ...args,
        "--stack",
        ws.stack,
        ...(runsProgram || args[0] === "config" ? ["--config-file", ws.configFile] : []),
        "--non-interactive",
        "--color",
        "never",
    ];
    return new Promise((resolve) => {
        const child = spawn(join(TOOLS_BIN, "pulumi"), full, { cwd: ws.cwd, env: ws.env(), stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, output: stdout + stderr }));
        child.stdin.end(stdin ?? "");
    });
}

/**
 * A scratch e2e stack from Pulumi.dev.yaml (same topology, public passphrase and dummy
 * auth key) that deploys into the cluster behind `kubeconfig`, given on stdin as a secret.
 */
export async function e2eWorkspace(kubeconfig: string): Promise<Workspace> {
    const ws = new Workspace("e2e", "oceanid-dev-only", "dev");
    ws.editConfig(["oceanid:kubernetes"], { mode: "cluster" });
    const set = await pulumiAsync(ws, ["config", "set", "--secret", "oceanid:kubeconfig"], kubeconfig);
    if (set.code !== 0) throw new Error(`pulumi config set --secret oceanid:kubeconfig failed: ${set.output}`);
    return ws;
}
