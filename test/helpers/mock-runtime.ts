import * as pulumi from "@pulumi/pulumi";
import { readStackFile } from "./stack-file";

/** One resource the program registered with the mock engine. */
export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
    custom: boolean;
}

/**
 * Runs index.ts against Pulumi's mock engine with a stack file's config, the
 * way `pulumi preview` would, and returns every registered resource and the
 * program's exports. Secure values become a dummy marked secret.
 */
export async function runProgram(stack: string, override?: (config: Record<string, unknown>) => void) {
    const config = readStackFile(stack);
    override?.(config);
    const values: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, v] of Object.entries(config)) {
        if (v !== null && typeof v === "object" && "secure" in v) {
            values[key] = `dummy-${key}`;
            secretKeys.push(key);
        } else {
            values[key] = typeof v === "string" ? v : JSON.stringify(v);
        }
    }
    pulumi.runtime.setAllConfig(values, secretKeys);

    const resources: Registered[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                resources.push({ type: args.type, name: args.name, inputs: args.inputs, custom: args.custom ?? true });
                // The provider computes a TailnetKey's key; the mock stands in for it.
                const computed = args.type === "tailscale:index/tailnetKey:TailnetKey" ? { key: "mock-tailnet-key-value" } : {};
                return { id: `${args.name}-id`, state: { ...args.inputs, ...computed } };
            },
            call: (args) => args.inputs,
        },
        "oceanid-infra",
        stack,
        true,
    );
    const program = await import("../../index.js");
    // Registrations are RPCs to the mock engine: wait for all of them.
    await pulumi.runtime.disconnect();
    return { resources, program };
}

/** The value of an Output, for assertions outside of apply(). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}
