// The guard benchmarks: every figure measured side by side in one run on one
// machine and printed next to its baseline as a ratio (bench/RESULTS.md says
// what each one is).
//
// Usage: node bench/run.mjs [--smoke] [--guard ROOT] [--record NAME] [--checkov-size N] [--only a,b]
//   --smoke         small sizes, few runs, no pulumi preview, no verdicts; for CI (under ~60 s)
//   --guard ROOT    the checkout measured: its CLI, its preview and its program (default: this one)
//   --record NAME   also write the figures into bench/RESULTS.md between <!-- bench:NAME --> markers
//                   (the full run records "latest" unless --record none)
//   --checkov-size  how many manifests checkov scans: 1000 (default) or 10000 (about 13 minutes)
//   --only          sections: startup,throughput,memory,large,preview,program
// Exit 0 when every figure was measured (a MISS is printed, not an error), 1 when the harness broke.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeCorpus } from "./corpus.mjs";
import { LAST_NAME, writeBigList, writeManyDocuments } from "./large-inputs.mjs";
import { median, peakRssAndSeconds, peakRssMiB, runChecked, timeCommands, tools } from "./lib/measure.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SECTIONS = ["startup", "throughput", "memory", "large", "preview", "program"];

const { values: opts } = parseArgs({
    options: {
        smoke: { type: "boolean", default: false },
        guard: { type: "string", default: ROOT },
        record: { type: "string" },
        "checkov-size": { type: "string", default: "1000" },
        only: { type: "string", default: SECTIONS.join(",") },
    },
});
const smoke = opts.smoke;
const guardRoot = resolve(opts.guard);
const record = opts.record ?? (smoke ? "none" : "latest");
const only = new Set(opts.only.split(","));
const checkovSize = Number(opts["checkov-size"]);

const P = smoke
    ? {
          sizes: [1, 100],
          single: [100, 1000],
          big: 100,
          rssSmall: 100,
          rssBig: 1000,
          startupRuns: 3,
          warmup: 0,
          bigRuns: 2,
          nodes: [3, 30],
          programRuns: 1,
          checkovSize: 100,
          largeDocuments: 5_000,
          largeListBytes: 2_000_000,
      }
    : {
          sizes: [1, 1000, 10000],
          single: [1000, 10000],
          big: 10000,
          rssSmall: 1000,
          rssBig: 10000,
          startupRuns: 20,
          warmup: 3,
          bigRuns: 3,
          nodes: [3, 30, 300],
          programRuns: 3,
          checkovSize,
          largeDocuments: 150_000,
          largeListBytes: 50_000_000,
      };
if (smoke) only.delete("preview");

const log = (s) => process.stdout.write(`${s}\n`);
const started = Date.now();
const since = () => `${Math.round((Date.now() - started) / 1000)}s`;
const fmtS = (s) => (s >= 10 ? `${s.toFixed(1)} s` : s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(0)} ms`);
const fmtX = (x) => `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`;

/** Every figure: what, value, the baseline it is compared with, the ratio, the target and the verdict. */
const rows = [];
const notes = [];
function row(section, figure, value, { baseline, baselineValue, ratio, target, pass } = {}) {
    const verdict = smoke || pass === undefined ? "" : pass ? "PASS" : "MISS";
    const r = { section, figure, value, baseline: baseline ?? "", baselineValue: baselineValue ?? "", ratio: ratio ?? "", target: target ?? "", verdict };
    rows.push(r);
    log(
        `  ${figure}: ${value}${baseline ? `  vs ${baseline} ${baselineValue}: ${ratio}` : ""}${target ? `  (target ${target})` : ""}${verdict ? `  ${verdict}` : ""}`,
    );
}

// ---------------------------------------------------------------------------
// The machine and the code under test.
const sh = (cmd, cwd = ROOT) => spawnSync("sh", ["-c", cmd], { cwd, encoding: "utf8" }).stdout?.trim() ?? "";
const machine = {
    nproc: availableParallelism(),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    cpu: cpus()[0]?.model ?? "unknown",
    load: loadavg()
        .map((l) => l.toFixed(2))
        .join(" "),
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
};
const guardCommit = sh("git rev-parse --short HEAD 2>/dev/null", guardRoot) || "not a git checkout";
const guardDirty = sh("git status --porcelain -- policies package.json 2>/dev/null | head -n1", guardRoot) ? " + uncommitted changes" : "";
const command =
    process.env.npm_lifecycle_event === "bench" || process.env.npm_lifecycle_event === "bench:smoke"
        ? `npm run ${process.env.npm_lifecycle_event}`
        : `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim();
