// The e2e stack: the dev stack's topology deployed into a real API server
// (kubernetes.mode "cluster"), in a scratch workspace. Pulumi runs
// asynchronously here so a test can act as the cluster's kubelets meanwhile.
import { join } from "node:path";
import { runAsync, TOOLS_BIN, Workspace, type CliResult, type SpawnHooks } from "./pulumi-cli";

/** Runs pulumi in the workspace without blocking; `stdin` is fed to it (secret values go only there); `hooks` as in runAsync. */
export function pulumiAsync(ws: Workspace, args: string[], stdin?: string, hooks: SpawnHooks = {}): Promise<CliResult> {
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
    return runAsync(join(TOOLS_BIN, "pulumi"), full, { cwd: ws.cwd, env: ws.env(), stdin, ...hooks });
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
