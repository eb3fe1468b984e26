// The benchmark harness at smoke size (bench/run.mjs --smoke): every section
// measures and every cross-check inside it holds (the harness exits 1 when one
// breaks). Ratios are printed, not judged here: speed targets are the full
// run's business (bench/RESULTS.md).
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeNeeding } from "../helpers/needs";
import { runAsync } from "../helpers/pulumi-cli";
import { ROOT } from "../helpers/stack-file";

const suite = describeNeeding(["kube-read", "pulumi"]);

const SECTIONS = ["== startup:", "== throughput:", "== memory:", "== large inputs:", "== the program under the mock runtime,", "== done in"];

suite("npm run bench:smoke", () => {
    it("runs every section and ends with its summary line", async () => {
        const r = await runAsync(process.execPath, [join(ROOT, "bench", "run.mjs"), "--smoke"], { cwd: ROOT });
        expect(r.code, r.output.slice(-2000)).toBe(0);
        const headings = r.stdout.split("\n").filter((l) => l.startsWith("== "));
        expect(headings.map((h) => SECTIONS.find((s) => h.startsWith(s)) ?? h)).toEqual(SECTIONS);
        expect(headings.at(-1)).toMatch(/^== done in \d+ s \(smoke: ratios printed, not judged\)$/);
    }, 900_000);
});
