// Every action .github/ uses is pinned to the commit its release tag points to upstream, as
// checked in ../shared/notes/action-pins.md (2026-12-04). PINS below is the one place those
// commits are written here: a pin in a workflow cannot move to a commit nobody checked, nor its
// comment name another release, without this test failing.
import { describe, expect, it } from "vitest";
import { FILES, steps, text } from "./github-files";

interface Pin {
    /** The commit the release tag points to in the action's own repository. */
    sha: string;
    /** That release, as the `# vX.Y.Z` comment after the pin names it. */
    release: string;
}

/** Each action (`owner/repo` or `owner/repo/path`) and its checked pin. */
const PINS: Record<string, Pin> = {
    "actions/checkout": { sha: "3d3c42e5aac5ba805825da76410c181273ba90b1", release: "v7.0.1" },
    "actions/cache": { sha: "27d5ce7f107fe9357f9df03efb73ab90386fccae", release: "v5.0.5" },
    "actions/setup-go": { sha: "b7ad1dad31e06c5925ef5d2fc7ad053ef454303e", release: "v7.0.0" },
    "actions/setup-node": { sha: "820762786026740c76f36085b0efc47a31fe5020", release: "v7.0.0" },
    "pulumi/actions": { sha: "8e5e406f4007fca908480587cb9893c07090f58d", release: "v7.0.0" },
    "tailscale/github-action": { sha: "780049a30b6ff5c378a9e7b389d15ece7a204888", release: "v4.1.3" },
    "github/codeql-action/upload-sarif": { sha: "8aad20d150bbac5944a9f9d289da16a4b0d87c1e", release: "v4.36.2" },
};

interface Use {
    file: string;
    line: number;
    ref: string;
}

/** The `uses:` references of a file's text, local actions (`./…`) left out. */
function uses(file: string, content: string): Use[] {
    return content.split("\n").flatMap((l, i) => {
        const m = /^\s*(?:- )?uses:\s*(.*?)\s*$/.exec(l);
        return m && !m[1].startsWith("./") ? [{ file, line: i + 1, ref: m[1] }] : [];
    });
}

/** One line per reference that is not its action's checked pin, naming the file, the line and the fix. */
function pinProblems(refs: Use[], pins: Record<string, Pin>): string[] {
    return refs.flatMap(({ file, line, ref }) => {
        const at = `${file}:${line}`;
        const m = /^([\w.-]+\/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$/.exec(ref);
        if (!m) return [`${at}: "${ref}" is not <action>@<40-hex commit> # <release>`];
        const [, action, sha, release] = m;
        const pin = pins[action];
        if (!pin) return [`${at}: ${action} has no checked pin: add its release's upstream commit to PINS`];
        const problems: string[] = [];
        if (sha !== pin.sha) problems.push(`${at}: ${action}@${sha} is not the checked commit ${pin.sha} (${pin.release})`);
        if (release !== pin.release) problems.push(`${at}: ${action}'s comment names ${release}, its pin is ${pin.release}`);
        return problems;
    });
}

const ALL = FILES.flatMap((f) => uses(f, text(f)));

describe("action pins", () => {
    it("every remote action in .github/ is its checked pin", () => {
        expect(ALL.length).toBe(FILES.flatMap((f) => steps(f)).filter((s) => s.uses !== undefined && !s.uses.startsWith("./")).length);
        expect(pinProblems(ALL, PINS)).toEqual([]);
    });

    it("every checked pin is in use (none left over)", () => {
        expect(new Set(ALL.map((u) => u.ref.split("@")[0]))).toEqual(new Set(Object.keys(PINS)));
    });

    it("names a commit other than the checked one, and a comment naming another release", () => {
        const refs = uses(
            "workflows/x.yml",
            [
                "    steps:",
                "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v7.0.1",
                "      - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae # v4.2.3",
                "      - uses: ./.github/actions/toolchain",
            ].join("\n"),
        );
        expect(pinProblems(refs, PINS)).toEqual([
            "workflows/x.yml:2: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 is not the checked commit 3d3c42e5aac5ba805825da76410c181273ba90b1 (v7.0.1)",
            "workflows/x.yml:3: actions/cache's comment names v4.2.3, its pin is v5.0.5",
        ]);
    });

    it("names a tag, a missing comment and an action without a checked pin", () => {
        const refs = uses(
            "actions/y/action.yml",
            [
                "    - uses: tailscale/github-action@v4",
                "    - uses: github/codeql-action/upload-sarif@8aad20d150bbac5944a9f9d289da16a4b0d87c1e",
                "      uses: docker/login-action@5e57cd118135c172c3672efd75eb46360885c0ef # v3.6.0",
            ].join("\n"),
        );
        expect(pinProblems(refs, PINS)).toEqual([
            'actions/y/action.yml:1: "tailscale/github-action@v4" is not <action>@<40-hex commit> # <release>',
            'actions/y/action.yml:2: "github/codeql-action/upload-sarif@8aad20d150bbac5944a9f9d289da16a4b0d87c1e" is not <action>@<40-hex commit> # <release>',
            "actions/y/action.yml:3: docker/login-action has no checked pin: add its release's upstream commit to PINS",
        ]);
    });
});
