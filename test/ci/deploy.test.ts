// scripts/ci/deploy and the failure it reports: the node and the reason in the
// job summary and the step outputs, from the engine's event log.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runStep } from "../helpers/ci-script";
import { describeNeeding } from "../helpers/needs";
import { Workspace } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";

const suite = describeNeeding(["pulumi"]);

suite("scripts/ci/deploy: a real pulumi up that fails", () => {
    let ws: Workspace;
    beforeAll(() => {
        ws = new Workspace("dev");
        // The kubernetes provider cannot write there: every manifest fails to render, the nodes' patches among them.
        ws.editConfig(["oceanid:kubernetes", "renderDir"], "/proc/oceanid-cannot-write");
    });

    it("exits non-zero and names the node whose resource failed, and why", () => {
        // Only calypso's patch (with its parent and provider), so the one failure is a node's.
        const targets = [
            "pulumi:providers:kubernetes::oceanid",
            "oceanid:nodes:ClusterNode::calypso",
            "oceanid:nodes:ClusterNode$kubernetes:core/v1:NodePatch::calypso-labels",
        ];
        const targetArgs = targets.flatMap((t) => ["--target", `urn:pulumi:dev::oceanid-infra::${t}`]);
        const r = runStep("deploy", ["dev", "--config-file", ws.configFile, ...targetArgs], { env: ws.env() });
        expect(r.code, r.output).not.toBe(0);
        const node = "calypso";
        const reason = `failed to create directory for rendered YAML: "/proc/oceanid-cannot-write/0-crd": mkdir /proc/oceanid-cannot-write: no such file or directory`;
        const urn = `urn:pulumi:dev::oceanid-infra::oceanid:nodes:ClusterNode$kubernetes:core/v1:NodePatch::${node}-labels`;
        expect(r.outputs).toEqual([`node=${node}`, `reason=${reason}`, `urn=${urn}`]);
        expect(r.summary).toBe(
            ["### pulumi up failed", "", "| node | reason |", "|---|---|", `| ${node} | ${reason} |`, "", `Resource: \`${urn}\``, "", ""].join("\n"),
        );
    });

    it("a config error, which is no node's: the node is empty and the reason is the engine's first error", () => {
        const broken = new Workspace("dev");
        broken.editConfig(["oceanid:egress", "exitNode"], "srv712429");
        const r = runStep("deploy", ["dev", "--config-file", broken.configFile], { env: broken.env() });
        expect(r.code).not.toBe(0);
        expect(r.outputs[0]).toBe("node=");
        expect(r.outputs[1]).toMatch(/^reason=.*stack "dev" config has 1 problem/);
        expect(r.summary).toMatch(/^### pulumi up failed\n\n\| node \| reason \|\n\|---\|---\|\n\| \(none\) \| .*stack "dev" config has 1 problem.* \|\n/);
    });
});

// The shape the engine writes when a node change's step fails: the events of the real run above
// (resourcePreEvent, diagnosticEvent with the resource's urn, resOpFailedEvent, the summary),
// with the failing resource moved to calypso's gate under ClusterNode → K3sAgent → NodeChange and
// the message oceanid-health gate prints. test/ci/fixtures/node-change-gate-failed.jsonl.
const FIXTURE = join(ROOT, "test", "ci", "fixtures", "node-change-gate-failed.jsonl");
const GATE_URN =
    "urn:pulumi:prod::oceanid-infra::oceanid:nodes:ClusterNode$oceanid:nodes:K3sAgent$oceanid:nodes:NodeChange$command:local:Command::calypso-k3s-change-gate";

describe("scripts/ci/report.mjs deploy-failure: a node change's failure", () => {
    it("takes the node and reason from the step's FAILED line", () => {
        const r = runStep("report.mjs", ["deploy-failure", FIXTURE]);
        expect(r.code, r.output).toBe(0);
        const reason = "not Ready (KubeletNotReady); Lease not renewed since apply";
        expect(r.outputs).toEqual(["node=calypso", `reason=${reason}`, `urn=${GATE_URN}`]);
        expect(r.summary).toBe(
            ["### pulumi up failed", "", "| node | reason |", "|---|---|", `| calypso | ${reason} |`, "", `Resource: \`${GATE_URN}\``, "", ""].join("\n"),
        );
    });

    it("without such a line, the node is the failing resource's ClusterNode ancestor", () => {
        const text = readFileSync(FIXTURE, "utf8")
            .replace(/exit status 1: running [^"]*"[^"]*\":\\nGATE FAILED node=calypso reason=[^"]*/, "ssh: handshake failed: knownhosts: key mismatch\\n")
            .replaceAll("calypso-k3s-change-gate", "calypso-k3s-change-apply")
            .replaceAll("command:local:Command", "command:remote:Command");
        const file = join(mkdtempSync(join(tmpdir(), "oceanid-events-")), "apply-failed.jsonl");
        writeFileSync(file, text);
        const r = runStep("report.mjs", ["deploy-failure", file]);
        expect(r.code, r.output).toBe(0);
        expect(r.outputs.slice(0, 2)).toEqual(["node=calypso", "reason=ssh: handshake failed: knownhosts: key mismatch"]);
    });

    it("reads the drain's and uncordon's FAILED lines too", () => {
        for (const step of ["DRAIN", "UNCORDON"]) {
            const reason = "pods did not leave within 300s: default/db-0 (PodDisruptionBudget default/db allows no disruption)";
            const text = readFileSync(FIXTURE, "utf8")
                .replace(/GATE FAILED node=calypso reason=[^"\\]*/, `${step} FAILED node=calypso reason=${reason}`)
                .replaceAll("calypso-k3s-change-gate", `calypso-k3s-change-${step.toLowerCase()}`);
            const file = join(mkdtempSync(join(tmpdir(), "oceanid-events-")), `${step}.jsonl`);
            writeFileSync(file, text);
            const r = runStep("report.mjs", ["deploy-failure", file]);
            expect(r.code, r.output).toBe(0);
            expect(r.outputs.slice(0, 2)).toEqual(["node=calypso", `reason=${reason}`]);
        }
    });

    it("a file that is not an event log: exit 2, naming it and the fix; nothing written", () => {
        const r = runStep("report.mjs", ["deploy-failure", join(ROOT, "package.json")]);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(`report.mjs: ${join(ROOT, "package.json")}:1: not an engine event (not JSON): pass the file 'pulumi --event-log' wrote\n`);
        expect(r.summary).toBe("");
        expect(r.outputs).toEqual([]);
        const missing = runStep("report.mjs", ["deploy-failure", "/nonexistent/events.jsonl"]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toBe("report.mjs: /nonexistent/events.jsonl: cannot read it (ENOENT): pass the file 'pulumi --event-log' wrote\n");
        const usage = runStep("report.mjs", ["deploy"]);
        expect(usage.stderr).toBe("report.mjs: usage: report.mjs deploy-failure|health FILE, or drift FILE [STATUS] (got: deploy)\n");
        expect(usage.code).toBe(2);
    });
});

describe("scripts/ci/deploy and scripts/ci/drift without a stack", () => {
    it("exit 2 with the usage, before running anything", () => {
        const deploy = runStep("deploy", []);
        expect(deploy.code).toBe(2);
        expect(deploy.stderr).toBe("usage: scripts/ci/deploy STACK [PULUMI_ARGS...]: name the stack to deploy (CI deploys prod)\n");
        const drift = runStep("drift", []);
        expect(drift.code).toBe(2);
        expect(drift.stderr).toBe("usage: scripts/ci/drift STACK [PULUMI_ARGS...]: name the stack to check (CI checks prod)\n");
        expect(deploy.summary + drift.summary).toBe("");
    });
});
