import { describeObject } from "../../engine/kube-object";
import {
    pathText,
    PROXY_CLASS_PATCHES_CEL,
    READ_BY_SHAPE_CEL,
    SHAPE_MAX_POD_SPECS,
    shapeLocationsReadableCel,
    shapeProblems,
    shapeWalkCel,
} from "../../engine/pod-spec";
import type { Rule } from "../../engine/rule";

/**
 * A custom resource's pod templates are found by shape (pod-spec.ts); one
 * that cannot be read that way (a podSpecPatch, a template that is a string,
 * content deeper than the walk) could hold anything, so it does not pass.
 */
export const noOpaquePodTemplate: Rule = {
    id: "no-opaque-pod-template",
    description:
        "Custom resources must carry their pod templates where the guardrails can read them: no podSpecPatch (nor a ProxyClass's pod patches), no template that is not an object, nothing nested deeper than the shape walk.",
    remediation:
        "Write the pod fields out in the template itself (for Argo, in the template's container, volumes and securityContext instead of podSpecPatch), " +
        "or exempt the object with a reason if its controller is trusted with the node.",
    enforcementLevel: "mandatory",
    check(obj) {
        return shapeProblems(obj).map((p) => ({
            detail:
                p.path.length === 0
                    ? `cannot prove ${describeObject(obj)} carries no pod template: it ${p.detail}`
                    : p.unknown
                      ? `cannot prove ${pathText(p.path)} carries no pod template: it ${p.detail}`
                      : `${pathText(p.path)} ${p.detail}: no gate can read the pod template it makes`,
            unknown: p.unknown,
        }));
    },
    admission: {
        // Admission reads pod specs only at the known locations: pod- or
        // container-shaped content anywhere else is refused here, where the
        // guard and the pack read it by shape.
        expression:
            `!(${READ_BY_SHAPE_CEL}) || (!${PROXY_CLASS_PATCHES_CEL} && ${shapeLocationsReadableCel()} && size(variables.podSpecs) <= ${SHAPE_MAX_POD_SPECS} && ` +
            `${shapeWalkCel("variables.podSpecs", "variables.containers")})`,
        message: `custom resources must keep pod templates at the locations admission reads (no podSpecPatch, no string template, at most ${SHAPE_MAX_POD_SPECS} pod specs, nothing deeper than the shape walk)`,
    },
};
