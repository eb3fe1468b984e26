import { join } from "node:path";
import type { RawStackConfig } from "../../components/config/stack-config";
import { rawFromStackConfig, readStackConfigFile } from "../../components/config/stack-file";

export const ROOT = join(__dirname, "..", "..");

/** The `config:` map of one of the repo's stack files, keys as written (`oceanid:nodes`, ...). */
export function readStackFile(stack: string): Record<string, unknown> {
    return readStackConfigFile(join(ROOT, `Pulumi.${stack}.yaml`));
}

/** The raw config index.ts would hand to parseStackConfig for this stack file. */
export function rawFromStackFile(stack: string, config = readStackFile(stack)): RawStackConfig {
    return rawFromStackConfig(stack, config);
}
