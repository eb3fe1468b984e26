/**
 * The @pulumi/policy internals this pack relies on, and nothing else reaches
 * them. They are not in the package's typings, so an upgrade can change them
 * without a compile error; test/policies/policy-sdk.test.ts fails loudly if one does.
 *
 * - CrossGuard hands policies an "unknown-checking proxy" that throws when a
 *   value not known at preview is read, and CrossGuard then reports it as an
 *   advisory note even for a mandatory policy. The rules must see unknowns to
 *   fail closed, so they read the proxy's target.
 * - In that target, unknowns are the engine's sentinel strings, one per kind.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const proxy = require("@pulumi/policy/proxy") as Record<string, unknown>;

/** The property name under which the proxy hands out its target. */
export const PROXY_TARGET_KEY = proxy.getSpecialProxyTarget as string;

/** The engine's sentinel strings for values not known yet (`unknownStringValue`, ...). */
export const ENGINE_SENTINELS: ReadonlySet<string> = new Set(
    Object.entries(proxy)
        .filter(([name, v]) => /^unknown[A-Z]\w*Value$/.test(name) && typeof v === "string")
        .map(([, v]) => v as string),
);

/** The object behind CrossGuard's proxy (or the value itself when it is not one). */
export function proxyTarget(props: unknown): unknown {
    if (props === null || typeof props !== "object") return props;
    return (props as Record<string, unknown>)[PROXY_TARGET_KEY] ?? props;
}
