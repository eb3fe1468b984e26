// A node changed over SSH with no out-of-band access: only with a reason, and
// never quietly: the stack output lists it and its preflight prints a warning.
import { beforeAll, expect, it } from "vitest";
import { plain, runProgram, type Registered } from "../helpers/mock-runtime";
import { pulumiHomeWithCommandPlugin, withNodeAccess } from "../helpers/ssh-stack";

let resources: Registered[];
let program: Awaited<ReturnType<typeof runProgram>>["program"];

beforeAll(async () => {
    process.env.PULUMI_HOME = pulumiHomeWithCommandPlugin();
    ({ resources, program } = await runProgram(
        "dev",
        (config) => {
            withNodeAccess(config);
            const nodes = config["oceanid:nodes"] as Array<Record<string, unknown>>;
            delete nodes[2].outOfBand;
            nodes[2].unsafeNoOutOfBand = "spare GPU box, rebuilt from scratch when lost";
        },
        {
            handle: (args) =>
                args.type === "command:remote:Command"
                    ? {
                          stdout: "armed: change=20261204T210000Z-0a1b2c3d reverts at 2026-12-04T21:10:00Z unless confirmed\nprevious: none\napplied-at: 1767225600",
                      }
                    : undefined,
        },
    ));
});

it("lists the node and its reason in the stack outputs", () => {
    expect(program.nodesWithoutOutOfBand).toEqual({ calypso: "spare GPU box, rebuilt from scratch when lost" });
});

it("prints a warning from the node's preflight, and the out-of-band way in for the others", () => {
    const preflight = (node: string) => plain(resources.find((r) => r.name === `${node}-k3s-change-preflight`)!.inputs.create) as string;
    expect(preflight("calypso")).toContain("WARNING: calypso has no out-of-band access; changed anyway because: spare GPU box, rebuilt from scratch when lost");
    expect(preflight("srv712695")).toContain("out-of-band access to srv712695: dev stand-in for the VPS provider");
});
