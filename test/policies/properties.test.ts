// Property tests: no arrangement of a manifest hides a hostNetwork DaemonSet,
// and no input crashes oceanid-guard.
import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { appContainer, compliantPodSpec, deployment, workload, type Obj } from "../fixtures/guard-cases";
import { packVerdict, runCliArgs } from "../helpers/gates";

const DAEMONSET_VERSIONS = ["apps/v1", "apps/v1beta2", "extensions/v1beta1"];
const CONTAINER_FIELDS = ["containers", "initContainers", "ephemeralContainers"] as const;

/** The same object with every map's keys in a random order. */
function shuffleKeys(v: unknown, rnd: () => number): unknown {
    if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, rnd));
    if (v === null || typeof v !== "object") return v;
    const entries = Object.entries(v as Obj);
    for (let i = entries.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [entries[i], entries[j]] = [entries[j], entries[i]];
    }
    return Object.fromEntries(entries.map(([k, x]) => [k, shuffleKeys(x, rnd)]));
}

function nestInLists(obj: Obj, depth: number, siblings: Obj[]): Obj {
    let out = obj;
    for (let d = 0; d < depth; d++) out = { apiVersion: "v1", kind: "List", items: d === 0 ? [...siblings, out] : [out] };
    return out;
}

const hostNetworkDaemonSet = fc.record({
    apiVersion: fc.constantFrom(...DAEMONSET_VERSIONS),
    field: fc.constantFrom(...CONTAINER_FIELDS),
    position: fc.nat(3),
    depth: fc.nat(3),
    siblings: fc.nat(2),
    seed: fc.integer(),
});

describe("a hostNetwork DaemonSet is never hidden", () => {
    it("by key order, List nesting, API version or container position", () => {
        fc.assert(
            fc.property(hostNetworkDaemonSet, ({ apiVersion, field, position, depth, siblings, seed }) => {
                const spec = compliantPodSpec();
                spec.hostNetwork = true;
                const extra = Array.from({ length: position }, (_, i) => ({ ...appContainer(), name: `extra-${i}` }));
                spec[field] = [...extra, ...(spec[field] ?? [])];
                let s = seed;
                const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
                const ds = shuffleKeys(workload(apiVersion, "DaemonSet", spec), rnd) as Obj;
                const doc = nestInLists(
                    ds,
                    depth,
                    Array.from({ length: siblings }, (_, i) => deployment(compliantPodSpec(), { name: `d${i}` })),
                );

                const cli = runCliArgs(["--format", "json", "-"], stringify(doc));
                // kubectl refuses a List inside a List: unreadable input (exit 2), and what it holds is still reported.
                expect(cli.code).toBe(depth >= 2 ? 2 : 1);
                expect(JSON.parse(cli.stdout).violations.map((v: { policy: string }) => v.policy)).toContain("daemonset-no-host-network");
                expect(packVerdict([doc]).mandatory).toContain("daemonset-no-host-network");
            }),
            { numRuns: 150 },
        );
    });
});

describe("oceanid-guard never crashes", () => {
    const dir = mkdtempSync(join(tmpdir(), "oceanid-guard-fuzz-"));
    const check = (bytes: Uint8Array | string, i: number) => {
        const file = join(dir, `input-${i}.yaml`);
        writeFileSync(file, bytes);
        const run = runCliArgs([file]);
        expect([0, 1, 2]).toContain(run.code);
        expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
        if (run.code === 2) expect(run.stderr.startsWith(`oceanid-guard: ${file}`)).toBe(true);
        else expect(run.stderr).toBe("");
    };

    it("on random bytes: exit 0 or 1 with a clean report, or 2 with a message naming the file", () => {
        let i = 0;
        fc.assert(
            fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => check(bytes, i++)),
            { numRuns: 300 },
        );
    });

    it("on random YAML-looking text", () => {
        let i = 0;
        const yamlish = fc
            .array(
                fc.constantFrom(
                    "apiVersion: ",
                    "kind: ",
                    "- ",
                    ": ",
                    "---\n",
                    "\n",
                    "  ",
                    "{",
                    "}",
                    "[",
                    "]",
                    "'",
                    '"',
                    "&a ",
                    "*a",
                    "!!str ",
                    "#",
                    "DaemonSet",
                    "v1",
                    "hostNetwork: true",
                ),
                { maxLength: 60 },
            )
            .map((parts) => parts.join(""));
        fc.assert(
            fc.property(yamlish, (text) => check(text, i++)),
            { numRuns: 300 },
        );
    });
});
