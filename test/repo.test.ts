// What the repository tracks: the bundled stacks' files, and no scratch stack (git ignores them).
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { ROOT } from "./helpers/stack-file";

const ignored = (path: string) => spawnSync("git", ["check-ignore", "-q", path], { cwd: ROOT }).status === 0;

it("tracks Pulumi.dev.yaml and Pulumi.prod.yaml, and ignores any other stack file", () => {
    const tracked = spawnSync("git", ["ls-files", "Pulumi.*.yaml"], { cwd: ROOT, encoding: "utf8" }).stdout.trim().split("\n");
    expect(tracked).toEqual(["Pulumi.dev.yaml", "Pulumi.prod.yaml"]);
    expect([ignored("Pulumi.dev.yaml"), ignored("Pulumi.prod.yaml")]).toEqual([false, false]);
    expect([ignored("Pulumi.e2e.yaml"), ignored("Pulumi.scratch.yaml")]).toEqual([true, true]);
});
