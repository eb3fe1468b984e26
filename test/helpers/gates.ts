import { unknownCheckingProxy, type ResourceValidationPolicy } from "@pulumi/policy";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { main } from "../../policies/cli/main";
import { NOTICES_POLICY, packPolicies } from "../../policies/engine/crossguard";
import { parseGuardConfig, type GuardConfig } from "../../policies/engine/guard-config";
import { RULES } from "../../policies/rules";
import { asHelmOutput, type Obj } from "../fixtures/guard-cases";

export const RULE_IDS = RULES.map((r) => r.id);
export const NOW = new Date("2026-11-24T12:00:00Z");

/** What one gate decided for a set of objects: policy IDs, one entry per violation. */
export interface Verdict {
    mandatory: string[];
    advisory: string[];
    exempted: string[];
    messages: string[];
}

export function guardConfig(exemptions: Obj[] = [], unknownValues: "mandatory" | "advisory" = "mandatory"): GuardConfig {
    return parseGuardConfig({ unknownValues, exemptions }, "test", RULE_IDS);
}

export interface CliRun {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs oceanid-guard in-process, the way the bin script does. */
export function runCliArgs(args: string[], stdin = ""): CliRun {
    let stdout = "";
    let stderr = "";
    const code = main(args, {
        stdout: (t) => (stdout += t),
        stderr: (t) => (stderr += t),
        readStdin: () => stdin,
        now: () => NOW,
    });
    return { code, stdout, stderr };
}

export function writeGuardConfig(exemptions: Obj[] = []): string {
    const file = join(mkdtempSync(join(tmpdir(), "oceanid-guard-")), "guard-config.yaml");
    writeFileSync(file, stringify({ unknownValues: "mandatory", exemptions }));
    return file;
}

/** Gate 2: the CLI over the objects as Helm-style YAML on stdin, JSON output. */
export function cliVerdict(objects: Obj[], exemptions: Obj[] = []): Verdict {
    const run = runCliArgs(["--format", "json", "--config", writeGuardConfig(exemptions), "-"], asHelmOutput(objects));
    const out = JSON.parse(run.stdout) as { violations: { policy: string; enforcementLevel: string; message: string }[]; exemptions: { policy: string }[] };
    return {
        mandatory: out.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy),
        advisory: out.violations.filter((v) => v.enforcementLevel === "advisory").map((v) => v.policy),
        exempted: out.exemptions.map((e) => e.policy),
        messages: out.violations.map((v) => v.message),
    };
}

/** The Pulumi type token and inputs a manifest becomes in a Pulumi program. */
export function asPulumiResources(obj: Obj): { type: string; props: Obj }[] {
    if (obj.kind === "List") return (obj.items as Obj[]).flatMap(asPulumiResources); // ConfigGroup registers each item
    const group = obj.apiVersion === "v1" ? "core/v1" : obj.apiVersion;
    return [{ type: `kubernetes:${group}:${obj.kind}`, props: obj }];
}

/**
 * Gate 1: the CrossGuard policies, called the way @pulumi/policy's analyzer
 * calls them: inputs wrapped in its unknown-checking proxy, one report
 * function per policy.
 */
export function packVerdictFor(resources: { type: string; props: Obj }[], config: GuardConfig): Verdict {
    const verdict: Verdict = { mandatory: [], advisory: [], exempted: [], messages: [] };
    const policies = packPolicies(RULES, config, () => NOW) as ResourceValidationPolicy[];
    for (const { type, props } of resources) {
        for (const policy of policies) {
            const report = (message: string) => {
                if (policy.name === NOTICES_POLICY) {
                    const m = / is exempt from ([a-z-]+) by /.exec(message);
                    if (m) verdict.exempted.push(m[1]);
                    return;
                }
                (policy.enforcementLevel === "mandatory" ? verdict.mandatory : verdict.advisory).push(policy.name);
                verdict.messages.push(message);
            };
            const validate = policy.validateResource as (args: any, report: (m: string) => void) => void;
            validate(
                {
                    type,
                    props: unknownCheckingProxy(props),
                    urn: `urn:pulumi:test::oceanid::${type}::${props.metadata?.name ?? "x"}`,
                    name: props.metadata?.name ?? "x",
                    opts: {},
                    isType: () => false,
                    asType: () => undefined,
                    getConfig: () => ({}),
                    notApplicable: () => undefined,
                },
                report,
            );
        }
    }
    return verdict;
}

export function packVerdict(objects: Obj[], exemptions: Obj[] = []): Verdict {
    return packVerdictFor(objects.flatMap(asPulumiResources), guardConfig(exemptions));
}

export const sorted = (xs: string[]) => [...xs].sort();
