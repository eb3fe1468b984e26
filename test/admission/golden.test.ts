// What the API server enforces, as a reviewer reads it: the generated
// ValidatingAdmissionPolicy and binding for the repo's guard config, compared
// with the checked-in golden file. A change to any rule's CEL or message shows
// up in review as a diff of that file (update it with `npx vitest run test/admission/golden.test.ts --update`).
import { join } from "node:path";
import { expect, it } from "vitest";
import { stringify } from "yaml";
import { admissionManifests } from "../../policies/engine/admission";
import { RULES } from "../../policies/rules";
import { loadGuardConfig } from "../../policies/engine/guard-config";
import { ROOT } from "../helpers/stack-file";

it("the generated admission policy equals the golden file", async () => {
    const config = loadGuardConfig(
        join(ROOT, "policies", "guard-config.yaml"),
        RULES.map((r) => r.id),
    );
    // A fixed day: only platform exemptions' expiry depends on it.
    const { policy, binding } = admissionManifests("oceanid-guardrails-policy", RULES, {
        config,
        excludedNamespaces: config.admissionExcludedNamespaces,
        now: new Date("2026-01-01T00:00:00Z"),
    });
    const manifests = [
        { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", ...policy },
        { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", ...binding },
    ];
    await expect(manifests.map((m) => stringify(m, { lineWidth: 0 })).join("---\n")).toMatchFileSnapshot("golden/validating-admission-policy.yaml");
});
