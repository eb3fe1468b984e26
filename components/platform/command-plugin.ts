import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

/** The command provider the node changes run on; package.json pins @pulumi/command to the same version. */
export const COMMAND_PLUGIN_VERSION = "1.2.1";

/** Where the engine keeps the plugin under a PULUMI_HOME. */
export const commandPluginDir = (pulumiHome: string) => join(pulumiHome, "plugins", `resource-command-v${COMMAND_PLUGIN_VERSION}`);

/**
 * Says why node changes cannot run when the command provider plugin is not
 * installed, the way the engine would look for it (`$PULUMI_HOME/plugins`, or
 * on PATH when ambient plugins are allowed); undefined when it is there.
 * Without this the engine fails on the first node command with a long error.
 */
export function commandPluginProblem(env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): string | undefined {
    const home = env.PULUMI_HOME || join(homedir(), ".pulumi");
    if (exists(commandPluginDir(home))) return undefined;
    if (env.PULUMI_IGNORE_AMBIENT_PLUGINS !== "true") {
        const onPath = (env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && exists(join(dir, "pulumi-resource-command")));
        if (onPath) return undefined;
    }
    return (
        `nodeAccess "ssh" runs node changes with the command provider plugin ${COMMAND_PLUGIN_VERSION}, which is not installed: ` +
        `run 'pulumi plugin install resource command ${COMMAND_PLUGIN_VERSION}' (stacks with nodeAccess "none", like dev, do not need it)`
    );
}
