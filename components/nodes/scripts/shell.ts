import { shellQuote } from "../../platform/shell-quote";

/**
 * The command line that runs one step's script on a node: as root (through
 * `sudo -n` for any other login, which fails fast instead of prompting) and
 * bounded by `timeout`, since the command provider has no time limit of its own.
 */
export function stepCommand(script: string, opts: { user: string; timeoutSeconds: number }): string {
    const sudo = opts.user === "root" ? "" : "sudo -n ";
    return `${sudo}timeout -k 10 ${opts.timeoutSeconds} bash -c ${shellQuote(script)}`;
}
