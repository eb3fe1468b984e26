// What a test file needs from the machine: root, network namespaces, or tools
// that `npm run setup` builds or installs. A file whose needs are not met fails
// with the gap named, so nothing is skipped silently in .ci/run; with
// OCEANID_ALLOW_SKIP=1 (an editor, a laptop without root) it is skipped instead,
// the gap in the suite's title. `npm run test:unit` runs the files that need none
// of this (vitest.config.mts, projects "unit" and "program").
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { describe } from "vitest";

/** "root", "netns" (working `ip netns`), or a command: a name looked up on PATH, or an absolute path. */
export type Need = "root" | "netns" | (string & {});

function executable(path: string): boolean {
    try {
        accessSync(path, constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

function onPath(command: string, path = process.env.PATH ?? ""): boolean {
    if (isAbsolute(command)) return executable(command);
    return path.split(delimiter).some((dir) => dir !== "" && executable(join(dir, command)));
}

/** The first need the machine does not meet, as a sentence; undefined when all are met. */
export function unmetNeed(needs: readonly Need[], path?: string): string | undefined {
    for (const need of needs) {
        if (need === "root") {
            if (process.getuid?.() !== 0) return "needs root (network namespaces, iptables, sshd)";
        } else if (need === "netns") {
            if (process.platform !== "linux" || spawnSync("ip", ["netns", "list"]).status !== 0) return "needs `ip netns` (Linux, iproute2, root)";
        } else if (!onPath(need, path)) {
            return `needs ${need}, which is not on PATH: \`npm run setup\` builds or installs it`;
        }
    }
    return undefined;
}

export const ALLOW_SKIP = "OCEANID_ALLOW_SKIP";

type Describe = (name: string, body: () => void) => void;

/**
 * `describe` for the suites of a file that needs `needs`. When one is unmet, the
 * file fails at collection with the gap named, before any of its hooks run (call
 * this above them); with OCEANID_ALLOW_SKIP=1 its suites are skipped instead, the
 * gap in their titles.
 */
export function describeNeeding(needs: readonly Need[], env: NodeJS.ProcessEnv = process.env): Describe {
    const gap = unmetNeed(needs, env.PATH);
    if (gap === undefined) return (name, body) => describe(name, body);
    if (env[ALLOW_SKIP] === "1") return (name, body) => describe.skip(`${name} (skipped: ${gap})`, body);
    throw new Error(`${gap}; or set ${ALLOW_SKIP}=1 to skip these tests`);
}
