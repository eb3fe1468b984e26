import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { SECRET_NAMES, type RawStackConfig, type SecretName } from "../../components/config/stack-config";

export const ROOT = join(__dirname, "..", "..");

/** The `config:` map of a stack file, keys as written (`oceanid:nodes`, ...). */
export function readStackFile(stack: string): Record<string, unknown> {
    const doc = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
    return doc.config ?? {};
}

const isSecure = (v: unknown) => typeof v === "object" && v !== null && "secure" in v;

/** The raw config index.ts would hand to parseStackConfig for this stack file. */
export function rawFromStackFile(stack: string, config = readStackFile(stack)): RawStackConfig {
    const get = (key: string) => config[`oceanid:${key}`];
    const secretsSet: Partial<Record<SecretName, boolean>> = {};
    for (const name of SECRET_NAMES) secretsSet[name] = isSecure(get(name));
    return {
        stack,
        nodes: get("nodes"),
        nodeAccess: get("nodeAccess"),
        kubernetes: get("kubernetes"),
        egress: get("egress"),
        secretsSet,
    };
}
