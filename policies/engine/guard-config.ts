import { readFileSync } from "node:fs";
import { parse } from "yaml";
// zod's mini build: the guard loads this on every run, and the full build costs more to load
// than reading a small manifest (the stack config in components/ keeps the full one).
import en from "zod/v4/locales/en.js";
import * as z from "zod/mini";
import { formatIssues } from "../../lib/problems";

// The mini build says nothing readable without a locale; English only, not all of them.
z.config(en());

/** One platform-owned exemption: a named object may break the named rules, for a reason, maybe until a date. */
const exemptionSchema = z.strictObject({
    kind: z.string().check(z.minLength(1)),
    /** Omit for cluster-scoped objects. */
    namespace: z.optional(z.string().check(z.minLength(1))),
    name: z.string().check(z.minLength(1)),
    policies: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
    reason: z.string().check(z.trim(), z.minLength(1, { error: "is empty: every exemption says why it exists" })),
    /** Last day the exemption applies (YYYY-MM-DD, UTC). */
    expires: z.optional(z.iso.date({ error: (i) => `${JSON.stringify(i.input)} is not a date: use YYYY-MM-DD` })),
});

const guardConfigSchema = z.strictObject({
    /** How a value not known at preview counts: "mandatory" (default, fail closed) or "advisory". */
    unknownValues: z._default(z.enum(["mandatory", "advisory"]), "mandatory"),
    exemptions: z._default(z.array(exemptionSchema), []),
    /** Namespaces the in-cluster admission binding skips (k3s's own system pods live in kube-system). */
    admissionExcludedNamespaces: z._default(z.array(z.string().check(z.minLength(1))), []),
});

export type PlatformExemption = z.infer<typeof exemptionSchema>;
export type GuardConfig = z.infer<typeof guardConfigSchema>;

/** A guard config that cannot be used; the message names the file and each bad field. */
export class GuardConfigError extends Error {}

/** Validates a parsed guard config; `source` names it in errors. Unknown rule IDs are errors too. */
export function parseGuardConfig(raw: unknown, source: string, ruleIds: readonly string[]): GuardConfig {
    const result = guardConfigSchema.safeParse(raw ?? {});
    const problems = result.success ? [] : formatIssues(result.error.issues, raw, new Set());
    if (result.success) {
        result.data.exemptions.forEach((e, i) =>
            e.policies.forEach((p, j) => {
                if (!ruleIds.includes(p)) {
                    problems.push(`exemptions[${i}].policies[${j}]: ${JSON.stringify(p)} is not a rule ID (known: ${ruleIds.join(", ")})`);
                }
            }),
        );
    }
    if (problems.length > 0 || !result.success) {
        throw new GuardConfigError(`${source}: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    return result.data;
}

export function loadGuardConfig(file: string, ruleIds: readonly string[]): GuardConfig {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (err) {
        throw new GuardConfigError(`${file}: cannot read the guard config (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    let raw: unknown;
    try {
        raw = parse(text);
    } catch (err) {
        throw new GuardConfigError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    return parseGuardConfig(raw, file, ruleIds);
}
