/**
 * `oceanid-health uncordon`: the step after a node change is confirmed. Lifts the cordon the drain
 * set, and only that one: a node someone cordoned before the change stays cordoned.
 */
import { ArgsError } from "./command-line";
import { cordonState, uncordonPatch } from "./cordon";
import { parseUncordonArgs, type UncordonSpec } from "./drain-command";
import { KubeApiError } from "./kube-api";
import { kubeNodeApi, type NodeApi } from "./node-api";
import { API_TIMEOUT_MS, loadKubeconfig, UsageError, type Session } from "./session";
import { USAGE } from "./usage";

export async function uncordon(argv: readonly string[], session: Session): Promise<number> {
    let args;
    try {
        args = parseUncordonArgs(argv);
    } catch (err) {
        if (err instanceof ArgsError) throw new UsageError(`uncordon: ${err.message}`);
        throw err;
    }
    if (args.help) {
        session.out(`${USAGE}\n`);
        return 0;
    }
    const kc = loadKubeconfig(args.kubeconfig, args.spec.context, session);
    return uncordonNode(
        args.spec,
        (session.io.nodeApi ?? kubeNodeApi)(kc, () => API_TIMEOUT_MS),
        session,
    );
}

/** Exit code: 0 uncordoned or nothing to lift, 1 the API failed (one `UNCORDON FAILED` line). */
export async function uncordonNode(spec: UncordonSpec, api: NodeApi, session: Session): Promise<number> {
    try {
        for (let attempt = 1; ; attempt++) {
            const node = await api.readNode(spec.node);
            if (node === undefined) {
                session.out(`uncordon: ${spec.node} is not registered\n`);
                return 0;
            }
            const state = cordonState(node);
            if (!state.cordoned) {
                session.out(`uncordon: ${spec.node} is not cordoned\n`);
                return 0;
            }
            if (!state.byOceanid) {
                session.out(`left cordoned: ${spec.node} was cordoned before the change, not by oceanid\n`);
                return 0;
            }
            try {
                // Only the Node as read (409 Conflict otherwise): whatever changed meanwhile is judged again.
                await api.patchNode(spec.node, uncordonPatch(node.metadata?.resourceVersion));
                session.out(`uncordoned: ${spec.node}\n`);
                return 0;
            } catch (err) {
                if (!(err instanceof KubeApiError) || err.status !== 409 || attempt >= 3) throw err;
            }
        }
    } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        session.err(`UNCORDON FAILED node=${spec.node} reason=api: ${err.message}\n`);
        return 1;
    }
}
