// The docs hold together: every relative link in README.md and docs/ points at a file or directory
// that exists (and at a heading that exists, when it names one), README.md fits on one screen, and
// every page under docs/ is on README's map. A pure test: the files and `git ls-files`, no toolchain.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..");
/** One screen, with some slack: the issue asks for "at most about 150 lines". */
const README_MAX_LINES = 160;

/** What the checker needs to know about the repository. */
interface Repo {
    /** Top-level names a backticked word must start with to count as a repo path (ignored outputs excluded). */
    rootEntries: ReadonlySet<string>;
    /** Whether a repo-relative path (posix, no trailing slash) is a file or directory. */
    exists(path: string): boolean;
    /** The heading anchors of a markdown file (GitHub's), or undefined when it is not one. */
    anchors(path: string): ReadonlySet<string> | undefined;
}

interface Ref {
    line: number;
    /** As written: `[text](target)` or the backticked/code word. */
    shown: string;
    /** Repo-relative posix path ("" for the page itself). */
    path: string;
    fragment?: string;
}

/** Chars that mark a word as a pattern, placeholder, command or URL rather than a path. */
const NOT_A_PATH = /[<>*…$|{}[\]()=\\~@]|:\/\/|^-/;

/** The line (1-based) of an offset. */
function lineAt(text: string, offset: number): number {
    return text.slice(0, offset).split("\n").length;
}

/** Blanks a match, keeping its newlines, so offsets and line numbers stay put. */
const blank = (s: string) => s.replace(/[^\n]/g, " ");

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
    const text = heading
        .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
        .replace(/[`*]/g, "")
        .trim();
    return text
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-");
}

/** Fenced code blocks blanked out, and the words inside them with their lines. */
function splitFences(text: string): { prose: string; codeWords: Array<{ line: number; word: string }> } {
    const lines = text.split("\n");
    const codeWords: Array<{ line: number; word: string }> = [];
    let fence: string | undefined;
    const prose = lines.map((l, i) => {
        const open = /^ {0,3}(`{3,}|~{3,})/.exec(l);
        if (fence === undefined) {
            if (!open) return l;
            fence = open[1];
            return blank(l);
        }
        if (open && open[1][0] === fence[0] && open[1].length >= fence.length && l.trim() === open[1]) fence = undefined;
        else for (const word of l.split(/\s+/)) if (word) codeWords.push({ line: i + 1, word });
        return blank(l);
    });
    return { prose: prose.join("\n"), codeWords };
}

