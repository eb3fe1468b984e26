import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { AppliedExemption } from "../engine/exemptions";
import { evaluate, PersistentVolumeMounts, withMounts, type Violation } from "../engine/evaluate";
import { GuardConfigError, loadGuardConfig } from "../engine/guard-config";
import { RULES } from "../rules";
import { DEFAULT_GUARD_CONFIG, POLICIES_DIR } from "./paths";
import { readManifests, type InputError } from "./read-manifests";
import { exitCode, toJson, toText, type GuardReport } from "./report";
import { toSarif } from "./sarif";

export const USAGE = `usage: oceanid-guard [--format text|json|sarif] [--config FILE] PATH...
  PATH     a manifest file (YAML or JSON), a directory (searched recursively), or - for stdin
  --format text (default), json, or sarif (SARIF 2.1.0 for code scanning)
  --config guard config with the platform exemption list (default: policies/guard-config.yaml)
exit: 0 no mandatory violation, 1 at least one, 2 usage error or unreadable input`;

export interface GuardIo {
    stdout(text: string): void;
    stderr(text: string): void;
    /** Stdin's bytes, decoded as a file's are (a byte-order mark chooses UTF-16), or its text. */
    readStdin(): string | Uint8Array;
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
                config: { type: "string", default: DEFAULT_GUARD_CONFIG },
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

    // Each document is checked as soon as it is read, and only what it broke is kept.
    const read = readManifests(positionals, io.readStdin);
    const opts = { annotations: true, now: io.now() };
    let objects = 0;
    const violations: Violation[] = [];
    const exemptions: AppliedExemption[] = [];
    const errors: InputError[] = [];
    // Only names: which workloads mount which claims, to name them in a PersistentVolume's violation.
    const mounts = new PersistentVolumeMounts();
    for (const item of read.items) {
        if ("error" in item) {
            errors.push(item.error);
            continue;
        }
        objects += item.objects.length;
        for (const o of item.objects) mounts.add(o);
        const found = evaluate(item.objects, RULES, config, opts);
        // Copies: a name or reason cut from a file's text would keep all of that text alive after the file is done.
        for (const v of found.violations) violations.push(structuredClone(v));
        for (const e of found.exemptions) exemptions.push(structuredClone(e));
    }
    const report: GuardReport = { files: read.files, objects, violations: violations.map((v) => withMounts(v, mounts)), exemptions, errors };

    if (format === "json") io.stdout(`${toJson(report)}\n`);
    else if (format === "sarif") io.stdout(`${toSarif(report, RULES, packageVersion())}\n`);
    else io.stdout(`${toText(report)}\n`);
    // Unreadable input is also said on stderr, so a JSON or SARIF consumer's caller sees it.
    for (const e of errors) io.stderr(`oceanid-guard: ${e.file}${e.line ? `:${e.line}` : ""}: ${e.message}\n`);
    return exitCode(report);
}

function packageVersion(): string {
    const pkg = JSON.parse(readFileSync(join(POLICIES_DIR, "package.json"), "utf8")) as { version: string };
    return pkg.version;
}
