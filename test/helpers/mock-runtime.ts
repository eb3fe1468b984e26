import * as pulumi from "@pulumi/pulumi";
import { readStackFile } from "./stack-file";

/** One resource the program registered with the mock engine. */
export interface Registered {
    type: string;
    name: string;
    /** Inputs as the engine got them; secret values stay wrapped (see {@link isSecretValue}). */
    inputs: Record<string, any>;
    custom: boolean;
    /** Names of the resources it waits for (dependsOn and inputs from other resources). */
    dependsOn: string[];
}

/** What a mock engine returns for a resource: its state. Default: the inputs back. */
export type ResourceHandler = (args: pulumi.runtime.MockResourceArgs) => Promise<Record<string, any> | undefined> | Record<string, any> | undefined;
/** A handler's state may carry the resource's id under this key (default: `<name>-id`). */
export const MOCK_ID = "__mockId";

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** True for a value the engine was told is secret. */
export const isSecretValue = (v: unknown): v is { value: unknown } =>
    typeof v === "object" && v !== null && (v as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === SECRET_SIG;
/** The value inside a secret wrapper, or the value itself. */
export const plain = (v: unknown): any => (isSecretValue(v) ? v.value : v);

/**
 * Runs index.ts against Pulumi's mock engine with a stack file's config, the
 * way `pulumi preview` would, and returns every registered resource and the
 * program's exports. Secure values become `dummy-<key>` marked secret unless
 * `secrets` gives them a value. `handle` may return a resource's state (or
 * throw, failing the registration as the engine would).
 */
export async function runProgram(
    stack: string,
    override?: (config: Record<string, unknown>) => void,
    opts: { secrets?: Record<string, string>; handle?: ResourceHandler; program?: string } = {},
) {
    const config = readStackFile(stack);
    override?.(config);
    const values: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, v] of Object.entries(config)) {
        if (v !== null && typeof v === "object" && "secure" in v) {
            values[key] = opts.secrets?.[key] ?? `dummy-${key}`;
            secretKeys.push(key);
        } else {
            values[key] = typeof v === "string" ? v : JSON.stringify(v);
        }
    }
    pulumi.runtime.setAllConfig(values, secretKeys);

    const resources: Registered[] = [];
    const dependencies = new Map<string, string[]>();
    await pulumi.runtime.setMocks(
        {
            newResource: async (args) => {
                const { [MOCK_ID]: id, ...handled } = (await opts.handle?.(args)) ?? {};
                resources.push({
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs,
                    custom: args.custom ?? true,
                    dependsOn: dependencies.get(args.name) ?? [],
                });
                // The provider computes a TailnetKey's key; the mock stands in for it.
                const computed = args.type === "tailscale:index/tailnetKey:TailnetKey" ? { key: "mock-tailnet-key-value" } : {};
                return { id: typeof id === "string" ? id : `${args.name}-id`, state: { ...args.inputs, ...computed, ...handled } };
            },
            call: (args) => args.inputs,
        },
        "oceanid-infra",
        stack,
        true,
    );
    // The mock monitor does not pass dependencies on to newResource: read them off the request.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: unknown) => {
        dependencies.set(
            req.getName(),
            req.getDependenciesList().map((urn: string) => urn.split("::").pop()!),
        );
        return register(req, callback);
    };
    let error: unknown;
    let program: typeof import("../../index") | undefined;
    try {
        // Another program (a test's own, e.g. a mistake made outside the stack config) when asked for.
        program = opts.program === undefined ? await import("../../index.js") : await import(opts.program);
    } catch (err) {
        error = err;
    }
    // Registrations are RPCs to the mock engine: wait for all of them.
    await pulumi.runtime.disconnect();
    if (error !== undefined) throw error;
    return { resources, program: program! };
}

/** The value of an Output, for assertions outside of apply(). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}
