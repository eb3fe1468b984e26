import { basename, dirname, join } from "node:path";

/**
 * The repository's policies/ folder, whether this runs from the TypeScript sources (vitest, tsx)
 * or bundled into a file under dist/ (where __dirname is the bundle's folder): data files such as
 * guard-config.yaml and package.json are not compiled, they stay next to the sources.
 */
export const POLICIES_DIR = __filename.endsWith(".ts") ? join(__dirname, "..") : join(distDir(__dirname), "..", "policies");

function distDir(from: string): string {
    for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) if (basename(dir) === "dist") return dir;
    throw new Error(`${from} is not inside a dist/ folder`);
}

/** The guard config with the platform exemption list that the pack and the CLI read by default. */
export const DEFAULT_GUARD_CONFIG = join(POLICIES_DIR, "guard-config.yaml");
