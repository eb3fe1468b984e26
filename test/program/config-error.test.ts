import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { runProgram } from "../helpers/mock-runtime";

describe("index.ts with a broken stack config", () => {
    it("stops with a RunError (message only, no stack trace) that lists the problem", async () => {
        const run = runProgram("dev", (config) => {
            const egress = config["oceanid:egress"] as { exitNode: string };
            egress.exitNode = "srv712429";
        });
        await expect(run).rejects.toBeInstanceOf(pulumi.RunError);
        await expect(run).rejects.toThrow(/egress\.exitNode: got "srv712429"; use the Tailscale IP/);
    });
});
