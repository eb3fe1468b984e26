// The node-change graph under Pulumi's mock runtime: which commands exist for
// which node, in which order, with which connection, and where the secrets go.
import { beforeAll, describe, expect, it } from "vitest";
import { isSecretValue, plain, runProgram, type Registered } from "../helpers/mock-runtime";
import { NODE_ACCESS_TEST_SECRETS, pulumiHomeWithCommandPlugin, withNodeAccess } from "../helpers/ssh-stack";
import { shellQuote } from "../../components/platform/shell-quote";

const SECRETS = {
    ...NODE_ACCESS_TEST_SECRETS,
};

const APPLY_OUTPUT =
    "armed: change=20261204T210000Z-0a1b2c3d reverts at 2026-12-04T21:10:00Z unless confirmed\nprevious: v1.33.4+k3s1\napplied-at: 1767225600\n";
let resources: Registered[];

beforeAll(async () => {
    process.env.PULUMI_HOME = pulumiHomeWithCommandPlugin();
    ({ resources } = await runProgram("dev", withNodeAccess, {
        secrets: SECRETS,
        // What apply prints: the change it armed, what ran before, the node's clock (the gate and confirm read them).
        handle: (args) => (args.type === "command:remote:Command" ? { stdout: APPLY_OUTPUT, stderr: "" } : undefined),
    }));
});

const commands = () => resources.filter((r) => r.type.startsWith("command:"));
const named = (name: string) => resources.find((r) => r.name === name)!;

