// The oceanid guardrails as a CrossGuard policy pack. Rules live in their own
// modules (see rules.ts); constructing PolicyPack starts the analyzer server,
// so nothing but this file may do it, and tests never import it.
import { PolicyPack } from "@pulumi/policy";
import { join } from "node:path";
import { packPolicies } from "./engine/crossguard";
import { loadGuardConfig } from "./engine/guard-config";
import { RULES } from "./rules";

const ruleIds = RULES.map((r) => r.id);
const config = loadGuardConfig(join(__dirname, "guard-config.yaml"), ruleIds);
new PolicyPack("oceanid-guardrails", { policies: packPolicies(RULES, config) });
