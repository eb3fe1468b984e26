// index.ts for a cluster stack that manages the tailnet: the key comes from
// TailnetAccess and goes into the gateway's Secret, never into a literal.
import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, type Registered } from "../helpers/mock-runtime";

let resources: Registered[];
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

beforeAll(async () => {
    ({ resources } = await runProgram("dev", (config) => {
        config["oceanid:kubernetes"] = { mode: "cluster" };
        (config["oceanid:egress"] as Record<string, unknown>).tailnet = { manage: true };
        config["oceanid:kubeconfig"] = { secure: "dummy" };
        config["oceanid:tailscaleApiKey"] = { secure: "dummy" };
    }));
});

const byType = (type: string) => resources.filter((r) => r.type === type);

describe("index.ts with egress.tailnet.manage", () => {
    it("creates the policy and an auth key under TailnetAccess", () => {
        expect(byType("oceanid:network:TailnetAccess").map((r) => r.name)).toEqual(["tailnet"]);
        const [acl] = byType("tailscale:index/acl:Acl");
        const policy = JSON.parse(acl.inputs.acl);
        expect(policy.grants).toContainEqual({ src: ["tag:k8s-egress"], dst: ["autogroup:internet"], ip: ["*"] });
        expect(policy.ssh).toHaveLength(1);
        // CI's grants come from the stack's nodes: their Tailscale IPs, SSH ports and the server URL's port.
        expect(policy.grants).toContainEqual({ src: ["tag:oceanid-ci"], dst: ["100.64.0.10", "100.64.0.20", "100.64.0.30"], ip: ["tcp:22"] });
        expect(policy.grants).toContainEqual({ src: ["tag:oceanid-ci"], dst: ["100.64.0.10"], ip: ["tcp:6443"] });
        expect(policy.grants).toHaveLength(4);
        const [key] = byType("tailscale:index/tailnetKey:TailnetKey");
        expect(key.inputs).toMatchObject({ ephemeral: true, reusable: true, preauthorized: true, tags: ["tag:k8s-egress"], recreateIfInvalid: "always" });
    });

    it("puts the key in the gateway's Secret, and the cluster provider uses the kubeconfig", () => {
        const [secret] = byType("kubernetes:core/v1:Secret");
        expect(secret.inputs.metadata).toEqual({ name: "egress-gateway-authkey", namespace: "egress-gateway" });
        // Pulumi's wire form of a secret value: the engine encrypts it in state.
        expect(secret.inputs.stringData).toEqual({ [SIG_KEY]: SECRET_SIG, value: { authkey: "mock-tailnet-key-value" } });
        const [provider] = byType("pulumi:providers:kubernetes");
        expect(provider.inputs.renderYamlToDirectory).toBeUndefined();
        expect(provider.inputs.kubeconfig).toBeDefined();
    });
});
