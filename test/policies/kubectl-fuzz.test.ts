// The parity fuzzer's bounded run (kubectl-fuzz.ts): generated manifests and
// mutated fixtures in every spelling kubectl reads its own way, each compared
// between kubectl's reader and the guard's. A fixed seed, so that a failure
// can be run again; `npm run fuzz:parity -- --runs N --seed S` runs longer and
// keeps what it finds in test/fixtures/kubectl-parity/found/.
import { expect, it } from "vitest";
import { describe as show } from "./kubectl-harness";
import { runFuzz } from "./kubectl-fuzz";
import { describeNeeding } from "../helpers/needs";

const suite = describeNeeding(["kube-read"]);

suite("the parity fuzzer, bounded", () => {
    it("finds no disagreement in 1,500 cases from seed 20251130", () => {
        const result = runFuzz({ runs: 1500, seed: 20251130 });
        expect(result.cases).toBe(1500);
        expect(result.disagreements.map((d) => `${show(d)}\n  case: ${JSON.stringify(d.case)}`)).toEqual([]);
    });
});
