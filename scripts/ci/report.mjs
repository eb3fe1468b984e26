#!/usr/bin/env node
// Turns what a CI step produced into the job summary ($GITHUB_STEP_SUMMARY) and
// step outputs ($GITHUB_OUTPUT), so a failed gate says which node and why:
//   report.mjs deploy-failure EVENT_LOG   the failing resource, its node and reason (pulumi up --event-log)
//   report.mjs drift EVENT_LOG [STATUS]   the resources a refreshed preview would change (STATUS: its exit code)
//   report.mjs health HEALTH_JSON         the unhealthy nodes (oceanid-health --format json)
// Without GITHUB_STEP_SUMMARY the summary goes to stdout; without GITHUB_OUTPUT no outputs are written.
// Bad input: exit 2 with one line naming the file and the fix.
import { appendFileSync, readFileSync } from "node:fs";

class BadInput extends Error {}

function readText(file, what) {
    try {
        return readFileSync(file, "utf8");
    } catch (e) {
        throw new BadInput(`${file}: cannot read it (${e.code ?? e.message}): pass ${what}`);
    }
}

/** The engine's event log: one JSON object per line (pulumi ... --event-log FILE, with PULUMI_DEBUG_COMMANDS=true). */
function readEvents(file) {
    const fix = "the file 'pulumi --event-log' wrote";
    return readText(file, fix)
        .split("\n")
        .flatMap((line, i) => {
            if (line.trim() === "") return [];
            try {
                return [JSON.parse(line)];
            } catch {
                throw new BadInput(`${file}:${i + 1}: not an engine event (not JSON): pass ${fix}`);
            }
        });
}

/** Each resource's parent, from the step events that carry it. */
function parents(events) {
    const map = new Map();
    for (const e of events) {
        const m = (e.resourcePreEvent ?? e.resOutputsEvent ?? e.resOpFailedEvent)?.metadata;
        const parent = m?.new?.parent || m?.old?.parent;
        if (m?.urn && parent) map.set(m.urn, parent);
    }
    return map;
}

const urnName = (urn) => urn.slice(urn.lastIndexOf("::") + 2);
const urnType = (urn) => {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.slice(qualified.lastIndexOf("$") + 1);
};

/** The node a resource belongs to: the nearest ClusterNode among its ancestors. */
function nodeOf(urn, parentOf) {
    for (let u = urn, seen = 0; u && seen < 64; u = parentOf.get(u), seen++) {
        if (urnType(u) === "oceanid:nodes:ClusterNode") return urnName(u);
    }
    return "";
}

// Every node-change step prints one line like this when it fails (docs/node-changes.md).
const STEP_FAILED = /\b(?:PREFLIGHT|DRAIN|APPLY|GATE|CONFIRM|UNCORDON) FAILED node=(\S+) reason=(.*)/;

/** The failure to report: the first error naming a node, else the first error on a resource, else the first error. */
function deployFailure(events) {
    const parentOf = parents(events);
    const errors = events
        .map((e) => e.diagnosticEvent)
        .filter((d) => d?.severity === "error")
        .map((d) => {
            const message = String(d.message).trim();
            const step = STEP_FAILED.exec(message);
            const urn = d.urn ?? "";
            const node = step?.[1] ?? (urn ? nodeOf(urn, parentOf) : "");
            const reason = (step?.[2] ?? message.split("\n").find((l) => l.trim() !== "") ?? "").trim();
            return { urn, node, reason };
        });
    return (
        errors.find((e) => e.node) ??
        errors.find((e) => e.urn) ??
        errors[0] ?? { urn: "", node: "", reason: "pulumi failed before the engine reported an error: see the step's log" }
    );
}

const cell = (text) => String(text).replace(/\|/g, "\\|").replace(/\n/g, " ");

// Steps that change something; "same", "read" and the refresh steps do not.
const CHANGES = new Set([
    "create",
    "update",
    "delete",
    "replace",
    "create-replacement",
    "delete-replaced",
    "import",
    "import-replacement",
    "discard",
    "discard-replaced",
]);

/** What a refreshed preview would change: each resource once, with its operation. */
function driftChanges(events) {
    const changes = new Map();
    for (const e of events) {
        const m = e.resourcePreEvent?.metadata;
        if (m && CHANGES.has(m.op) && !changes.has(m.urn)) changes.set(m.urn, m.op);
    }
    return [...changes].map(([urn, op]) => ({ urn, op }));
}

