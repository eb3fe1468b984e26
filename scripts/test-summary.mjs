// Prints "N passed, N failed" from a vitest JSON report. A test file that
// failed before running any test (an import error) counts as one failure, and
// a missing report counts as one failure: CI must never read "0 failed" then.
import { readFileSync } from "node:fs";

let line;
try {
    const r = JSON.parse(readFileSync(process.argv[2], "utf8"));
    const brokenFiles = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
    line = `${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed`;
} catch (err) {
    line = `0 passed, 1 failed`;
    console.error(`no test report at ${process.argv[2]}: ${err.message}`);
}
console.log(line);
