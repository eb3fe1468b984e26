// The oceanid guardrails as a CrossGuard policy pack. Rules live in their own
// modules (see rules/); constructing PolicyPack starts the analyzer server,
// so nothing but this file may do it, and tests never import it. The pack
// runs compiled, from dist/ (pack.cjs).
import { PolicyPack } from "@pulumi/policy";
import { DEFAULT_GUARD_CONFIG } from "./cli/paths";
import { packPolicies } from "./engine/crossguard";
import { loadGuardConfig } from "./engine/guard-config";
import { RULES } from "./rules";

const ruleIds = RULES.map((r) => r.id);
const config = loadGuardConfig(DEFAULT_GUARD_CONFIG, ruleIds);
new PolicyPack("oceanid-guardrails", { policies: packPolicies(RULES, config) });
