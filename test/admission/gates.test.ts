// The admission policy's CEL over the shared fixture table: it denies exactly
// the rules the pack and oceanid-guard report (as a set: the API server names
// each broken rule once), except annotation exemptions, which do not count there.
import { describe, expect, it } from "vitest";
import { admissionManifests, GUARDED_RESOURCES } from "../../policies/engine/admission";
import { RULES } from "../../policies/rules";
import { GUARD_CASES, POD_CARRYING } from "../fixtures/guard-cases";
import { admissionDenials } from "../helpers/admission";
import { guardConfig, NOW } from "../helpers/gates";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/stack-file";

const uniq = (xs: string[]) => [...new Set(xs)].sort();

describe.each(GUARD_CASES)("admission: $name", (c) => {
    it("denies the same rules", () => {
        expect(uniq(admissionDenials(c.objects, c.platformExemptions).denied)).toEqual(uniq(c.admissionMandatory ?? c.mandatory));
    });
});

describe("admission policy objects", () => {
    it("deny the incident's manifest with every rule it broke, IDs first in the messages", () => {
        const incident = parse(readFileSync(join(ROOT, "test", "fixtures", "incident", "tailscale-daemonset.yaml"), "utf8"));
        const { denied, messages } = admissionDenials([incident]);
        expect(uniq(denied)).toEqual([
            "daemonset-no-host-network",
            "no-host-path-network-state",
            "no-privileged-networking",
            "tailscale-userspace-only",
            "workload-no-host-namespaces",
        ]);
        expect(messages[0]).toBe(
            "daemonset-no-host-network: DaemonSet pods must not use hostNetwork: true (oceanid guardrails; run oceanid-guard on the manifest for details). " +
                'If it is trusted with the node, exempt it in policies/guard-config.yaml: exemptions: [{kind: DaemonSet, namespace: tailscale, name: tailscale-worker, policies: [daemonset-no-host-network], reason: "<why this is safe>"}].',
        );
    });

    it("match every pod-carrying resource in every API group, on create and update", () => {
        const plural: Record<string, string> = {
            Pod: "pods",
            PodTemplate: "podtemplates",
            ReplicationController: "replicationcontrollers",
            Deployment: "deployments",
            ReplicaSet: "replicasets",
            StatefulSet: "statefulsets",
            DaemonSet: "daemonsets",
            Job: "jobs",
            CronJob: "cronjobs",
        };
        for (const [apiVersion, kind] of POD_CARRYING) {
            const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
            const rule = GUARDED_RESOURCES.find((r) => r.apiGroups.includes(group) && r.resources.includes(plural[kind]));
            expect(rule, `${apiVersion} ${kind}`).toBeDefined();
            expect(rule!.apiVersions).toEqual(["*"]);
            expect(rule!.operations).toEqual(["CREATE", "UPDATE"]);
        }
    });

    it("bind with Deny and Audit, failing closed, skipping only the configured namespaces", () => {
        const m = admissionManifests("g", RULES, { config: guardConfig(), excludedNamespaces: ["kube-system"], now: NOW });
        expect(m.policy.spec.failurePolicy).toBe("Fail");
        expect(m.binding.spec).toEqual({
            policyName: "g",
            validationActions: ["Deny", "Audit"],
            matchResources: { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system"] }] } },
        });
        expect(admissionManifests("g", RULES, { config: guardConfig(), now: NOW }).binding.spec).toEqual({
            policyName: "g",
            validationActions: ["Deny", "Audit"],
        });
    });

    it("leave out expired platform exemptions (the API server's CEL has no clock)", () => {
        const ex = (expires: string) => [{ kind: "DaemonSet", name: "x", namespace: "a", policies: ["daemonset-no-host-network"], reason: "r", expires }];
        const vars = (expires: string) => admissionManifests("g", RULES, { config: guardConfig(ex(expires)), now: NOW }).policy.spec.variables;
        expect(vars("2026-11-24").find((v) => v.name === "exemptions")!.expression).toBe('[["DaemonSet", "a", "x", "daemonset-no-host-network", "", "", ""]]');
        expect(vars("2026-11-23").find((v) => v.name === "exemptions")!.expression).toBe("[]");
    });
});
