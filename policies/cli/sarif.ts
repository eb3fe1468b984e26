import { SarifBuilder, SarifResultBuilder, SarifRuleBuilder, SarifRunBuilder } from "node-sarif-builder";
import type { Rule } from "../engine/rule";
import type { GuardReport } from "./report";

const PARSE_ERROR_RULE = "oceanid-guard-input";

/** SARIF 2.1.0 for GitHub code scanning: rule metadata, one result per violation, file and line locations. */
export function toSarif(report: GuardReport, rules: readonly Rule[], version: string): string {
    const run = new SarifRunBuilder().initSimple({ toolDriverName: "oceanid-guard", toolDriverVersion: version });
    for (const rule of rules) {
        run.addRule(new SarifRuleBuilder().initSimple({ ruleId: rule.id, shortDescriptionText: rule.description, fullDescriptionText: rule.remediation }));
    }
    run.addRule(new SarifRuleBuilder().initSimple({ ruleId: PARSE_ERROR_RULE, shortDescriptionText: "A manifest could not be read or parsed." }));
    for (const v of report.violations) {
        run.addResult(
            new SarifResultBuilder().initSimple({
                level: v.enforcementLevel === "mandatory" ? "error" : "warning",
                ruleId: v.policy,
                messageText: `${v.message}. Fix: ${v.remediation}`,
                ...(v.file ? { fileUri: v.file } : {}),
                ...(v.line ? { startLine: v.line } : {}),
            }),
        );
    }
    for (const e of report.errors) {
        run.addResult(
            new SarifResultBuilder().initSimple({
                level: "error",
                ruleId: PARSE_ERROR_RULE,
                messageText: e.message,
                fileUri: e.file,
                ...(e.line ? { startLine: e.line } : {}),
            }),
        );
    }
    const log = new SarifBuilder();
    log.addRun(run);
    return log.buildSarifJsonString({ indent: true });
}