/** The problems of an `oceanid-health --format json` report: its `problems`, each `<node>: <reason>`. */
function healthProblems(report) {
    if (!Array.isArray(report?.problems))
        throw new BadInput("not an oceanid-health JSON report (no problems list): pass the output of 'oceanid-health --format json'");
    return report.problems.map((p) => {
        const at = String(p).indexOf(": ");
        return at < 0 ? { node: "", reason: String(p) } : { node: p.slice(0, at), reason: p.slice(at + 2) };
    });
}

/** The summary, the outputs, and in GitHub Actions an annotation on the run (`title`: `text`). */
function write(summary, outputs, annotation) {
    if (annotation && process.env.GITHUB_ACTIONS === "true")
        process.stdout.write(`::error title=${annotation.title}::${annotation.text.replace(/[\r\n]+/g, " ")}\n`);
    const target = process.env.GITHUB_STEP_SUMMARY;
    if (target) appendFileSync(target, summary);
    else process.stdout.write(summary);
    if (process.env.GITHUB_OUTPUT) {
        appendFileSync(
            process.env.GITHUB_OUTPUT,
            Object.entries(outputs)
                .map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, " ")}\n`)
                .join(""),
        );
    }
}

const COMMANDS = {
    "deploy-failure"(file) {
        const f = deployFailure(readEvents(file));
        const lines = ["### pulumi up failed", "", "| node | reason |", "|---|---|", `| ${cell(f.node || "(none)")} | ${cell(f.reason)} |`, ""];
        if (f.urn) lines.push(`Resource: \`${f.urn}\``, "");
        write(
            lines.join("\n") + "\n",
            { node: f.node, reason: f.reason, urn: f.urn },
            { title: "pulumi up failed", text: `node=${f.node || "(none)"} reason=${f.reason}` },
        );
    },
    drift(file, status = "0") {
        const events = readEvents(file);
        const changes = driftChanges(events);
        let lines;
        if (changes.length > 0) {
            lines = ["### Drift: changed outside Pulumi", "", "| operation | resource |", "|---|---|", ...changes.map((c) => `| ${c.op} | \`${c.urn}\` |`)];
        } else if (status === "0") {
            lines = ["### No drift", "", "The refreshed preview changes nothing."];
        } else {
            // Not drift: the check itself could not finish (the cluster unreachable, say).
            const errors = [
                ...new Set(events.filter((e) => e.diagnosticEvent?.severity === "error").map((e) => String(e.diagnosticEvent.message).trim().split("\n")[0])),
            ];
            lines = [`### Drift check failed: the refreshed preview exited ${status} before finding any change`, "", ...errors.map((e) => `- ${e}`)];
        }
        const annotation =
            changes.length > 0
                ? { title: "drift", text: `${changes.length} resource(s) changed outside Pulumi: ${changes.map((c) => urnName(c.urn)).join(", ")}` }
                : status === "0"
                  ? undefined
                  : { title: "drift check failed", text: `the refreshed preview exited ${status}` };
        write(lines.join("\n") + "\n\n", { changes: changes.length }, annotation);
    },
    health(file) {
        let report;
        try {
            report = JSON.parse(readText(file, "the output of 'oceanid-health --format json'"));
        } catch (e) {
            if (e instanceof BadInput) throw e;
            throw new BadInput(`${file}: not JSON: pass the output of 'oceanid-health --format json'`);
        }
        const problems = healthProblems(report);
        const lines =
            problems.length === 0
                ? ["### Health: every node healthy"]
                : ["### Health check failed", "", "| node | reason |", "|---|---|", ...problems.map((p) => `| ${cell(p.node)} | ${cell(p.reason)} |`)];
        const annotation = problems.length === 0 ? undefined : { title: "unhealthy", text: problems.map((p) => `${p.node}: ${p.reason}`).join("; ") };
        write(lines.join("\n") + "\n\n", { node: problems[0]?.node ?? "", reason: problems[0]?.reason ?? "" }, annotation);
    },
};

const [command, file, ...rest] = process.argv.slice(2);
try {
    const statusOk = command === "drift" && rest.length === 1 && /^\d+$/.test(rest[0]);
    if (!(command in COMMANDS) || file === undefined || (rest.length > 0 && !statusOk)) {
        throw new BadInput(`usage: report.mjs deploy-failure|health FILE, or drift FILE [STATUS] (got: ${process.argv.slice(2).join(" ") || "nothing"})`);
    }
    COMMANDS[command](file, ...rest);
} catch (e) {
    if (!(e instanceof BadInput)) throw e;
    process.stderr.write(`report.mjs: ${e.message}\n`);
    process.exit(2);
}
