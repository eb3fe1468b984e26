// How the bench measures: wall time with hyperfine when it is on PATH (a
// median-of-N runner in Node otherwise), peak RSS with GNU time (/usr/bin/time -v).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const onPath = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;

export const tools = {
    hyperfine: !process.env.BENCH_NO_HYPERFINE && onPath("hyperfine"),
    gnuTime: existsSync("/usr/bin/time"),
};

export const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Runs a command once; throws when it exits with a code not in `okCodes`. Returns its stdout. */
export function runChecked(argv, { okCodes = [0], cwd, env } = {}) {
    const r = spawnSync(argv[0], argv.slice(1), { cwd, env: env ?? process.env, encoding: "utf8", maxBuffer: 1 << 30 });
    if (r.error) throw new Error(`${argv.join(" ")}: ${r.error.message}`);
    if (!okCodes.includes(r.status)) {
        throw new Error(`${argv.join(" ")} exited ${r.status ?? r.signal}, expected ${okCodes.join(" or ")}:\n${(r.stderr || r.stdout).slice(-2000)}`);
    }
    return r.stdout;
}

/**
 * Wall time of each command: median seconds over `runs` runs after `warmup`
 * runs. `commands` is a list of {name, argv, okCodes}. Each command is run once
 * first to check its exit code (hyperfine is told to ignore exit codes, since
 * the guard exits 1 when it finds violations).
 */
export function timeCommands(commands, { runs = 5, warmup = 1, cwd } = {}) {
    for (const c of commands) runChecked(c.argv, { okCodes: c.okCodes ?? [0], cwd });
    if (tools.hyperfine) return hyperfine(commands, { runs, warmup, cwd });
    return commands.map((c) => {
        for (let i = 0; i < warmup; i++) runChecked(c.argv, { okCodes: c.okCodes ?? [0], cwd });
        const times = [];
        for (let i = 0; i < runs; i++) {
            const start = process.hrtime.bigint();
            runChecked(c.argv, { okCodes: c.okCodes ?? [0], cwd });
            times.push(Number(process.hrtime.bigint() - start) / 1e9);
        }
        return { name: c.name, median: median(times), min: Math.min(...times), max: Math.max(...times), runs, tool: "node runner" };
    });
}

const shellQuote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

function hyperfine(commands, { runs, warmup, cwd }) {
    const dir = mkdtempSync(join(tmpdir(), "oceanid-bench-"));
    const out = join(dir, "hyperfine.json");
    // --shell=none: no shell start-up to subtract, which matters next to `node -e 0`.
    const plain = commands.every((c) => c.argv.every((a) => /^[\w@%+=:,./-]+$/.test(a)));
    const args = ["--runs", String(runs), "--warmup", String(warmup), "--ignore-failure", "--style", "none", "--export-json", out];
    if (plain) args.push("--shell=none");
    for (const c of commands) args.push("--command-name", c.name, c.argv.map(shellQuote).join(" "));
    try {
        runChecked(["hyperfine", ...args], { cwd });
        const { results } = JSON.parse(readFileSync(out, "utf8"));
        return results.map((r, i) => ({
            name: commands[i].name,
            median: r.median,
            min: r.min,
            max: r.max,
            runs: r.times.length,
            tool: "hyperfine",
        }));
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/** Peak resident set size in MiB of one run (GNU time's "Maximum resident set size"), or undefined without GNU time. */
export function peakRssMiB(argv, { okCodes = [0], cwd } = {}) {
    if (!tools.gnuTime) return undefined;
    const r = spawnSync("/usr/bin/time", ["-v", ...argv], { cwd, encoding: "utf8", maxBuffer: 1 << 30 });
    // GNU time exits with the command's status.
    if (!okCodes.includes(r.status)) throw new Error(`${argv.join(" ")} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
    if (!m) throw new Error(`no "Maximum resident set size" in /usr/bin/time -v output:\n${r.stderr.slice(-1000)}`);
    return Number(m[1]) / 1024;
}

/**
 * Peak RSS in MiB and wall time in seconds of one run (GNU time), with its
 * stdout and exit status. A run past `timeoutSeconds` is stopped (status 124).
 */
export function peakRssAndSeconds(argv, { cwd, timeoutSeconds = 900 } = {}) {
    if (!tools.gnuTime) return undefined;
    const r = spawnSync("/usr/bin/time", ["-f", "oceanid-bench: %e s %M KiB", "timeout", String(timeoutSeconds), ...argv], {
        cwd,
        encoding: "utf8",
        maxBuffer: 1 << 30,
    });
    const m = /oceanid-bench: ([\d.]+) s (\d+) KiB/.exec(r.stderr);
    if (!m) throw new Error(`no time and peak RSS from /usr/bin/time:\n${r.stderr.slice(-1000)}`);
    return { seconds: Number(m[1]), mib: Number(m[2]) / 1024, stdout: r.stdout, status: r.status };
}
