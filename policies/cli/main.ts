import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { evaluate } from "../engine/evaluate";
import { GuardConfigError, loadGuardConfig } from "../engine/guard-config";
import { RULES } from "../rules";
import { readManifests } from "./read-manifests";
import { exitCode, toJson, toText, type GuardReport } from "./report";
import { toSarif } from "./sarif";

export const USAGE = `usage: oceanid-guard [--format text|json|sarif] [--config FILE] PATH...
  PATH     a manifest file (YAML or JSON), a directory (searched recursively), or - for stdin
  --format text (default), json, or sarif (SARIF 2.1.0 for code scanning)
  --config guard config with the platform exemption list (default: policies/guard-config.yaml)
exit: 0 no mandatory violation, 1 at least one, 2 usage error or unreadable input`;

export const DEFAULT_CONFIG = join(__dirname, "..", "guard-config.yaml");

export interface GuardIo {
    stdout(text: string): void;
    stderr(text: string): void;
    readStdin(): string;
    now(): Date;
}

const FORMATS = ["text", "json", "sarif"] as const;

/** Runs oceanid-guard; returns the exit code. Never throws for bad input: it says what is wrong. */
export function main(argv: readonly string[], io: GuardIo): number {
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            options: {
                format: { type: "string", default: "text" },
                config: { type: "string", default: DEFAULT_CONFIG },
                help: { type: "boolean", short: "h", default: false },
            },
            allowPositionals: true,
            strict: true,
        });
    } catch (err) {
        // Node's messages go on with advice about "--"; the first sentence is the point.
        io.stderr(`oceanid-guard: ${(err as Error).message.split(". ")[0]}\n${USAGE}\n`);
        return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
        io.stdout(`${USAGE}\n`);
        return 0;
    }
    const format = values.format as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) {
        io.stderr(`oceanid-guard: --format must be one of ${FORMATS.join(", ")}, got "${values.format}"\n${USAGE}\n`);
        return 2;
    }
    if (positionals.length === 0) {
        io.stderr(`oceanid-guard: no PATH given\n${USAGE}\n`);
        return 2;
    }
    let config;
    try {
        config = loadGuardConfig(
            values.config,
            RULES.map((r) => r.id),
        );
    } catch (err) {
        if (err instanceof GuardConfigError) {
            io.stderr(`oceanid-guard: ${err.message}\n`);
            return 2;
        }
        throw err;
    }

    const read = readManifests(positionals, io.readStdin);
    const { violations, exemptions } = evaluate(read.objects, RULES, config, { annotations: true, now: io.now() });
    const report: GuardReport = { files: read.files, objects: read.objects.length, violations, exemptions, errors: read.errors };

    if (format === "json") io.stdout(`${toJson(report)}\n`);
    else if (format === "sarif") io.stdout(`${toSarif(report, RULES, packageVersion())}\n`);
    else io.stdout(`${toText(report)}\n`);
    // Unreadable input is also said on stderr, so a JSON or SARIF consumer's caller sees it.
    for (const e of read.errors) io.stderr(`oceanid-guard: ${e.file}${e.line ? `:${e.line}` : ""}: ${e.message}\n`);
    return exitCode(report);
}

function packageVersion(): string {
    const pkg = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { version: string };
    return pkg.version;
}
