// What kubectl's resource builder checks of an object before it sends it:
// apiVersion, kind and metadata as Go's ObjectMeta reads them. A value YAML 1.1
// turned into a boolean or number is refused here, not sent.

type Shape = "string" | "bool" | "int64" | "time" | "any" | { readonly map: Shape } | { readonly list: Shape } | { readonly fields: Record<string, Shape> };

const OBJECT_META: Shape = {
    fields: {
        name: "string",
        generateName: "string",
        namespace: "string",
        selfLink: "string",
        uid: "string",
        resourceVersion: "string",
        generation: "int64",
        creationTimestamp: "time",
        deletionTimestamp: "time",
        deletionGracePeriodSeconds: "int64",
        labels: { map: "string" },
        annotations: { map: "string" },
        ownerReferences: {
            list: { fields: { apiVersion: "string", kind: "string", name: "string", uid: "string", controller: "bool", blockOwnerDeletion: "bool" } },
        },
        finalizers: { list: "string" },
        managedFields: {
            list: {
                fields: {
                    manager: "string",
                    operation: "string",
                    apiVersion: "string",
                    time: "time",
                    fieldsType: "string",
                    fieldsV1: "any",
                    subresource: "string",
                },
            },
        },
    },
};

const jsonType = (v: unknown) => (Array.isArray(v) ? "array" : typeof v === "boolean" ? "bool" : typeof v);

/** time.Parse(time.RFC3339, s), with the fraction of a second it also takes. */
function isRfc3339(s: string): boolean {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[-+](\d{2}):(\d{2}))$/.exec(s);
    if (m === null) return false;
    const [year, month, day, h, min, sec] = m.slice(1, 7).map(Number);
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    if (month < 1 || month > 12 || day < 1 || day > [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]) return false;
    if (h > 23 || min > 59 || sec > 59) return false;
    return m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
}

function shapeProblem(v: unknown, shape: Shape, path: string): string | undefined {
    if (v === null || v === undefined) return undefined; // JSON null leaves a Go field as it is
    const wrong = (type: string) => `json: cannot unmarshal ${jsonType(v)} into Go struct field ${path} of type ${type}`;
    if (shape === "any") return undefined;
    if (shape === "string") return typeof v === "string" ? undefined : wrong("string");
    if (shape === "bool") return typeof v === "boolean" ? undefined : wrong("bool");
    if (shape === "int64") {
        // A float that is a whole number is written without a fraction below 1e21.
        const ok = typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e21 && v >= -(2 ** 63) && v < 2 ** 63;
        return ok ? undefined : wrong("int64");
    }
    if (shape === "time") {
        if (typeof v !== "string") return wrong("string");
        return isRfc3339(v) ? undefined : `parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00" (${path})`;
    }
    if ("list" in shape) {
        if (!Array.isArray(v)) return wrong("array");
        for (const [i, item] of v.entries()) {
            const p = shapeProblem(item, shape.list, `${path}[${i}]`);
            if (p) return p;
        }
        return undefined;
    }
    if (typeof v !== "object" || Array.isArray(v)) return wrong("object");
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        const inner = "map" in shape ? shape.map : shape.fields[k];
        if (inner === undefined) continue;
        const p = shapeProblem(item, inner, `${path}.${k}`);
        if (p) return p;
    }
    return undefined;
}

/**
 * What kubectl's resource builder checks of a document before it sends it:
 * its apiVersion and kind are strings and its metadata reads as an ObjectMeta
 * (a name that YAML 1.1 made a boolean, a label value that is a number, a
 * creationTimestamp that is not RFC 3339). Returns kubectl's reason, or
 * undefined. (A list's items are not checked this way.)
 */
export function kubectlObjectProblem(obj: Record<string, unknown>): string | undefined {
    return shapeProblem(obj, { fields: { apiVersion: "string", kind: "string", metadata: OBJECT_META } }, "metadataOnlyObject");
}
