// What the engine did during a preview, read from its event log (the JSON
// lines the Automation API reads too) instead of from the text output: each
// registered resource with its inputs, each policy violation with its
// resource, each error.
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CliResult, Workspace } from "./pulumi-cli";

export interface PolicyViolationEvent {
    resourceUrn: string;
    policyName: string;
    enforcementLevel: "mandatory" | "advisory" | "remediate" | "disabled";
    /** The policy's description, a newline, then what the policy reported. */
    message: string;
}

export interface RegisteredResource {
    urn: string;
    type: string;
    parent: string;
    inputs: Record<string, unknown>;
}

export interface PreviewRecord {
    run: CliResult;
    seconds: number;
    resources: RegisteredResource[];
    violations: PolicyViolationEvent[];
    errors: string[];
    /** "succeeded" or "failed", from the summary event (absent when the engine never got that far). */
    result?: string;
}

/**
 * Runs `pulumi preview` in the workspace, logging the engine's events to a
 * file (`--event-log`, shown when PULUMI_DEBUG_COMMANDS is set).
 */
export function previewWithEvents(ws: Workspace, args: string[] = []): PreviewRecord {
    const log = join(mkdtempSync(join(ws.dir, "events-")), "events.jsonl");
    const start = process.hrtime.bigint();
    const run = ws.pulumi(["preview", "--event-log", log, ...args], { PULUMI_DEBUG_COMMANDS: "true" });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const record: PreviewRecord = { run, seconds, resources: [], violations: [], errors: [] };
    for (const line of readFileSync(log, "utf8").split("\n")) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as Record<string, any>;
        if (event.resourcePreEvent) {
            const m = event.resourcePreEvent.metadata;
            record.resources.push({ urn: m.urn, type: m.type, parent: m.new?.parent ?? "", inputs: m.new?.inputs ?? {} });
        } else if (event.policyEvent) {
            record.violations.push(event.policyEvent as PolicyViolationEvent);
        } else if (event.diagnosticEvent?.severity === "error") {
            record.errors.push(String(event.diagnosticEvent.message));
        } else if (event.summaryEvent) {
            record.result = event.summaryEvent.result;
        }
    }
    return record;
}

/** The resource name part of a URN (after the last `::`). */
export function urnName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The type of a URN's resource, without its parents' types (`kubernetes:apps/v1:DaemonSet`). */
export function urnType(urn: string): string {
    const qualified = urn.split("::")[2];
    return qualified.slice(qualified.lastIndexOf("$") + 1);
}