log(`oceanid-guard bench${smoke ? " (smoke)" : ""}: ${command}`);
log(`machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memory}, load ${machine.load}; node ${machine.node}; ${machine.date}`);
log(`guard: ${guardRoot} at ${guardCommit}${guardDirty}; timing with ${tools.hyperfine ? "hyperfine" : "a median-of-N runner in Node (no hyperfine on PATH)"}`);

const GUARD_CLI = join(guardRoot, "policies", "cli", "oceanid-guard.cjs");
const guard = (...args) => [process.execPath, GUARD_CLI, ...args];
// The exit code the guard must give for a corpus set: 1 when it holds a mandatory violation, else 0.
// (1 is also what Node gives for an uncaught exception, so each set is checked once through the
// JSON output first: see checkGuardFindings.)
const guardOk = (name) => [set(name).mandatoryViolations > 0 ? 1 : 0];

// A project that compiles the CLI first (npm run build) is measured as built now.
const guardPkg = JSON.parse(readFileSync(join(guardRoot, "package.json"), "utf8"));
if (guardPkg.scripts?.build) {
    const t = Date.now();
    runChecked(["npm", "run", "-s", "build"], { cwd: guardRoot });
    log(`build: npm run build in ${guardRoot} (${((Date.now() - t) / 1000).toFixed(1)} s, not timed)`);
}

// ---------------------------------------------------------------------------
// The corpus, cached by the generator's source and the sizes.
const corpusKey = createHash("sha256")
    .update(readFileSync(join(ROOT, "bench", "corpus.mjs")))
    .update(JSON.stringify([P.sizes, P.single]))
    .digest("hex")
    .slice(0, 12);
