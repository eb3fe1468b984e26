import * as pulumi from "@pulumi/pulumi";
import * as tailscale from "@pulumi/tailscale";
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
    /** Tailscale API credentials. */
    provider: tailscale.Provider;
}

/**
 * The tailnet side of the egress gateway: the policy with the gateway's grant
 * (replacing the whole policy file, which is why it is built from the
 * operators' file in the repository, never from scratch) and an ephemeral,
 * tagged, pre-authorized auth key for the gateway's pods.
 */
export class TailnetAccess extends pulumi.ComponentResource {
    /** The gateway's auth key (secret). */
    readonly authKey: pulumi.Output<string>;

    constructor(name: string, args: TailnetAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("oceanid:network:TailnetAccess", name, {}, opts);
        const needs = { ...TAILNET_DEFAULTS, ...args.needs };
        const policy = withGatewayAccess(parseHujson(args.basePolicy, args.policyFile), needs);
        const child = { parent: this, provider: args.provider };
        // overwriteExistingContent stays false: the first deploy must import the live policy
        // (`pulumi import tailscale:index/acl:Acl <name>-policy acl`), so nothing is dropped unseen.
        const acl = new tailscale.Acl(`${name}-policy`, { acl: JSON.stringify(policy, null, 2), resetAclOnDestroy: false }, child);
        const key = new tailscale.TailnetKey(`${name}-key`, gatewayKeyArgs(needs, args.keyExpiryDays), { ...child, dependsOn: [acl] });
        this.authKey = pulumi.secret(key.key);
        this.registerOutputs({});
    }
}
