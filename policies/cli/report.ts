import type { AppliedExemption } from "../engine/exemptions";
import type { Violation } from "../engine/evaluate";
import { describeKindName } from "../engine/kube-object";
import type { InputError } from "./read-manifests";

/** Everything one oceanid-guard run found, before formatting. */
export interface GuardReport {
    readonly files: readonly string[];
    readonly objects: number;
    readonly violations: readonly Violation[];
    readonly exemptions: readonly AppliedExemption[];
    readonly errors: readonly InputError[];
}

/** 0: no mandatory violation; 1: at least one; 2: some input could not be read (reported all the same). */
export function exitCode(report: GuardReport): 0 | 1 | 2 {
    if (report.errors.length > 0) return 2;
    return report.violations.some((v) => v.enforcementLevel === "mandatory") ? 1 : 0;
}

export function summary(report: GuardReport) {
    return {
        files: report.files.length,
        objects: report.objects,
        mandatory: report.violations.filter((v) => v.enforcementLevel === "mandatory").length,
        advisory: report.violations.filter((v) => v.enforcementLevel === "advisory").length,
        exemptions: report.exemptions.length,
        errors: report.errors.length,
    };
}

/** The JSON output: stable field names, one violation per rule broken per object. */
export function toJson(report: GuardReport): string {
    return JSON.stringify(
        {
            violations: report.violations.map((v) => ({
                policy: v.policy,
                enforcementLevel: v.enforcementLevel,
                kind: v.kind,
                name: v.name,
                namespace: v.namespace ?? null,
                file: v.file ?? null,
                line: v.line ?? null,
                message: v.message,
                remediation: v.remediation,
            })),
            exemptions: report.exemptions,
            errors: report.errors,
            summary: summary(report),
        },
        null,
        2,
    );
}

/** Human-readable output, grouped by file. */
export function toText(report: GuardReport): string {
    const out: string[] = [];
    const byFile = new Map<string, { line: number; text: string }[]>();
    const add = (file: string, line: number, text: string) => {
        if (!byFile.has(file)) byFile.set(file, []);
        byFile.get(file)!.push({ line, text });
    };
    for (const e of report.errors) add(e.file, e.line ?? 0, `${e.line ? `line ${e.line}: ` : ""}error: ${e.message}`);
    for (const v of report.violations) {
        add(
            v.file ?? "<unknown>",
            v.line ?? 0,
            `${v.line ? `line ${v.line}: ` : ""}${v.enforcementLevel} ${v.policy}: ${v.message}\n      fix: ${v.remediation}`,
        );
    }
    for (const [file, entries] of byFile) {
        out.push(file);
        for (const e of entries.sort((a, b) => a.line - b.line)) out.push(`  ${e.text}`);
        out.push("");
    }
    for (const e of report.exemptions) {
        out.push(
            `exempt: ${describeKindName(e.kind, e.namespace, e.name)} from ${e.policy} (${e.source}${e.expires ? `, until ${e.expires}` : ""}` +
                `${e.allowed ? `; allows only ${e.allowed.join(", ")}` : ""}): ${e.reason}`,
        );
    }
    const s = summary(report);
    out.push(
        `${s.files} file${s.files === 1 ? "" : "s"}, ${s.objects} object${s.objects === 1 ? "" : "s"}: ` +
            `${s.mandatory} mandatory, ${s.advisory} advisory, ${s.exemptions} exempt, ${s.errors} unreadable`,
    );
    return out.join("\n");
}
