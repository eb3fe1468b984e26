/**
 * What the step commands (gate, drain, uncordon) share: rendering `npx --no-install oceanid-health
 * <step> ...` for the Pulumi program, and reading flags back with the same rules. Pure, and free
 * of the Kubernetes client, so the program can load it.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** The program runs the CLI from the project's own node_modules, never a download. */
export const COMMAND_PREFIX = "npx --no-install oceanid-health";

/** Bad step arguments; the message names each bad flag and what it wants. */
export class ArgsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ArgsError";
    }
}

/**
 * `npx --no-install oceanid-health <step> --flag value ...`. Values come shell-quoted (shellWord,
 * shellQuote); a flag without a value is a boolean switch.
 */
export function renderCommand(step: string, flags: ReadonlyArray<readonly [string, string?]>): string {
    // A value starting with "-" would read as a flag: attach it with "=".
    const words = flags.map(([flag, value]) => (value === undefined ? flag : `${flag}${/^'?-/.test(value) && value !== "-" ? "=" : " "}${value}`));
    return [`${COMMAND_PREFIX} ${step}`, ...words].join(" ");
}

/** `util.parseArgs` in strict mode, its complaint cut to one sentence. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(argv: readonly string[], options: T) {
    try {
        return parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }).values;
    } catch (err) {
        throw new ArgsError(firstSentence((err as Error).message));
    }
}

/** The value of a required string flag; an absent or empty one is added to `problems`. */
export function requiredFlag(values: Record<string, unknown>, flag: string, problems: string[]): string {
    const v = values[flag];
    if (typeof v !== "string" || v === "") problems.push(`--${flag} is required`);
    return typeof v === "string" ? v : "";
}

/**
 * A number of seconds: positive (or, with `allowZero`, zero too), whole with `integer`. A bad one
 * is added to `problems` and comes back as NaN.
 */
export function secondsFlag(flag: string, text: string, problems: string[], opts: { integer: boolean; allowZero?: boolean }): number {
    if (text === "") return NaN;
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0 || (opts.allowZero && n === 0)) || (opts.integer && !Number.isInteger(n))) {
        const kind = opts.allowZero ? "non-negative" : "positive";
        problems.push(`--${flag} must be a ${kind} ${opts.integer ? "whole " : ""}number of seconds, got ${JSON.stringify(text)}`);
        return NaN;
    }
    return n;
}

/** The checks every step shares for --context and --kubeconfig. */
export function checkConnectionFlags(values: { context?: unknown; kubeconfig?: unknown }, problems: string[]): void {
    if (values.context === "") problems.push("--context must not be empty");
    if (values.kubeconfig === "") problems.push("--kubeconfig must be a path or - for stdin");
}

/** Node's parseArgs messages go on with advice about "--"; the first sentence is the point. */
export function firstSentence(message: string): string {
    return message.split("\n")[0].split(". ")[0].replace(/\.$/, "");
}
