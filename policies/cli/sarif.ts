import { remediationFor, type Rule } from "../engine/rule";
import type { GuardReport } from "./report";

const PARSE_ERROR_RULE = "oceanid-guard-input";

/** Standard input has no file a code-scanning location could point at. */
const location = (file: string | undefined, line: number | undefined) =>
    file === undefined || file === "<stdin>" ? {} : { fileUri: file, ...(line ? { startLine: line } : {}) };

/** SARIF 2.1.0 for GitHub code scanning: rule metadata, one result per violation, file and line locations. */
export function toSarif(report: GuardReport, rules: readonly Rule[], version: string): string {
    // Loaded here, not at startup: only --format sarif needs the builder library.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load; import() would make the CLI async
    const { SarifBuilder, SarifResultBuilder, SarifRuleBuilder, SarifRunBuilder } = require("node-sarif-builder") as typeof import("node-sarif-builder");
    const run = new SarifRunBuilder().initSimple({ toolDriverName: "oceanid-guard", toolDriverVersion: version });
    for (const rule of rules) {
        run.addRule(new SarifRuleBuilder().initSimple({ ruleId: rule.id, shortDescriptionText: rule.description, fullDescriptionText: remediationFor(rule) }));
    }
    run.addRule(new SarifRuleBuilder().initSimple({ ruleId: PARSE_ERROR_RULE, shortDescriptionText: "A manifest could not be read or parsed." }));
    for (const v of report.violations) {
        run.addResult(
            new SarifResultBuilder().initSimple({
                level: v.enforcementLevel === "mandatory" ? "error" : "warning",
                ruleId: v.policy,
                messageText: `${v.message}. Fix: ${v.remediation}`,
                ...location(v.file, v.line),
            }),
        );
    }
    for (const e of report.errors) {
        run.addResult(
            new SarifResultBuilder().initSimple({
                level: "error",
                ruleId: PARSE_ERROR_RULE,
                messageText: e.message,
                ...location(e.file, e.line),
            }),
        );
    }
    const log = new SarifBuilder();
    log.addRun(run);
    return log.buildSarifJsonString({ indent: true });
}