// Not under ~/.cache: checkov skips every path with a hidden directory in it.
const corpusDir = join(tmpdir(), `oceanid-bench-corpus-${corpusKey}`);
let corpus;
if (existsSync(join(corpusDir, "corpus.json"))) {
    corpus = JSON.parse(readFileSync(join(corpusDir, "corpus.json"), "utf8"));
} else {
    const t = Date.now();
    corpus = writeCorpus(corpusDir, { sizes: P.sizes, single: P.single, seed: 20251013 });
    log(`corpus: generated in ${corpusDir} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}
const set = (name) => corpus.sets[name];
const smallFile = join(set("files-1").path, readdirSync(set("files-1").path)[0]);
log(`corpus: ${corpusDir} (seed ${corpus.seed})`);

/** The comparison tools: the full run builds or installs them (or fails); the smoke run skips what is not there yet. */
function optionalTool(script, args = []) {
    const r = spawnSync("bash", [join(ROOT, "bench", script), ...args], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0 && !smoke) throw new Error(`bench/${script} failed:\n${r.stderr.trim()}`);
    return r.status === 0 ? { path: r.stdout.trim() } : { missing: (r.stderr.trim().split("\n").pop() ?? "").trim() };
}

// ---------------------------------------------------------------------------
function startup() {
    log(`\n== startup: one small file (${smallFile.split("/").slice(-2).join("/")}) (${since()})`);
    checkGuardFindings("files-1");
    const [bare, g, npx] = timeCommands(
        [
            { name: "node -e 0", argv: [process.execPath, "-e", "0"] },
            { name: "oceanid-guard file.yaml", argv: guard(smallFile), okCodes: guardOk("files-1") },
            { name: "npx oceanid-guard file.yaml", argv: ["npx", "--no-install", "oceanid-guard", smallFile], okCodes: guardOk("files-1") },
        ],
        { runs: P.startupRuns, warmup: P.warmup, cwd: guardRoot },
    );
    const ratio = g.median / bare.median;
    row("startup", "node -e 0", fmtS(bare.median));
    row("startup", "oceanid-guard file.yaml", fmtS(g.median), {
        baseline: "node -e 0",
        baselineValue: fmtS(bare.median),
        ratio: fmtX(ratio),
        target: "≤ 3×",
        pass: ratio <= 3,
    });
    row("startup", "npx oceanid-guard file.yaml (information)", fmtS(npx.median), {
        baseline: "node -e 0",
        baselineValue: fmtS(bare.median),
        ratio: fmtX(npx.median / bare.median),
    });
}

/** Distinct (file, object, rule) violations the guard reports, against what the generator put in. */
function checkGuardFindings(name) {
    const s = set(name);
    const text = runChecked(guard("--format", "json", s.path), { okCodes: [0, 1], cwd: guardRoot });
    let out;
    try {
        out = JSON.parse(text);
    } catch {
        throw new Error(`oceanid-guard --format json ${s.path} printed no JSON report (${text.length} bytes): is the CLI broken?`);
    }
    const pairs = new Set(
        out.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => [v.file, v.kind, v.namespace, v.name, v.policy].join("|")),
    );
    const same = out.summary.objects === s.objects && pairs.size === s.mandatoryViolations;
    const found = `guard read ${out.summary.objects} objects, ${pairs.size} (object, rule) violations; the corpus has ${s.objects} and ${s.mandatoryViolations}`;
    log(`  check: ${found}${same ? "" : "  DIFFERS"}`);
    if (!same) notes.push(`${name}: ${found}.`);
}

function throughput() {
    const big = `files-${P.big}`;
    log(`\n== throughput: ${P.big} manifests in ${P.big} files (${since()})`);
    checkGuardFindings(big);
    const kubeRead = optionalTool("build-kube-read.sh", smoke ? ["--cached-only"] : []);
    const commands = [{ name: "oceanid-guard", argv: guard(set(big).path), okCodes: guardOk(big) }];
    if (kubeRead.path) {
        const counted = runChecked([kubeRead.path, set(big).path]).trim();
        log(`  check: kube-read (builder) ${counted}; the corpus has objects=${set(big).objects}`);
        commands.push({ name: "kube-read builder", argv: [kubeRead.path, "-mode", "builder", set(big).path] });
        commands.push({ name: "kube-read decoder", argv: [kubeRead.path, "-mode", "decoder", set(big).path] });
    } else {
        notes.push(`kube-read not measured: ${kubeRead.missing}`);
        log(`  kube-read skipped: ${kubeRead.missing}`);
    }
    const [g, builder, decoder] = timeCommands(commands, { runs: P.bigRuns, warmup: smoke ? 0 : 1, cwd: guardRoot });
    row("throughput", `oceanid-guard, ${P.big} files`, fmtS(g.median));
    for (const [k, label] of [
        [builder, "kubectl's reader (cli-runtime resource builder)"],
        [decoder, "kubectl's decoder alone (apimachinery YAMLOrJSONDecoder)"],
    ]) {
        if (!k) continue;
        const ratio = g.median / k.median;
        row("throughput", `oceanid-guard, ${P.big} files, vs ${label}`, fmtS(g.median), {
            baseline: label,
            baselineValue: fmtS(k.median),
            ratio: fmtX(ratio),
            target: "≤ 2×",
            pass: ratio <= 2,
        });
    }
    checkov(big);
}

const CHECKOV_CHECKS = ["CKV_K8S_16", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19", "CKV_K8S_25", "CKV_K8S_27", "CKV_K8S_28", "CKV_K8S_39"];

function checkov(big) {
    const installed = optionalTool("setup-checkov.sh", smoke ? ["--cached-only"] : []);
    if (!installed.path) {
        notes.push(`checkov not measured: ${installed.missing}`);
        log(`  checkov skipped: ${installed.missing}`);
        return;
    }
    const size = P.checkovSize;
    const name = `files-${size}`;
    if (!set(name)) throw new Error(`no corpus of ${size} files for checkov (sizes: ${P.sizes.join(", ")})`);
    if (name !== big) checkGuardFindings(name);
    const argv = [
        installed.path,
        "--directory",
        set(name).path,
        "--framework",
        "kubernetes",
        "--check",
        CHECKOV_CHECKS.join(","),
        "--skip-download",
        "--soft-fail",
        "--quiet",
        "--compact",
        "--output",
        "json",
    ];
    log(`  checkov on ${size} files (${CHECKOV_CHECKS.join(",")}), one run (${since()})`);
    const t = process.hrtime.bigint();
    const out = runChecked(argv, { env: { ...process.env, BC_SKIP_MAPPING: "TRUE", CHECKOV_NO_OUTPUT: "" } });
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const report = JSON.parse(out);
    const first = Array.isArray(report) ? report[0] : report;
    // With no finding at all checkov prints the bare summary.
    const summary = first.summary ?? first;
    if (!(summary.resource_count > 0)) throw new Error(`checkov scanned no resource in ${set(name).path}: ${out.slice(0, 500)}`);
    log(`  check: checkov passed ${summary.passed}, failed ${summary.failed} (${summary.resource_count} resources)`);
    const [g] = timeCommands([{ name: "oceanid-guard", argv: guard(set(name).path), okCodes: guardOk(name) }], {
        runs: P.bigRuns,
        warmup: smoke ? 0 : 1,
        cwd: guardRoot,
    });
    const ratio = seconds / g.median;
    row("throughput", `oceanid-guard, ${size} files, vs checkov (matching checks)`, fmtS(g.median), {
        baseline: `checkov ${size} files`,
        baselineValue: fmtS(seconds),
        ratio: `${fmtX(ratio)} faster`,
        target: "≥ 20× faster",
        pass: ratio >= 20,
    });
    if (size !== P.big) {
        notes.push(
            `checkov ran on ${size} files, not ${P.big}: the checkov ratio compares both tools on ${size} files (--checkov-size ${P.big} runs it on all of them: checkov alone then takes a quarter of an hour here).`,
        );
    }
}

function memory() {
    log(`\n== memory: peak RSS on one file of ${P.rssSmall} and of ${P.rssBig} documents (${since()})`);
    if (!tools.gnuTime) {
        notes.push("peak RSS not measured: no /usr/bin/time (apt-get install time)");
        log("  skipped: no /usr/bin/time (apt-get install time)");
        return;
    }
    for (const n of [P.rssSmall, P.rssBig]) checkGuardFindings(`single-${n}`);
    const small = peakRssMiB(guard(set(`single-${P.rssSmall}`).path), { okCodes: guardOk(`single-${P.rssSmall}`), cwd: guardRoot });
    const big = peakRssMiB(guard(set(`single-${P.rssBig}`).path), { okCodes: guardOk(`single-${P.rssBig}`), cwd: guardRoot });
    const bare = peakRssMiB([process.execPath, "-e", "0"]);
    row("memory", "node -e 0", `${bare.toFixed(0)} MiB`);
    row("memory", `oceanid-guard, ${P.rssSmall} documents in one file`, `${small.toFixed(0)} MiB`);
    row("memory", `oceanid-guard, ${P.rssBig} documents in one file`, `${big.toFixed(0)} MiB`, {
        baseline: `${P.rssSmall} documents`,
        baselineValue: `${small.toFixed(0)} MiB`,
        ratio: fmtX(big / small),
        target: "< 300 MiB",
        pass: big < 300,
    });
}

/** The large inputs (bench/large-inputs.mjs), written once per generator and size into the temp directory. */
function largeInputs() {
    const key = createHash("sha256")
        .update(readFileSync(join(ROOT, "bench", "large-inputs.mjs")))
        .update(JSON.stringify([P.largeDocuments, P.largeListBytes]))
        .digest("hex")
        .slice(0, 12);
    const dir = join(tmpdir(), `oceanid-bench-large-${key}`);
    const index = join(dir, "inputs.json");
    if (existsSync(index)) return JSON.parse(readFileSync(index, "utf8"));
    mkdirSync(dir, { recursive: true });
    const mb = (P.largeListBytes / 1e6).toFixed(0);
    const inputs = [
        {
            name: `${P.largeDocuments} documents in one file`,
            file: join(dir, "many-documents.yaml"),
            ...writeManyDocuments(join(dir, "many-documents.yaml"), { documents: P.largeDocuments }),
        },
        { name: `a ${mb} MB YAML List`, file: join(dir, "list.yaml"), ...writeBigList(join(dir, "list.yaml"), { bytes: P.largeListBytes, format: "yaml" }) },
        { name: `a ${mb} MB JSON List`, file: join(dir, "list.json"), ...writeBigList(join(dir, "list.json"), { bytes: P.largeListBytes, format: "json" }) },
    ];
    writeFileSync(index, JSON.stringify(inputs));
    return inputs;
}

function large() {
    log(`\n== large inputs: peak RSS and time of one run each, against kubectl's reader (${since()})`);
    if (!tools.gnuTime) {
        notes.push("large inputs not measured: no /usr/bin/time (apt-get install time)");
        log("  skipped: no /usr/bin/time (apt-get install time)");
        return;
    }
    const kubeRead = optionalTool("build-kube-read.sh", smoke ? ["--cached-only"] : []);
    for (const input of largeInputs()) {
        const g = peakRssAndSeconds(guard("--format", "json", input.file), { cwd: guardRoot, timeoutSeconds: smoke ? 120 : 600 });
        let check;
        try {
            const out = JSON.parse(g.stdout);
            const found = out.violations.map((v) => v.name);
            const same = g.status === 1 && out.summary.objects === input.objects && found.length === 1 && found[0] === LAST_NAME && out.summary.errors === 0;
            check = `guard read ${out.summary.objects} objects and found ${found.join(", ") || "no violation"} (exit ${g.status}); the input has ${input.objects} and ${LAST_NAME} last${same ? "" : "  DIFFERS"}`;
        } catch {
            check = `guard exited ${g.status === 124 ? "124: stopped after the time limit" : g.status} after ${fmtS(g.seconds)}, with no report  DIFFERS`;
        }
        log(`  check: ${check}`);
        if (check.endsWith("DIFFERS")) notes.push(`${input.name}: ${check.replace(/ {2}DIFFERS$/, "")}.`);
        const figure = `oceanid-guard, ${input.name} (${(input.bytes / 1e6).toFixed(0)} MB)`;
        if (!kubeRead.path) {
            row("large", figure, `${fmtS(g.seconds)}, ${g.mib.toFixed(0)} MiB`);
            continue;
        }
        const k = peakRssAndSeconds([kubeRead.path, input.file]);
        row("large", `${figure}, time`, fmtS(g.seconds), { baseline: "kubectl's reader", baselineValue: fmtS(k.seconds), ratio: fmtX(g.seconds / k.seconds) });
        row("large", `${figure}, peak RSS`, `${g.mib.toFixed(0)} MiB`, {
            baseline: "kubectl's reader",
            baselineValue: `${k.mib.toFixed(0)} MiB`,
            ratio: fmtX(g.mib / k.mib),
            target: "< 1024 MiB",
            pass: g.mib < 1024,
        });
    }
    if (!kubeRead.path) notes.push(`kube-read not measured on large inputs: ${kubeRead.missing}`);
}

function preview() {
    log(`\n== pulumi preview --stack dev, with and without the policy pack, 3 interleaved runs (${since()})`);
    const base = ["bash", join(guardRoot, "scripts", "pulumi"), "preview", "--stack", "dev"];
    const without = [...base];
    const withPack = [...base, "--policy-pack", "policies"];
    const run = (argv) => {
        const t = process.hrtime.bigint();
        runChecked(argv, { cwd: guardRoot });
        return Number(process.hrtime.bigint() - t) / 1e9;
    };
    run(without); // warm-up: stack init, plugin caches
    const a = [];
    const b = [];
    for (let i = 0; i < 3; i++) {
        // ABBA order, so that drift in the machine's load hits both sides alike.
        if (i % 2 === 0) {
            a.push(run(without));
            b.push(run(withPack));
        } else {
            b.push(run(withPack));
            a.push(run(without));
        }
    }
    const overhead = median(b) / median(a) - 1;
    row("preview", "pulumi preview --stack dev", fmtS(median(a)));
    row("preview", "pulumi preview --stack dev --policy-pack policies", fmtS(median(b)), {
        baseline: "without the pack",
        baselineValue: fmtS(median(a)),
        ratio: `${overhead >= 0 ? "+" : ""}${(overhead * 100).toFixed(0)}%`,
        target: "< +10%",
        pass: overhead < 0.1,
    });
}

function program() {
    log(`\n== the program under the mock runtime, ${P.nodes.join("/")} nodes, median of ${P.programRuns} (${since()})`);
    const times = new Map(P.nodes.map((n) => [n, []]));
    const resources = new Map();
    for (let i = 0; i < P.programRuns; i++) {
        for (const n of P.nodes) {
            const out = runChecked([process.execPath, "--import", "tsx", join(ROOT, "bench", "program-scale.mjs"), String(n), guardRoot], { cwd: guardRoot });
            const r = JSON.parse(out.trim().split("\n").pop());
            times.get(n).push(r.seconds);
            resources.set(n, r.resources);
        }
    }
    const t = (n) => median(times.get(n));
    const [first, second] = P.nodes;
    for (const n of P.nodes) {
        const figure = `${n} nodes (${resources.get(n)} resources)`;
        if (n === first) {
            row("program", figure, fmtS(t(n)));
            continue;
        }
        // No faster than linear: a + b·n with a fixed start-up a ≥ 0 grows at most as fast as n, so
        // t(n)/t(second) ≤ n/second. (A line through the two smallest sizes is no judge: start-up
        // dominates both, and their difference is below the timing noise.)
        const last = n === P.nodes.at(-1) && n >= 300;
        row("program", figure, fmtS(t(n)), {
            baseline: `${first} nodes`,
            baselineValue: fmtS(t(first)),
            ratio: fmtX(t(n) / t(first)),
            target: last ? `< 5 s; vs ${second} nodes ≤ ${n / second}× (${fmtX(t(n) / t(second))})` : undefined,
            pass: last ? t(n) < 5 && t(n) / t(second) <= n / second : undefined,
        });
    }
}

// ---------------------------------------------------------------------------
const toRun = { startup, throughput, memory, large, preview, program };
for (const s of SECTIONS) if (only.has(s)) toRun[s]();

const seconds = Math.round((Date.now() - started) / 1000);
log(`\n== done in ${seconds} s${smoke ? " (smoke: ratios printed, not judged)" : ""}`);
for (const n of notes) log(`note: ${n}`);

if (record !== "none") {
    const file = join(ROOT, "bench", "RESULTS.md");
    const table = [
        "| figure | value | baseline | baseline value | ratio | target | |",
        "|---|---|---|---|---|---|---|",
        ...rows.map((r) => `| ${[r.figure, r.value, r.baseline, r.baselineValue, r.ratio, r.target, r.verdict].join(" | ")} |`),
    ];
    const block = [
        `<!-- bench:${record} -->`,
        `- command: \`${command}\` (${seconds} s)`,
        `- date: ${machine.date}`,
        `- machine: nproc ${machine.nproc}, ${machine.memory} memory, CPU ${machine.cpu}, load average ${machine.load} at the start; node ${machine.node}`,
        `- guard: ${guardRoot === ROOT ? "this checkout" : guardRoot} at ${guardCommit}${guardDirty}; timing by ${tools.hyperfine ? `${sh("hyperfine --version")} (median)` : "the Node runner (median)"}`,
        `- load average at the end: ${loadavg()
            .map((l) => l.toFixed(2))
            .join(" ")} (other work on the machine shows here)`,
        "",
        ...table,
        ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
        `<!-- /bench:${record} -->`,
    ].join("\n");
    const current = existsSync(file) ? readFileSync(file, "utf8") : "# Guard benchmarks\n";
    const re = new RegExp(`<!-- bench:${record} -->[\\s\\S]*?<!-- /bench:${record} -->`);
    writeFileSync(file, re.test(current) ? current.replace(re, block) : `${current.trimEnd()}\n\n${block}\n`);
    log(`recorded in bench/RESULTS.md (${record})`);
}
