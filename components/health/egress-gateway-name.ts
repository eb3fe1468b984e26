/** The Deployment the egress gateway runs as (index.ts names the EgressGateway so), in egress.gatewayNamespace. */
export const EGRESS_GATEWAY_DEPLOYMENT = "egress-gateway";
