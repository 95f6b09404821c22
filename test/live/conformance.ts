// The OCI distribution-spec conformance suite (test/engine/build.sh conformance) against a registry, with
// the delete APIs off (the program keeps delete off), and its result per test case from junit.xml.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { run } from "./cli";

/** What distribution 3.1.2 does not do: sha512 digests, the referrers API and `subject`, non-distributable layers. */
export const KNOWN_GAPS = /sha512|referrer|subject|non.?distributable/i;

export interface ConformanceResult {
    code: number;
    /** The summary's counts (Pass, FAIL, Error, …). */
    counts: Record<string, number>;
    /** test case name → how many of its cases passed and failed (skipped ones are left out). */
    cases: Map<string, string>;
    failed: string[];
    seconds: number;
}

export async function conformance(work: string, label: string, o: { registry: string; username: string; password: string; caFile: string }): Promise<ConformanceResult> {
    const tools = await run("bash", [path.join(__dirname, "../engine/build.sh"), "conformance"], { timeoutMs: 1_800_000 });
    assert.equal(tools.code, 0, tools.stderr);
    const bin = path.join(tools.stdout.trim().split("\n").pop() ?? "", "bin", "conformance");
    const results = path.join(work, `conformance-${label}`);
    const t0 = Date.now();
    // a clean environment: the machine's may point SSL_CERT_FILE and the like at the system bundle
    const r = await run(bin, [], {
        cwd: work, timeoutMs: 900_000, env: {
            PATH: process.env.PATH, HOME: work, SSL_CERT_FILE: o.caFile,
            OCI_REGISTRY: o.registry, OCI_TLS: "enabled", OCI_USERNAME: o.username, OCI_PASSWORD: o.password,
            OCI_REPO1: `conformance-${label}/repo1`, OCI_REPO2: `conformance-${label}/repo2`, OCI_RESULTS_DIR: results,
            OCI_API_BLOBS_DELETE: "false", OCI_API_MANIFESTS_DELETE: "false", OCI_API_TAGS_DELETE: "false",
        },
    });
    const counts = Object.fromEntries([...r.stdout.matchAll(/^ {2}(\w[\w ]*?)\.+: +(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    const junitFile = path.join(results, "junit.xml");
    assert.ok(fs.existsSync(junitFile), `${label}: no junit.xml: ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`);
    // A name can stand for several cases (the same step of several data sets, run in no fixed order): a
    // name's outcome is how many of its cases passed and failed.
    const tally = new Map<string, { passed: number; failed: number }>();
    for (const m of fs.readFileSync(junitFile, "utf8").matchAll(/<testcase name="([^"]*)"[^>]*status="(\w+)"/g)) {
        if (m[2] !== "passed" && m[2] !== "failure" && m[2] !== "error") continue;
        const t = tally.get(m[1]) ?? { passed: 0, failed: 0 };
        if (m[2] === "passed") t.passed++; else t.failed++;
        tally.set(m[1], t);
    }
    const cases = new Map([...tally].map(([n, t]) => [n, `${t.passed} passed, ${t.failed} failed`]));
    const failed = [...tally].filter(([, t]) => t.failed > 0).map(([n]) => n);
    return { code: r.code, counts, cases, failed, seconds: Math.round((Date.now() - t0) / 1000) };
}
