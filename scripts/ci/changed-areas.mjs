#!/usr/bin/env node
// Which CODEOWNERS areas a change touches: the files `git diff --name-only
// BASE...HEAD` lists, matched against .github/CODEOWNERS (the one source of
// truth for what needs an owner's review; the last matching line wins, as on
// GitHub). Writes a table to the job summary ($GITHUB_STEP_SUMMARY, else
// stdout) and `areas` (comma-separated patterns) and `count` to $GITHUB_OUTPUT.
// usage: node scripts/ci/changed-areas.mjs BASE HEAD   (in the repository)
// Exit 0; 2 bad input (one line naming it and the fix).
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";

const CODEOWNERS = ".github/CODEOWNERS";

class BadInput extends Error {}

/** A CODEOWNERS pattern (gitignore syntax, as GitHub reads it) as a regular expression over repository paths. */
function patternRegex(pattern) {
    const anchored = pattern.startsWith("/") || pattern.slice(0, -1).includes("/");
    const dir = pattern.endsWith("/");
    const body = pattern
        .replace(/^\//, "")
        .replace(/\/$/, "")
        .split("/")
        .map((seg) =>
            seg === "**"
                ? ".*"
                : seg
                      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
                      .replace(/\*/g, "[^/]*")
                      .replace(/\?/g, "[^/]"),
        )
        .join("/");
    return new RegExp(`^${anchored ? "" : "(?:.*/)?"}${body}${dir ? "/.*" : "(?:/.*)?"}$`);
}

/** The rules of a CODEOWNERS file, in order: pattern, owners, regex. */
function parseCodeowners(text) {
    return text.split("\n").flatMap((line) => {
        const [pattern, ...owners] = line
            .replace(/(^|\s)#.*$/, "")
            .trim()
            .split(/\s+/);
        return pattern ? [{ pattern, owners, regex: patternRegex(pattern) }] : [];
    });
}

/** For each area (CODEOWNERS line) a change touches, the files it touches there. */
function changedAreas(rules, files) {
    const areas = new Map();
    for (const file of files) {
        const rule = rules.findLast((r) => r.regex.test(file));
        if (rule === undefined) continue;
        if (!areas.has(rule)) areas.set(rule, []);
        areas.get(rule).push(file);
    }
    return [...areas].map(([rule, touched]) => ({ pattern: rule.pattern, owners: rule.owners, files: touched }));
}

function changedFiles(base, head) {
    const r = spawnSync("git", ["diff", "--name-only", "--no-renames", `${base}...${head}`], { encoding: "utf8" });
    if (r.status !== 0) {
        throw new BadInput(
            `cannot diff ${base}...${head} (${(r.stderr || r.error?.message || "").trim().split("\n")[0]}): fetch both commits (actions/checkout with fetch-depth: 0)`,
        );
    }
    return r.stdout.split("\n").filter((f) => f !== "");
}

function report(areas, fileCount) {
    const lines =
        areas.length === 0
            ? ["### Review areas", "", `This change (${fileCount} file(s)) touches no area listed in ${CODEOWNERS}.`]
            : [
                  "### Review areas: a code owner must approve",
                  "",
                  "| area | owners | files |",
                  "|---|---|---|",
                  ...areas.map((a) => `| \`${a.pattern}\` | ${a.owners.join(" ")} | ${a.files.map((f) => `\`${f}\``).join("<br>")} |`),
              ];
    const summary = lines.join("\n") + "\n\n";
    if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, summary);
    else process.stdout.write(summary);
    if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, `areas=${areas.map((a) => a.pattern).join(",")}\ncount=${areas.length}\n`);
}

try {
    const args = process.argv.slice(2);
    if (args.length !== 2 || args.some((a) => a === "" || a.startsWith("-"))) {
        throw new BadInput(
            `usage: changed-areas.mjs BASE HEAD (got: ${args.map((a) => JSON.stringify(a)).join(" ") || "nothing"}): pass the pull request's base and head commits`,
        );
    }
    let text;
    try {
        text = readFileSync(CODEOWNERS, "utf8");
    } catch {
        throw new BadInput(`${CODEOWNERS} cannot be read: run it at the repository's root, where ${CODEOWNERS} lists the review areas`);
    }
    const files = changedFiles(args[0], args[1]);
    report(changedAreas(parseCodeowners(text), files), files.length);
} catch (e) {
    if (!(e instanceof BadInput)) throw e;
    process.stderr.write(`changed-areas: ${e.message}\n`);
    process.exit(2);
}
