// The repository's .github/ as written: its workflows and composite actions, read
// as text (pins keep their release in a comment) and as YAML steps.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT } from "../helpers/stack-file";

export const GITHUB = join(ROOT, ".github");
/** Workflow files, relative to .github/. */
export const WORKFLOWS = readdirSync(join(GITHUB, "workflows")).map((f) => join("workflows", f));
/** Composite actions' action.yml files, relative to .github/. */
export const ACTIONS = readdirSync(join(GITHUB, "actions")).map((d) => join("actions", d, "action.yml"));
export const FILES = [...WORKFLOWS, ...ACTIONS];

/** A file of .github/ (path relative to it) as text. */
export const text = (file: string) => readFileSync(join(GITHUB, file), "utf8");

export interface Step {
    run?: string;
    uses?: string;
    with?: Record<string, unknown>;
}

/** Every step of a workflow's jobs or a composite action. */
export function steps(file: string): Step[] {
    const doc = parse(text(file));
    if (doc.runs) return doc.runs.steps;
    return Object.values(doc.jobs as Record<string, { steps: Step[] }>).flatMap((j) => j.steps);
}