describe("node changes under the mock runtime", () => {
    it("runs six steps per node, server first, then the canary, then the other agent", () => {
        expect(commands().map((r) => `${r.type.split(":")[1]} ${r.name}`)).toEqual(
            ["srv712429", "srv712695", "calypso"].flatMap((n) => [
                `remote ${n}-k3s-change-preflight`,
                `local ${n}-k3s-change-drain`,
                `remote ${n}-k3s-change-apply`,
                `local ${n}-k3s-change-gate`,
                `remote ${n}-k3s-change-confirm`,
                `local ${n}-k3s-change-uncordon`,
            ]),
        );
        expect(resources.filter((r) => r.type === "oceanid:nodes:K3sAgent").map((r) => r.name)).toEqual(["srv712429-k3s", "srv712695-k3s", "calypso-k3s"]);
    });

    it("makes each step wait for the one before, and each node wait for the previous node's uncordon", () => {
        const steps = ["preflight", "drain", "apply", "gate", "confirm", "uncordon"];
        const order = ["srv712429", "srv712695", "calypso"];
        order.forEach((node, i) => {
            const first = named(`${node}-k3s-change-preflight`);
            expect(first.dependsOn).toEqual(i === 0 ? [] : [`${order[i - 1]}-k3s-change-uncordon`]);
            for (let s = 1; s < steps.length; s++) {
                // Gate and confirm also name the preflight's URN (the command that runs the change again); confirm reads apply's change id.
                const extra =
                    { gate: ["preflight"], confirm: ["preflight", "apply"] }[steps[s] as "gate" | "confirm"]?.map((x) => `${node}-k3s-change-${x}`) ?? [];
                expect(named(`${node}-k3s-change-${steps[s]}`).dependsOn.sort()).toEqual([`${node}-k3s-change-${steps[s - 1]}`, ...extra].sort());
            }
        });
    });

    it("connects to each node's SSH address with its pinned host key; the connection, holding the key, is secret", () => {
        const conn = named("calypso-k3s-change-apply").inputs.connection;
        expect(isSecretValue(conn)).toBe(true);
        expect(plain(conn)).toEqual({
            host: "198.51.100.30",
            port: 22,
            user: "oceanid",
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMNheAjxUvQk7mJE8E6ytrokk93rtklVfy7b3mXrT8PR",
            dialErrorLimit: 3,
            perDialTimeout: 15,
            privateKey: SECRETS["oceanid:sshPrivateKey"],
        });
        expect(plain(named("srv712429-k3s-change-preflight").inputs.connection).host).toBe("192.0.2.10");
    });

    it("sends the k3s token only on preflight's and apply's stdin, as a secret, with logging off", () => {
        for (const r of commands().filter((c) => c.type === "command:remote:Command")) {
            const step = r.name.split("-").pop();
            if (step === "preflight" || step === "apply") {
                expect(isSecretValue(r.inputs.stdin)).toBe(true);
                expect(plain(r.inputs.stdin)).toBe(SECRETS["oceanid:k3sToken"]);
                expect(r.inputs.logging).toBe("none");
            } else {
                expect(r.inputs.stdin).toBeUndefined();
            }
            expect(r.inputs.environment).toBeUndefined();
        }
    });

    it("runs drain, gate and uncordon locally, the kubeconfig only on their stdin", () => {
        expect(named("srv712695-k3s-change-drain").inputs.create).toBe(
            "npx --no-install oceanid-health drain --node srv712695 --change k3s --timeout 300 --agent-of srv712429 --version v1.33.5+k3s1 --kubeconfig -",
        );
        expect(named("srv712429-k3s-change-drain").inputs.create).toBe(
            "npx --no-install oceanid-health drain --node srv712429 --change k3s --timeout 300 --kubeconfig -",
        );
        // The mock engine writes a URN with only the parent's type; the real one lists every ancestor's.
        const urn = "urn:pulumi:dev::oceanid-infra::oceanid:nodes:NodeChange$command:remote:Command::srv712695-k3s-change-preflight";
        expect(named("srv712695-k3s-change-gate").inputs.create).toBe(
            "npx --no-install oceanid-health gate --node srv712695 --version v1.33.5+k3s1 --ssh 192.0.2.20:22 " +
                "--host-key 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBSgVhpZJ91oZCceCmllHH7x9MkpQ1otU/mHIbbxxNI' --since 1767225600 --timeout 180 " +
                `--settle 60 --max-lease-age 40 --previous v1.33.4+k3s1 --rerun ${shellQuote(`pulumi up --replace '${urn}'`)} --kubeconfig -`,
        );
        expect(named("srv712695-k3s-change-uncordon").inputs.create).toBe("npx --no-install oceanid-health uncordon --node srv712695 --kubeconfig -");
        for (const step of ["drain", "gate", "uncordon"]) {
            const r = named(`srv712695-k3s-change-${step}`);
            expect(isSecretValue(r.inputs.stdin)).toBe(true);
            expect(plain(r.inputs.stdin)).toBe(SECRETS["oceanid:kubeconfig"]);
        }
    });

    it("confirms exactly the change apply armed, and says how to run it again", () => {
        const confirm = plain(named("srv712695-k3s-change-confirm").inputs.create) as string;
        expect(confirm).toContain(shellQuote("expected='20261204T210000Z-0a1b2c3d'").slice(1, -1));
        expect(confirm).toContain("to run the change again: $rerun");
        expect(confirm).toContain(
            shellQuote(
                `rerun=${shellQuote("pulumi up --replace 'urn:pulumi:dev::oceanid-infra::oceanid:nodes:NodeChange$command:remote:Command::srv712695-k3s-change-preflight'")}`,
            ).slice(1, -1),
        );
    });

    it("wraps every remote script in timeout with the configured limits", () => {
        expect(named("calypso-k3s-change-preflight").inputs.create).toMatch(/^sudo -n timeout -k 10 60 bash -c '/);
        expect(named("calypso-k3s-change-apply").inputs.create).toMatch(/^sudo -n timeout -k 10 300 bash -c '/);
        expect(named("calypso-k3s-change-apply").inputs.create).toContain("deadline=$((armed_at + 600))");
    });

    it("keeps every secret value out of every plain input", () => {
        const leaks: string[] = [];
        const walk = (v: unknown, path: string) => {
            if (isSecretValue(v)) return;
            if (typeof v === "string") {
                for (const [key, secret] of Object.entries(SECRETS)) if (v.includes(secret)) leaks.push(`${path} holds ${key}`);
            } else if (v !== null && typeof v === "object") {
                for (const [k, item] of Object.entries(v)) walk(item, `${path}.${k}`);
            }
        };
        for (const r of resources) walk(r.inputs, r.name);
        expect(leaks).toEqual([]);
    });

    it("re-runs a node's whole chain when its target version changes, and chains each step to the last one's id", () => {
        const preflight = named("calypso-k3s-change-preflight").inputs.triggers;
        expect(preflight[0]).toBe("v1.33.5+k3s1");
        expect(preflight[1]).toMatch(/^[0-9a-f]{16}$/);
        expect(named("calypso-k3s-change-drain").inputs.triggers).toEqual([...preflight, "calypso-k3s-change-preflight-id"]);
        expect(named("calypso-k3s-change-apply").inputs.triggers).toEqual([...preflight, "calypso-k3s-change-drain-id"]);
        expect(named("calypso-k3s-change-confirm").inputs.triggers).toEqual([...preflight, "calypso-k3s-change-gate-id"]);
    });
});
