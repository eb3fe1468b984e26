// The recovery runbook names every node of the real cluster with its out-of-band access.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readStackFile, ROOT } from "../helpers/stack-file";

describe("docs/runbooks/node-network-recovery.md", () => {
    const runbook = readFileSync(join(ROOT, "docs", "runbooks", "node-network-recovery.md"), "utf8").replace(/\s+/g, " ");
    const nodes = readStackFile("prod")["oceanid:nodes"] as { name: string; outOfBand: string }[];

    it.each(nodes.map((n) => [n.name, n] as const))("has a section for %s with its out-of-band access from Pulumi.prod.yaml", (name, node) => {
        expect(runbook).toContain(`### ${name} `);
        const section = runbook.split(`### ${name} `)[1].split("###")[0];
        // Every distinctive word of the config's note is in the section (the runbook may add more).
        const words = node.outOfBand
            .replace(/[(),.]/g, " ")
            .split(/\s+/)
            .filter((w) => w.length > 6);
        for (const w of words) expect(section, w).toContain(w);
    });
});
