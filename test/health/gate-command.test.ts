// The gate's command line: what the Pulumi program renders is what the CLI reads back.
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gateCommand, GateArgsError, parseGateArgs, type GateSpec } from "../../components/health/gate-command";
import { shellWord } from "../../components/platform/shell-quote";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBSgVhpZJ91oZCceCmllHH7x9MkpQ1otU/mHIbbxxNI";

const spec = (over: Partial<GateSpec> = {}): GateSpec => ({
    node: "srv712695",
    version: "v1.33.5+k3s1",
    sshHost: "192.0.2.20",
    sshPort: 22,
    hostKey: KEY,
    since: "1772445600",
    timeoutSeconds: 180,
    ...over,
});

/** The words bash makes of the rendered command, after `npx --no-install oceanid-health`. */
function shellWords(command: string): string[] {
    const prefix = "npx --no-install oceanid-health ";
    expect(command.startsWith(prefix)).toBe(true);
    const out = execFileSync("bash", ["-c", `printf '%s\\0' ${command.slice(prefix.length)}`], { encoding: "utf8" });
    return out.split("\0").slice(0, -1);
}

describe("gateCommand", () => {
    it("renders the flags in order, the host key quoted and the kubeconfig on stdin", () => {
        expect(gateCommand(spec())).toBe(
            `npx --no-install oceanid-health gate --node srv712695 --version v1.33.5+k3s1 --ssh 192.0.2.20:22 ` +
                `--host-key '${KEY}' --since 1772445600 --timeout 180 --kubeconfig -`,
        );
    });

    it("adds --context only when set, and quotes what the shell would read otherwise", () => {
        expect(gateCommand(spec({ context: "oceanid admin's" }))).toMatch(/ --kubeconfig - --context 'oceanid admin'\\''s'$/);
        expect(gateCommand(spec({ context: "default" }))).toMatch(/ --context default$/);
    });

    it("writes an IPv6 host as [addr]:port, quoted so the shell does not glob it", () => {
        expect(gateCommand(spec({ sshHost: "fd7a:115c:a1e0::1", sshPort: 2222 }))).toContain(" --ssh '[fd7a:115c:a1e0::1]:2222' ");
    });

    it("attaches a value that starts with a dash with =", () => {
        expect(gateCommand(spec({ context: "-ctx" }))).toMatch(/ --kubeconfig - --context=-ctx$/);
        expect(gateCommand(spec({ context: "-a b" }))).toMatch(/ --context='-a b'$/);
    });

    it("renders --settle, --max-lease-age and --previous only when set, before the kubeconfig", () => {
        expect(gateCommand(spec({ settleSeconds: 30, maxLeaseAgeSeconds: 25, previousVersion: "v1.33.4+k3s1" }))).toBe(
            `npx --no-install oceanid-health gate --node srv712695 --version v1.33.5+k3s1 --ssh 192.0.2.20:22 ` +
                `--host-key '${KEY}' --since 1772445600 --timeout 180 --settle 30 --max-lease-age 25 --previous v1.33.4+k3s1 --kubeconfig -`,
        );
        expect(gateCommand(spec({ settleSeconds: 0 }))).toContain(" --timeout 180 --settle 0 --kubeconfig -");
    });

    it("drops the newline the node printed after the epoch", () => {
        expect(gateCommand(spec({ since: "1772445600\n" }))).toContain(" --since 1772445600 ");
    });

    it("round-trips through bash and the CLI's parser", () => {
        for (const s of [
            spec(),
            spec({ context: 'it\'s; $(rm -rf /) `x` "y"' }),
            spec({ sshHost: "::1", sshPort: 65535 }),
            spec({ sshHost: "node-1.example", timeoutSeconds: 1 }),
            spec({ settleSeconds: 60, maxLeaseAgeSeconds: 30, previousVersion: "v1.33.4+k3s1" }),
            spec({ settleSeconds: 0, previousVersion: "it's -x" }),
        ]) {
            const parsed = parseGateArgs(shellWords(gateCommand(s)).slice(1));
            expect(parsed).toEqual({ help: false, spec: s, kubeconfig: "-", intervalSeconds: 2 });
        }
    });

    it("round-trips any context name and any node name the shell can carry", () => {
        // Anything but NUL, which no argv can hold; "-x" included, which must not read as a flag.
        const word = fc
            .oneof(
                fc.string({ unit: "binary", minLength: 1, maxLength: 30 }),
                fc.string({ minLength: 1 }).map((s) => `-${s}`),
            )
            .filter((s) => !s.includes("\0"));
        fc.assert(
            fc.property(word, word, (context, node) => {
                const s = spec({ context, node });
                const parsed = parseGateArgs(shellWords(gateCommand(s)).slice(1));
                expect(parsed).toEqual({ help: false, spec: s, kubeconfig: "-", intervalSeconds: 2 });
            }),
            { numRuns: 40 },
        );
    });
});

describe("shellWord", () => {
    it("leaves plain words bare and single-quotes the rest", () => {
        expect(shellWord("v1.33.5+k3s1")).toBe("v1.33.5+k3s1");
        expect(shellWord("a b")).toBe("'a b'");
        expect(shellWord("it's")).toBe("'it'\\''s'");
        expect(shellWord("*")).toBe("'*'");
    });
});

describe("parseGateArgs", () => {
    const args = ["--node", "n", "--version", "v1.33.5+k3s1", "--ssh", "127.0.0.1:22", "--host-key", KEY, "--since", "1772445600", "--timeout", "60"];

    it("reads the optional flags", () => {
        expect(parseGateArgs([...args, "--interval", "0.5", "--kubeconfig", "/tmp/kc", "--context", "c"])).toEqual({
            help: false,
            spec: {
                node: "n",
                version: "v1.33.5+k3s1",
                sshHost: "127.0.0.1",
                sshPort: 22,
                hostKey: KEY,
                since: "1772445600",
                timeoutSeconds: 60,
                context: "c",
            },
            kubeconfig: "/tmp/kc",
            intervalSeconds: 0.5,
        });
    });

    it("reads --settle, --max-lease-age and --previous", () => {
        const parsed = parseGateArgs([...args, "--settle", "0", "--max-lease-age", "15", "--previous", "v1.33.4+k3s1"]);
        expect(parsed.help === false && parsed.spec).toEqual({
            node: "n",
            version: "v1.33.5+k3s1",
            sshHost: "127.0.0.1",
            sshPort: 22,
            hostKey: KEY,
            since: "1772445600",
            timeoutSeconds: 60,
            settleSeconds: 0,
            maxLeaseAgeSeconds: 15,
            previousVersion: "v1.33.4+k3s1",
        });
        expect(() => parseGateArgs([...args, "--settle", "59"])).not.toThrow();
    });

    it("names every missing flag at once", () => {
        expect(() => parseGateArgs(["--node", "n"])).toThrow(
            new GateArgsError("--version is required; --ssh is required; --host-key is required; --since is required; --timeout is required"),
        );
    });

    it.each([
        [["--ssh", "127.0.0.1"], '--ssh must be HOST:PORT (an IPv6 address in brackets: [fd00::1]:22), got "127.0.0.1"'],
        [["--ssh", "::1:22"], '--ssh must be HOST:PORT (an IPv6 address in brackets: [fd00::1]:22), got "::1:22"'],
        [["--ssh", "h:70000"], '--ssh must be HOST:PORT (an IPv6 address in brackets: [fd00::1]:22), got "h:70000"'],
        [["--host-key", "AAAAC3Nz"], `--host-key must be a public key line "<type> <base64>" as ssh-keyscan prints it, e.g. 'ssh-ed25519 AAAAC3...'`],
        [
            ["--host-key", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOBSgVhpZJ91oZCceCmllHH7x9MkpQ1otU/mHIbbxxNI"],
            `--host-key must be a public key line "<type> <base64>" as ssh-keyscan prints it, e.g. 'ssh-ed25519 AAAAC3...'`,
        ],
        [["--since", "yesterday"], '--since must be epoch seconds (date +%s on the node), got "yesterday"'],
        [["--timeout", "0"], '--timeout must be a positive whole number of seconds, got "0"'],
        [["--timeout", "1.5"], '--timeout must be a positive whole number of seconds, got "1.5"'],
        [["--interval", "0"], '--interval must be a positive number of seconds, got "0"'],
        [["--interval", "-1"], "Option '--interval' argument is ambiguous"],
        [["--settle", "1.5"], '--settle must be a non-negative whole number of seconds, got "1.5"'],
        [
            ["--settle", "60"],
            "--timeout 60 must exceed --settle 60: the node has to stay healthy for --settle seconds within --timeout; raise --timeout or lower --settle",
        ],
        [
            ["--settle", "90"],
            "--timeout 60 must exceed --settle 90: the node has to stay healthy for --settle seconds within --timeout; raise --timeout or lower --settle",
        ],
        [["--max-lease-age", "0"], '--max-lease-age must be a positive whole number of seconds, got "0"'],
        [["--previous", ""], "--previous must be a version such as v1.33.4+k3s1, or left out"],
    ])("refuses %j", (override, message) => {
        const argv = [...args];
        const i = argv.indexOf(override[0]);
        if (i >= 0) argv[i + 1] = override[1];
        else argv.push(...override);
        expect(() => parseGateArgs(argv)).toThrow(new GateArgsError(message));
    });

    it("refuses unknown flags and positionals in one sentence", () => {
        expect(() => parseGateArgs([...args, "--nodes", "x"])).toThrow(new GateArgsError("Unknown option '--nodes'"));
        expect(() => parseGateArgs([...args, "extra"])).toThrow(GateArgsError);
    });
});