/** The anchors of a page's headings, numbered like GitHub's when repeated. */
function anchorsOf(markdown: string): Set<string> {
    const seen = new Map<string, number>();
    const anchors = new Set<string>();
    for (const m of splitFences(markdown).prose.matchAll(/^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
        const base = slug(m[1]);
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    return anchors;
}

/** A word that names a repo path, resolved from the page at `file`; undefined when it names none. */
function pathOf(word: string, file: string, repo: Repo): string | undefined {
    const w = word.replace(/^["'(]+/, "").replace(/[.,;:)"']+$/, "");
    if (w === "" || NOT_A_PATH.test(w) || w.startsWith("/")) return undefined;
    const here = posix.dirname(file);
    const first = w.split("/")[0];
    if (w.startsWith("./") || w.startsWith("../")) return posix.join(here, w);
    if (repo.rootEntries.has(first)) return posix.normalize(w);
    // A page named on its own (`node-network-recovery.md`) sits next to the one naming it.
    if (w.endsWith(".md")) return posix.join(here, w);
    return undefined;
}

/** Every reference a page makes: markdown links, and repo paths in code spans and code blocks. */
function refsOf(file: string, markdown: string, repo: Repo): Ref[] {
    const refs: Ref[] = [];
    const { prose: noFences, codeWords } = splitFences(markdown);
    const path = (line: number, word: string) => {
        const p = pathOf(word, file, repo);
        if (p !== undefined) refs.push({ line, shown: word, path: p.replace(/\/$/, "") });
    };
    for (const { line, word } of codeWords) path(line, word);
    let prose = noFences;
    for (const m of noFences.matchAll(/(`+)([\s\S]*?[^`])\1(?!`)/g)) {
        let offset = m.index + m[1].length;
        for (const part of m[2].split(/(\s+)/)) {
            if (part.trim()) path(lineAt(markdown, offset), part);
            offset += part.length;
        }
        prose = prose.slice(0, m.index) + blank(m[0]) + prose.slice(m.index + m[0].length);
    }
    const links = [
        ...prose.matchAll(/\[[^\]]*\]\(\s*<?([^()\s<>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g),
        ...prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm),
    ];
    for (const m of links) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [rel, fragment] = target.split("#", 2);
        const p = rel === "" ? file : rel.startsWith("/") ? posix.normalize(rel.slice(1)) : posix.join(posix.dirname(file), decodeURI(rel));
        refs.push({ line: lineAt(markdown, m.index), shown: m[0].trim(), path: p.replace(/\/$/, ""), fragment });
    }
    return refs.sort((a, b) => a.line - b.line);
}

/** One line per reference that does not resolve: `<page>:<line>: <as written>: <why>`. */
function brokenRefs(file: string, markdown: string, repo: Repo): string[] {
    return refsOf(file, markdown, repo).flatMap((r) => {
        if (!repo.exists(r.path)) return [`${file}:${r.line}: ${r.shown}: ${r.path} does not exist`];
        if (r.fragment === undefined) return [];
        const anchors = repo.anchors(r.path);
        if (anchors === undefined) return [`${file}:${r.line}: ${r.shown}: ${r.path} is not a markdown page with headings`];
        return anchors.has(r.fragment) ? [] : [`${file}:${r.line}: ${r.shown}: ${r.path} has no heading #${r.fragment}`];
    });
}

/** The docs pages README's links and paths do not reach. */
function pagesOffTheMap(readme: string, pages: readonly string[], repo: Repo): string[] {
    const reached = new Set(refsOf("README.md", readme, repo).map((r) => r.path));
    return pages.filter((p) => !reached.has(p));
}

/** The repository as it is on disk; top-level names from git, so ignored outputs (dist/, .tools/) are no paths. */
function diskRepo(): Repo {
    const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
    const rootEntries = new Set(
        listed
            .split("\0")
            .filter(Boolean)
            .map((f) => f.split("/")[0]),
    );
    return {
        rootEntries,
        exists: (p) => existsSync(join(ROOT, p)),
        anchors: (p) =>
            p.endsWith(".md") && existsSync(join(ROOT, p)) && statSync(join(ROOT, p)).isFile() ? anchorsOf(readFileSync(join(ROOT, p), "utf8")) : undefined,
    };
}

/** A made-up repository for the checker's own tests. */
function fakeRepo(files: Record<string, string>): Repo {
    const paths = Object.keys(files);
    return {
        rootEntries: new Set(paths.map((f) => f.split("/")[0])),
        exists: (p) => paths.some((f) => f === p || f.startsWith(`${p}/`)),
        anchors: (p) => (p.endsWith(".md") && p in files ? anchorsOf(files[p]) : undefined),
    };
}

describe("the link checker", () => {
    const page = [
        "# Egress: the gateway",
        "",
        "See [delivery](delivery.md#stacks), [gone](missing.md), [web](https://example.com), [here](#egress-the-gateway), [nowhere](#nope),",
        "and `docs/missing.md`, `scripts/ci/deploy`, `apps/v1`, `policies/rules/<rule-id>/`, `/var/lib`, `scripts/ci/deploy prod`,",
        "`runbooks/gone.md`, [off](../nope/), [typo](delivery.md#stack).",
        "",
        "```sh",
        "scripts/ci/nope prod   # [not a link](missing2.md); (renders dist/out)",
        "```",
        "",
        "`a [code](span.md)",
        "link` is code, and so is `scripts/ci/deploy",
        "scripts/ci/gone`.",
    ].join("\n");
    const repo = fakeRepo({
        "docs/egress.md": page,
        "docs/delivery.md": "# Delivery\n\n## Stacks\n\n```\n## not a heading\n```\n",
        "scripts/ci/deploy": "",
        "policies/rules/x/rule.ts": "",
    });

    it("reports exactly the references that do not resolve, with page, line and what is missing", () => {
        expect(brokenRefs("docs/egress.md", page, repo)).toEqual([
            "docs/egress.md:3: [gone](missing.md): docs/missing.md does not exist",
            "docs/egress.md:3: [nowhere](#nope): docs/egress.md has no heading #nope",
            "docs/egress.md:4: docs/missing.md: docs/missing.md does not exist",
            "docs/egress.md:5: runbooks/gone.md: docs/runbooks/gone.md does not exist",
            "docs/egress.md:5: [off](../nope/): nope does not exist",
            "docs/egress.md:5: [typo](delivery.md#stack): docs/delivery.md has no heading #stack",
            "docs/egress.md:8: scripts/ci/nope: scripts/ci/nope does not exist",
            "docs/egress.md:13: scripts/ci/gone: scripts/ci/gone does not exist",
        ]);
    });

    it("passes a page whose references all resolve", () => {
        const good = "# A\n\n[b](b.md#b-c), `scripts/ci/deploy`, `b.md`, [top](#a)\n";
        const files = { "docs/a.md": good, "docs/b.md": "# B: `c`\n", "scripts/ci/deploy": "" };
        expect(brokenRefs("docs/a.md", good, fakeRepo(files))).toEqual([]);
    });

    it("numbers repeated headings as GitHub does, and ignores headings in code blocks", () => {
        expect([...anchorsOf("# Tests\n## Tests\n```\n# Tests\n```\n## Settings (`oceanid:nodeChanges`, all optional)\n")]).toEqual([
            "tests",
            "tests-1",
            "settings-oceanidnodechanges-all-optional",
        ]);
    });

    it("names the pages README does not reach", () => {
        const readme = "[egress](docs/egress.md) and `docs/delivery.md`\n";
        expect(pagesOffTheMap(readme, ["docs/delivery.md", "docs/egress.md", "docs/toolchain.md"], repo)).toEqual(["docs/toolchain.md"]);
    });
});

describe("README.md and docs/", () => {
    const repo = diskRepo();
    const read = (f: string) => readFileSync(join(ROOT, f), "utf8");
    const pages = readdirSync(join(ROOT, "docs"), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f.split("\\").join("/")}`)
        .sort();
    const readme = read("README.md");

    it("has docs pages to check", () => {
        expect(pages).toContain("docs/node-changes.md");
        expect(pages.length).toBeGreaterThanOrEqual(9);
    });

    it("every relative link and repo path resolves", () => {
        expect(["README.md", ...pages].flatMap((f) => brokenRefs(f, read(f), repo))).toEqual([]);
    });

    it(`README.md fits on one screen (at most ${README_MAX_LINES} lines)`, () => {
        const lines = readme.replace(/\n$/, "").split("\n").length;
        expect(lines, `README.md has ${lines} lines: move detail into a docs page`).toBeLessThanOrEqual(README_MAX_LINES);
    });

    it("every docs page is on README's map", () => {
        expect(pagesOffTheMap(readme, pages, repo)).toEqual([]);
    });
});
