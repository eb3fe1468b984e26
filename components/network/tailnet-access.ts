import * as pulumi from "@pulumi/pulumi";
import * as tailscale from "@pulumi/tailscale";
import { CI_TAILNET_DEFAULTS, withCiAccess, type CiTailnetNeeds } from "./ci-tailnet-policy";
import { gatewayKeyArgs, parseHujson, TAILNET_DEFAULTS, withGatewayAccess, type GatewayTailnetNeeds } from "./tailnet-policy";

export interface TailnetAccessArgs {
    /** Text of the operators' tailnet policy file (HuJSON); the gateway's needs are added to it. */
    basePolicy: string;
    /** File name of `basePolicy`, for error messages. */
    policyFile: string;
    /** Tags and tag owners. Defaults to tag:k8s-egress, tag:exit-node, owned by autogroup:admin. */
    needs?: Partial<GatewayTailnetNeeds>;
    /** Auth key lifetime in days, at most 90. Defaults to 90. */
    keyExpiryDays?: number;
    /** CI's access (SSH to every node, the API server): the nodes, the server, and optionally its tag. */
    ci: Pick<CiTailnetNeeds, "nodes" | "apiServer"> & Partial<Pick<CiTailnetNeeds, "ciTag" | "tagOwners">>;
    /** Tailscale API credentials. */
    provider: tailscale.Provider;
}

/**
 * The tailnet side of the egress gateway and of CI: the policy with the
 * gateway's grant and CI's (SSH and the API server, nothing else), replacing
 * the whole policy file, which is why it is built from the operators' file in
 * the repository, never from scratch; and an ephemeral, tagged,
 * pre-authorized auth key for the gateway's pods.
 */
export class TailnetAccess extends pulumi.ComponentResource {
    /** The gateway's auth key (secret). */
    readonly authKey: pulumi.Output<string>;

    constructor(name: string, args: TailnetAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:network:TailnetAccess", name, {}, opts);
        const needs = { ...TAILNET_DEFAULTS, ...args.needs };
        const ci = { ...CI_TAILNET_DEFAULTS, tagOwners: [...CI_TAILNET_DEFAULTS.tagOwners], gatewayTag: needs.gatewayTag, ...args.ci };
        const policy = withCiAccess(withGatewayAccess(parseHujson(args.basePolicy, args.policyFile), needs), ci);
        const child = { parent: this, provider: args.provider };
        // overwriteExistingContent stays false: the first deploy must import the live policy
        // (`pulumi import tailscale:index/acl:Acl <name>-policy acl`), so nothing is dropped unseen.
        const acl = new tailscale.Acl(`${name}-policy`, { acl: JSON.stringify(policy, null, 2), resetAclOnDestroy: false }, child);
        const key = new tailscale.TailnetKey(`${name}-key`, gatewayKeyArgs(needs, args.keyExpiryDays), { ...child, dependsOn: [acl] });
        this.authKey = pulumi.secret(key.key);
        this.registerOutputs({});
    }
}
