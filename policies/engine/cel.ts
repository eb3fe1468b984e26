// Small pieces of CEL shared by the rules' admission checks. The variables
// named here are defined once, in admission.ts, for every validation.

/** A CEL string literal (CEL's escapes are a superset of JSON's). */
export const celString = (s: string): string =>
    // ASCII only: the policy travels as YAML, where a raw NEL or line separator inside quotes is read as a line break.
    JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** A CEL list of string literals. */
export const celStrings = (xs: readonly string[]): string => `[${xs.map(celString).join(", ")}]`;

/** The object's pod spec (Pod, template or job template), as admission.ts defines it. */
export const POD_SPEC = "variables.podSpec";
/** Every container of the pod spec: init, regular and ephemeral. */
export const CONTAINERS = "variables.containers";
/** The pod spec's volumes, [] when it has none. */
export const VOLUMES = "variables.volumes";

/** A boolean field of the pod spec is set to true. */
export const podFlagCel = (field: string): string => `(has(${POD_SPEC}.${field}) && ${POD_SPEC}.${field} == true)`;

/** The check holds for every container, each bound as `c`. */
export const everyContainerCel = (check: string): string => `${CONTAINERS}.all(c, ${check})`;

/** A narrow platform exemption (variables.allowed, admission.ts) lets `rule` break on this `type` of thing with `value`. */
export const allowedCel = (rule: string, type: string, value?: string): string =>
    // Bound as `a`: `value` must not use that name.
    `variables.allowed.exists(a, a[0] == ${celString(rule)} && a[1] == ${celString(type)}${value === undefined ? "" : ` && a[2] == ${value}`})`;
