import { describe, expect, it } from "vitest";
import { GUARD_CASES } from "../fixtures/guard-cases";
import { cliVerdict, packVerdict, sorted } from "../helpers/gates";

describe.each(GUARD_CASES)("$name", (c) => {
    it("CrossGuard pack: the expected policies fire", () => {
        const v = packVerdict(c.objects, c.platformExemptions);
        expect(sorted(v.mandatory)).toEqual(sorted(c.mandatory));
        expect(sorted(v.advisory)).toEqual(sorted(c.advisory ?? []));
        expect(sorted(v.exempted)).toEqual(sorted(c.exempted ?? []));
    });

    it("oceanid-guard: the same verdict", () => {
        const v = cliVerdict(c.objects, c.platformExemptions);
        expect(sorted(v.mandatory)).toEqual(sorted(c.mandatory));
        expect(sorted(v.advisory)).toEqual(sorted(c.advisory ?? []));
        expect(sorted(v.exempted)).toEqual(sorted(c.exempted ?? []));
    });
});
