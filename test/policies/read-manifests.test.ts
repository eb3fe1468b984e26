// readManifests: which files it reads for a path (directories, symbolic links,
// stdin), in what order, one document at a time, and with which lines.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { main } from "../../policies/cli/main";
import { expandPaths, parseManifests, readManifests, type ReadItem } from "../../policies/cli/read-manifests";
import { deployment } from "../fixtures/guard-cases";
import { ROOT } from "../helpers/stack-file";
import { kubectlReads } from "./kubectl-harness";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["kube-read"]);

const dirs: string[] = [];
const tmpDir = () => {
    const d = mkdtempSync(join(tmpdir(), "oceanid-read-"));
    dirs.push(d);
    return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const pod = (name: string, extra = "") => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\n${extra}`;
const hostNetworkDs = (name: string) =>
    `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ${name}, namespace: apps}\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers: [{name: a, image: b}]\n`;

/** Each item's objects as [name, line], and each error as [message, line]. */
function summary(items: Iterable<ReadItem>): Array<[string, number | undefined]> {
    return [...items].flatMap((item): Array<[string, number | undefined]> =>
        "error" in item
            ? [[item.error.message, item.error.line]]
            : item.objects.map((o) => [(o.body as { metadata: { name: string } }).metadata.name, o.source.line]),
    );
}

suite("readManifests", () => {
    it("yields missing paths first, then each file's documents in order, one at a time", () => {
        const good = join(tmpDir(), "two.yaml");
        writeFileSync(good, `${stringify(deployment())}---\n${stringify(deployment(undefined, { name: "second" }))}`);
        const read = readManifests(["/nonexistent/a.yaml", good], () => "");
        expect(read.files).toEqual([good]);
        const items = read.items[Symbol.iterator]();
        expect(items.next().value).toEqual({ error: { file: "/nonexistent/a.yaml", message: "cannot read: ENOENT" } });
        const first = items.next().value as { objects: { body: { metadata: { name: string } }; source: unknown }[] };
        expect(first.objects.map((o) => [o.body.metadata.name, o.source])).toEqual([["web", { file: good, line: 1 }]]);
        const second = items.next().value as typeof first;
        expect(second.objects.map((o) => [o.body.metadata.name, o.source])).toEqual([
            ["second", { file: good, line: 1 + stringify(deployment()).split("\n").length }],
        ]);
        expect(items.next().done).toBe(true);
    });

    it("gives each document, list item and JSON value its own line", () => {
        const yaml = `# a comment\n${pod("a")}---\napiVersion: v1\nkind: List\nitems:\n- ${pod("b").replace(/\n(?=.)/g, "\n  ")}- ${pod("c").replace(/\n(?=.)/g, "\n  ")}`;
        expect(summary(parseManifests(yaml, "f.yaml"))).toEqual([
            ["a", 2],
            ["b", 9],
            ["c", 12],
        ]);
        const json = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"d"}}\n\n{"apiVersion":"v1","kind":"List","items":[\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"e"}},\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"f"}}]}\n`;
        expect(summary(parseManifests(json, "f.json"))).toEqual([
            ["d", 1],
            ["e", 4],
            ["f", 5],
        ]);
        // CR LF lines count once; an error names its document and line.
        expect(summary(parseManifests(`${pod("g").replaceAll("\n", "\r\n")}---\r\nkind: [unclosed\r\n`, "f.yaml"))).toEqual([
            ["g", 1],
            ["document 2 cannot be read: Flow sequence in block collection must be sufficiently indented and end with a ]", 5],
        ]);
    });

    it("says which document kubectl refuses and why, and reads on", () => {
        const text = `${pod("ok")}---\n${pod("y")}---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n---\n${pod("after")}`;
        expect(summary(parseManifests(text, "f.yaml"))).toEqual([
            ["ok", 1],
            ["document 2 cannot be read: json: cannot unmarshal bool into Go struct field metadataOnlyObject.metadata.name of type string", 5],
            ['document 3 cannot be read: item 1 is a list itself (it has "items"), which kubectl does not expand', 12],
            ["after", 14],
        ]);
    });

    it("reads stdin's bytes as a file's: UTF-16 with a byte-order mark", () => {
        const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(hostNetworkDs("from-stdin"), "utf16le")]);
        const read = readManifests(["-"], () => bytes);
        expect(read.files).toEqual(["<stdin>"]);
        expect(summary(read.items)).toEqual([["from-stdin", 1]]);
        let stdout = "";
        const code = main(["--format", "json", "-"], { stdout: (t) => (stdout += t), stderr: () => undefined, readStdin: () => bytes, now: () => new Date(0) });
        expect(code).toBe(1);
        expect((JSON.parse(stdout) as { violations: { name: string; policy: string }[] }).violations.map((v) => [v.name, v.policy])).toContainEqual([
            "from-stdin",
            "daemonset-no-host-network",
        ]);
    });

    // The bin script hands main() stdin's bytes, so a byte-order mark there chooses UTF-16 as in a file.
    it("reads UTF-16 with a byte-order mark on stdin through the oceanid-guard process", () => {
        const bytes = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(hostNetworkDs("from-stdin"), "utf16le").swap16()]);
        const run = spawnSync(process.execPath, [join(ROOT, "policies", "cli", "oceanid-guard.cjs"), "--format", "json", "-"], {
            input: bytes,
            encoding: "utf8",
        });
        expect(run.stderr).toBe("");
        expect(run.status).toBe(1);
        expect((JSON.parse(run.stdout) as { summary: { objects: number } }).summary.objects).toBe(1);
    });
});

suite("directories as kubectl -R walks them, and more", () => {
    // root/: a.yaml, file-link.yaml -> outside/b.yaml, dir-link -> outside-dir/ (c.yaml), up -> root, dangling.yaml -> nothing
    const base = tmpDir();
    const root = join(base, "root");
    mkdirSync(join(root, "sub"), { recursive: true });
    mkdirSync(join(base, "outside-dir"));
    writeFileSync(join(root, "a.yaml"), pod("a"));
    writeFileSync(join(root, "sub", "s.yml"), pod("s"));
    writeFileSync(join(root, "notes.txt"), "not a manifest");
    writeFileSync(join(base, "b.yaml"), hostNetworkDs("through-a-file-link"));
    writeFileSync(join(base, "outside-dir", "c.json"), JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "c" } }));
    symlinkSync(join(base, "b.yaml"), join(root, "file-link.yaml"));
    symlinkSync(join(base, "outside-dir"), join(root, "dir-link"));
    symlinkSync(root, join(root, "sub", "up"));
    symlinkSync(join(base, "missing.yaml"), join(root, "dangling.yaml"));
    symlinkSync(join(base, "missing.txt"), join(root, "dangling.txt"));

    it("reads every file kubectl reads, a linked file too, and also what a linked directory holds, each once", () => {
        const { files, errors } = expandPaths([root]);
        expect(files).toEqual([join(root, "a.yaml"), join(root, "dir-link", "c.json"), join(root, "file-link.yaml"), join(root, "sub", "s.yml")]);
        expect(errors).toEqual([{ file: join(root, "dangling.yaml"), message: "cannot read: ENOENT (a symbolic link to nothing)" }]);
        const kubectl = kubectlReads([root]);
        // kubectl follows the file link and skips the directory link; everything it sends, the guard reads.
        expect([...kubectl.objects.keys()].sort()).toEqual([join(root, "a.yaml"), join(root, "file-link.yaml"), join(root, "sub", "s.yml")]);
        for (const source of kubectl.objects.keys()) expect(files).toContain(source);
        expect(kubectl.errors.get(root)?.join("\n")).toContain(join(root, "dangling.yaml"));
    });

    it("checks a linked file, and exits 2 naming a link to nothing", () => {
        let stdout = "";
        let stderr = "";
        const code = main(["--format", "json", root], {
            stdout: (t) => (stdout += t),
            stderr: (t) => (stderr += t),
            readStdin: () => "",
            now: () => new Date(0),
        });
        expect(code).toBe(2);
        expect(stderr).toBe(`oceanid-guard: ${join(root, "dangling.yaml")}: cannot read: ENOENT (a symbolic link to nothing)\n`);
        const out = JSON.parse(stdout) as { summary: { objects: number }; violations: { name: string; file: string }[] };
        expect(out.summary.objects).toBe(4);
        expect(out.violations.map((v) => [v.name, v.file])).toContainEqual(["through-a-file-link", join(root, "file-link.yaml")]);
    });
});
