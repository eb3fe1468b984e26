/** The stack check mode and the exporter read: its validated settings, and the cluster CA for the server ping. */
import type { KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseStackConfig, type StackSettings } from "../config/stack-config";
import { StackConfigError } from "../config/problems";
import { rawFromStackConfig, readStackConfigFile } from "../config/stack-file";
import { CannotCheck, fileError } from "./session";

/** The stack's validated settings, from `Pulumi.<stack>.yaml` in `cwd` or a given file. */
export function loadSettings(stack: string | undefined, configFile: string | undefined, cwd: string): StackSettings {
    const path = configFile !== undefined ? resolve(cwd, configFile) : join(cwd, `Pulumi.${stack}.yaml`);
    const name = stack ?? /^Pulumi\.(.+)\.ya?ml$/.exec(basename(path))?.[1] ?? basename(path);
    let config;
    try {
        config = readStackConfigFile(path);
    } catch (err) {
        const hint = stack !== undefined ? " (run in the project directory, or give --config-file PATH)" : "";
        throw new CannotCheck(`cannot read stack file ${path}: ${fileError(err)}${hint}`);
    }
    try {
        return parseStackConfig(rawFromStackConfig(name, config, configFile !== undefined ? path : undefined));
    } catch (err) {
        if (err instanceof StackConfigError) throw new CannotCheck(err.message);
        throw err;
    }
}

/** The current cluster's CA as PEM, for the server ping; undefined means the system's CAs. */
export function clusterCa(kc: KubeConfig): string | undefined {
    const cluster = kc.getCurrentCluster();
    if (cluster?.caData) return Buffer.from(cluster.caData, "base64").toString("utf8");
    if (cluster?.caFile) {
        try {
            return readFileSync(cluster.caFile, "utf8");
        } catch {
            return undefined;
        }
    }
    return undefined;
}
