// The drain and uncordon command lines: what the Pulumi program renders is what the CLI reads back.
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArgsError } from "../../components/health/command-line";
import { drainCommand, parseDrainArgs, parseUncordonArgs, uncordonCommand, type DrainSpec, type UncordonSpec } from "../../components/health/drain-command";

const spec = (over: Partial<DrainSpec> = {}): DrainSpec => ({ node: "srv712695", change: "k3s", timeoutSeconds: 300, drain: true, ...over });

/** The words bash makes of the rendered command, after `npx --no-install oceanid-health`. */
function shellWords(command: string): string[] {
    const prefix = "npx --no-install oceanid-health ";
    expect(command.startsWith(prefix)).toBe(true);
    const out = execFileSync("bash", ["-c", `printf '%s\\0' ${command.slice(prefix.length)}`], { encoding: "utf8" });
    return out.split("\0").slice(0, -1);
}

describe("drainCommand", () => {
    it("renders the flags in order with the kubeconfig on stdin", () => {
        expect(drainCommand(spec())).toBe("npx --no-install oceanid-health drain --node srv712695 --change k3s --timeout 300 --kubeconfig -");
    });

    it("adds the agent preflight, --no-drain and --context only when set", () => {
        expect(drainCommand(spec({ agentOf: { server: "srv712429", version: "v1.33.5+k3s1" }, drain: false, context: "oceanid admin's" }))).toBe(
            "npx --no-install oceanid-health drain --node srv712695 --change k3s --timeout 300 --agent-of srv712429 --version v1.33.5+k3s1 " +
                "--no-drain --kubeconfig - --context 'oceanid admin'\\''s'",
        );
    });

    it("attaches a value that starts with a dash with =", () => {
        expect(drainCommand(spec({ node: "-n" }))).toContain(" drain --node=-n --change k3s ");
    });

    it("round-trips through bash and the CLI's parser", () => {
        for (const s of [
            spec(),
            spec({ drain: false }),
            spec({ agentOf: { server: "srv712429", version: "v1.34.1+k3s2" }, timeoutSeconds: 1 }),
            spec({ context: 'it\'s; $(rm -rf /) `x` "y"', node: "node with spaces" }),
        ]) {
            expect(parseDrainArgs(shellWords(drainCommand(s)).slice(1))).toEqual({ help: false, spec: s, kubeconfig: "-", intervalSeconds: 2 });
        }
    });

    it("round-trips any node, server and context name the shell can carry", () => {
        const word = fc
            .oneof(
                fc.string({ unit: "binary", minLength: 1, maxLength: 30 }),
                fc.string({ minLength: 1 }).map((s) => `-${s}`),
            )
            .filter((s) => !s.includes("\0"));
        fc.assert(
            fc.property(word, word, word, (node, server, context) => {
                const s = spec({ node, context, agentOf: { server, version: "v1.33.5+k3s1" } });
                expect(parseDrainArgs(shellWords(drainCommand(s)).slice(1))).toEqual({ help: false, spec: s, kubeconfig: "-", intervalSeconds: 2 });
            }),
            { numRuns: 30 },
        );
    });
});

describe("uncordonCommand", () => {
    it("renders the node and the kubeconfig on stdin, and round-trips", () => {
        expect(uncordonCommand({ node: "calypso" })).toBe("npx --no-install oceanid-health uncordon --node calypso --kubeconfig -");
        for (const s of [{ node: "calypso" }, { node: "-x y", context: "a'b" }] satisfies UncordonSpec[]) {
            expect(parseUncordonArgs(shellWords(uncordonCommand(s)).slice(1))).toEqual({ help: false, spec: s, kubeconfig: "-" });
        }
    });
});

describe("parseDrainArgs", () => {
    const args = ["--node", "n", "--change", "k3s", "--timeout", "60"];

    it("reads the optional flags", () => {
        expect(parseDrainArgs([...args, "--interval", "0.5", "--kubeconfig", "/tmp/kc", "--context", "c", "--no-drain"])).toEqual({
            help: false,
            spec: { node: "n", change: "k3s", timeoutSeconds: 60, drain: false, context: "c" },
            kubeconfig: "/tmp/kc",
            intervalSeconds: 0.5,
        });
        expect(parseDrainArgs(["--help"])).toEqual({ help: true });
    });

    it("names every missing flag at once", () => {
        expect(() => parseDrainArgs([])).toThrow(new ArgsError("--node is required; --change is required; --timeout is required"));
    });

    it.each([
        [["--change", "K3S"], '--change must be the change\'s kind in lower case, such as k3s, got "K3S"'],
        [["--timeout", "0"], '--timeout must be a positive whole number of seconds, got "0"'],
        [["--timeout", "2.5"], '--timeout must be a positive whole number of seconds, got "2.5"'],
        [["--interval", "0"], '--interval must be a positive number of seconds, got "0"'],
        [["--agent-of", "srv"], "--agent-of SERVER and --version TARGET go together: give both (the node is an agent about to get TARGET) or neither"],
        [["--version", "v1.33.5+k3s1"], "--agent-of SERVER and --version TARGET go together: give both (the node is an agent about to get TARGET) or neither"],
        [["--agent-of", "srv", "--version", "1.33.5"], '--version must be a k3s release such as v1.33.5+k3s1, got "1.33.5"'],
        [["--agent-of", "", "--version", "v1.33.5+k3s1"], "--agent-of must name the server node"],
        [["--context", ""], "--context must not be empty"],
        [["--kubeconfig", ""], "--kubeconfig must be a path or - for stdin"],
        [["--no-drain=yes"], "Option '--no-drain' does not take an argument"],
        [["--drain"], "Unknown option '--drain'"],
    ])("refuses %j", (override, message) => {
        const argv = [...args];
        const i = argv.indexOf(override[0]);
        if (i >= 0 && override.length === 2) argv[i + 1] = override[1];
        else argv.push(...override);
        expect(() => parseDrainArgs(argv)).toThrow(new ArgsError(message));
    });
});

describe("parseUncordonArgs", () => {
    it("wants --node and nothing it does not know", () => {
        expect(() => parseUncordonArgs([])).toThrow(new ArgsError("--node is required"));
        expect(() => parseUncordonArgs(["--node", "n", "--timeout", "5"])).toThrow(new ArgsError("Unknown option '--timeout'"));
        expect(parseUncordonArgs(["--node", "n", "--kubeconfig", "kc"])).toEqual({ help: false, spec: { node: "n" }, kubeconfig: "kc" });
    });
});
