import { envBadCel, envSetting, exitNodeBadCel, extraArgsExitNode, goFields, isUnseen, tailscaledConfig, tailscaledConfigCel, type Unseen } from "./tailscale";
import {
    commandConfigCel,
    commandConfigs,
    commandExitNodes,
    commandLines,
    commandLinesCel,
    unseenInLine,
    unseenInLineCel,
    unseenMounts,
} from "./tailscale-command-lines";
import type { Unknown } from "./unknown";

// Everywhere a Tailscale container's exit node can come from: TS_EXTRA_ARGS
// (containerboot hands it to `tailscale up`/`set`), `--exit-node` in a command
// line it runs (command, args, hooks, exec probes), and a tailscaled config
// file (ipn.ConfigVAlpha's exitNode), which containerboot passes for
// TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR and tailscaled takes from `--config`.
// A config file's content, a value kept outside the manifest and a command
// line that expands words when it runs cannot be read: they fail closed.
// Persisted state (TS_KUBE_SECRET, TS_STATE_DIR) is not read: it holds the
// exit node an earlier run set, as a stable node ID or an IP, never a name.

export type ExitNodeSetting =
    /** An --exit-node value (may be ""), and where it was found: `TS_EXTRA_ARGS`, `command`, `lifecycle.postStart`… */
    | { readonly value: string; readonly where: string }
    /** A source whose exit node cannot be read: `<setting> <why>`. */
    | { readonly unseen: Unseen; readonly setting: string };

/** The config-dir variable; containerboot gives tailscaled `--config=<dir>/cap-<version>.hujson` when it is not empty. */
export const CONFIG_DIR_ENV = "TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR";

const CONFIG_WHY = "gives tailscaled a config file, whose exitNode the manifest does not show";

/** Every exit node the container asks for, and every source of one that cannot be read. */
export function exitNodeSettings(container: unknown, volumes: unknown[] | Unknown): ExitNodeSetting[] {
    const out: ExitNodeSetting[] = [];
    const extra = envSetting(container, "TS_EXTRA_ARGS");
    if (isUnseen(extra)) out.push({ unseen: extra, setting: "TS_EXTRA_ARGS" });
    else if (extra !== undefined) {
        const value = extraArgsExitNode(extra);
        if (value !== undefined) out.push({ value, where: "TS_EXTRA_ARGS" });
    }
    const configDir = envSetting(container, CONFIG_DIR_ENV);
    if (isUnseen(configDir)) out.push({ unseen: configDir, setting: CONFIG_DIR_ENV });
    else if (configDir !== undefined && configDir !== "") out.push({ unseen: { why: CONFIG_WHY, pending: false }, setting: `${CONFIG_DIR_ENV}=${configDir}` });
    const daemonArgs = envSetting(container, "TS_TAILSCALED_EXTRA_ARGS");
    if (isUnseen(daemonArgs)) out.push({ unseen: daemonArgs, setting: "TS_TAILSCALED_EXTRA_ARGS" });
    else if (daemonArgs !== undefined) {
        const config = tailscaledConfig(goFields(daemonArgs));
        if (config !== undefined) out.push({ unseen: { why: CONFIG_WHY, pending: false }, setting: `--config=${config} in TS_TAILSCALED_EXTRA_ARGS` });
    }
    const mounts = unseenMounts(container, volumes);
    for (const line of commandLines(container)) {
        const unseen = unseenInLine(line, mounts);
        if (unseen !== undefined) {
            out.push({ unseen, setting: `its ${line.where}` });
            continue;
        }
        const words = line.words as readonly string[];
        out.push(...commandExitNodes(words).map((value) => ({ value, where: line.where })));
        out.push(...commandConfigs(words).map((config) => ({ unseen: { why: CONFIG_WHY, pending: false }, setting: `--config=${config} in ${line.where}` })));
    }
    return out;
}

/**
 * exitNodeSettings in CEL for container `c`: the exit node's sources must all
 * be seen and `valid`, each check as broad as its twin (see exitNodeBadCel,
 * tailscaledConfigCel, unseenInLineCel).
 */
export const exitNodeSettingsBadCel = (valid: (value: string) => string): string =>
    `(${envBadCel("TS_EXTRA_ARGS", (v) => exitNodeBadCel(v, valid))} || ` +
    `${envBadCel(CONFIG_DIR_ENV, (v) => `${v} != ""`)} || ` +
    `${envBadCel("TS_TAILSCALED_EXTRA_ARGS", tailscaledConfigCel)} || ` +
    `${commandLinesCel}.exists(l, ${unseenInLineCel('l.join(" ")')} || ${exitNodeBadCel('l.join(" ")', valid)} || ${commandConfigCel('l.join(" ")')}))`;
