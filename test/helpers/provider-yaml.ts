// How the kubernetes provider (pulumi-kubernetes 4.24.1, package
// provider/pkg/provider/yaml/v2: Parse, Normalize, Register) reads a manifest
// file for kubernetes:yaml/v2:ConfigGroup and ConfigFile, written down where it
// differs from kubectl's reading, which oceanid-guard follows.
//
// Documents and values are read by the same code as kubectl's (k8s.io/apimachinery
// 0.33's YAMLOrJSONDecoder, sigs.k8s.io/yaml on go-yaml v2), so separators, YAML 1.1
// scalars, merge keys and JSON streams come out the same. The provider differs in:
// - bytes: it decodes the file as read, with no byte-order-mark transform. The
//   decoder splits documents on `\n` bytes and ends an unterminated last line with
//   one, so a UTF-16 file not ending in a 0x0A byte (every little-endian one) has an
//   odd length and is refused ("yaml: incomplete UTF-16 character"); one that does
//   (big-endian, ending in a newline) reaches go-yaml whole, which reads only its
//   first document. A UTF-8 mark is dropped, as kubectl drops it;
// - lists: it expands any object whose `items` is a list, but an item keeps only
//   what it says: an item without apiVersion or kind is refused (kubectl gives it the
//   list's), and so is an item that is not an object;
// - it refuses an object without metadata.name;
// - it must know whether a kind is namespaced: from its built-in table, a CRD in
//   the same file or declared earlier in the program, or the cluster. Rendering
//   with no cluster, any other kind refuses the file;
// - it puts a namespaced object without a namespace in its default namespace
//   (`default` with no kubeconfig), where kubectl uses the context's;
// - its Check round-trips built-in kinds through their Go types, which drops a
//   field holding its zero value when the type omits it empty (`value: ""`,
//   `hostNetwork: false`): the same object to the API server, and to every rule.
// A file it refuses fails the ConfigGroup or ConfigFile, and the engine then aborts
// the whole deployment, not only that component.
import { kubectlDocuments } from "../../policies/cli/kubectl/documents";

export const PROVIDER_DEFAULT_NAMESPACE = "default";

/** The provider refuses the file (its error message matches `refused`), or reads all of its documents or only the first. */
export type ProviderReading = { refused: RegExp } | { documents: "all" | "first" };

/**
 * How the provider reads a file, from its bytes, their text as kubectl
 * decodes them, and whether kubectl's reading (the guard's) failed.
 */
export function providerReading(bytes: Buffer, text: string, guardCannotRead: boolean): ProviderReading {
    const utf16 = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
    if (utf16 && bytes[bytes.length - 1] !== 0x0a) return { refused: /decoding YAML: error converting YAML to JSON: yaml: incomplete UTF-16 character/ };
    // What kubectl refuses (bad separators, invalid YAML, a document that is not an object) the same decoder refuses.
    if (guardCannotRead) return { refused: /decoding YAML: |Kubernetes resources require a kind and apiVersion|items member is not an object/ };
    const docs = rawDocuments(text);
    for (const doc of utf16 ? docs.slice(0, 1) : docs) {
        const refused = objectProblem(doc);
        if (refused) return { refused };
    }
    return { documents: utf16 ? "first" : "all" };
}

/** Each document's value, as the decoder hands it over, before any list is expanded. */
function rawDocuments(text: string): unknown[] {
    return [...kubectlDocuments(text)].map((doc) => {
        // Called only for files kubectl reads, so a refused document is a mistake here.
        if ("error" in doc) throw new Error(`kubectl refuses a document of a file it reads: ${doc.error}`);
        return doc.value;
    });
}

function objectProblem(value: unknown): RegExp | undefined {
    if (value === null || typeof value !== "object" || Object.keys(value).length === 0) return undefined; // skipped as empty
    const obj = value as Record<string, unknown>;
    if (Array.isArray(obj.items)) {
        // Every member must be an object before any is read as a resource.
        if (obj.items.some((item) => item === null || typeof item !== "object" || Array.isArray(item))) {
            return /YAML object is invalid: .*items member is not an object/;
        }
        for (const item of obj.items) {
            const problem = objectProblem(item);
            if (problem) return problem;
        }
        return undefined;
    }
    if (!nonEmptyString(obj.apiVersion) || !nonEmptyString(obj.kind)) return /Kubernetes resources require a kind and apiVersion/;
    const metadata = obj.metadata as Record<string, unknown> | undefined;
    if (!nonEmptyString(metadata?.name)) return /Kubernetes resources require a \.metadata\.name/;
    return undefined;
}

const nonEmptyString = (v: unknown): v is string => typeof v === "string" && v !== "";

/**
 * Kinds the provider's built-in table does not hold, found by their API group:
 * built-in groups have no dot or end in `.k8s.io`; a CRD's group has a dot.
 */
export function customKinds(objects: { apiVersion: string; kind: string }[]): { group: string; kind: string; versions: string[] }[] {
    const byKind = new Map<string, { group: string; kind: string; versions: string[] }>();
    for (const { apiVersion, kind } of objects) {
        const slash = apiVersion.lastIndexOf("/");
        const group = slash < 0 ? "" : apiVersion.slice(0, slash);
        if (!group.includes(".") || group.endsWith(".k8s.io")) continue;
        const key = `${group}/${kind}`;
        const entry = byKind.get(key) ?? { group, kind, versions: [] };
        const version = apiVersion.slice(slash + 1);
        if (!entry.versions.includes(version)) entry.versions.push(version);
        byKind.set(key, entry);
    }
    return [...byKind.values()];
}
