import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { SECRET_NAMES, STACK_KEYS, type RawStackConfig, type SecretName } from "./stack-config";

/** The `config:` map of a stack file (`Pulumi.<stack>.yaml`), keys as written (`oceanid:nodes`, ...). */
export function readStackConfigFile(path: string): Record<string, unknown> {
    const doc = parse(readFileSync(path, "utf8")) as { config?: Record<string, unknown> } | null;
    return doc?.config ?? {};
}

const isSecure = (v: unknown) => typeof v === "object" && v !== null && "secure" in v;

/**
 * The raw config `index.ts` would hand to parseStackConfig for a stack file's
 * `config:` map. Secrets are not decrypted: only whether each one is set.
 */
export function rawFromStackConfig(stack: string, config: Record<string, unknown>, configFile?: string): RawStackConfig {
    const get = (key: string) => config[`oceanid:${key}`];
    const secretsSet: Partial<Record<SecretName, boolean>> = {};
    for (const name of SECRET_NAMES) secretsSet[name] = isSecure(get(name));
    return { ...Object.fromEntries(STACK_KEYS.map((key) => [key, get(key)])), stack, secretsSet, ...(configFile === undefined ? {} : { configFile }) };
}
