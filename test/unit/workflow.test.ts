// The users' workflow on a new repository: the stack is created when missing (upsert), and a missing
// state backend fails early with what to set.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";

const ROOT = path.resolve(__dirname, "../..");
const CHECK = path.join(ROOT, ".github", "backend-check.sh");

describe("the users' workflow", () => {
    it("creates the stack when a new repository has none (upsert on every pulumi/actions step)", () => {
        const wf = yaml.load(fs.readFileSync(path.join(ROOT, ".github", "workflows", "pulumi.yml"), "utf8")) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
        const steps = Object.values<any>(wf.jobs).flatMap((j) => j.steps).filter((s) => String(s.uses).startsWith("pulumi/actions@")); // eslint-disable-line @typescript-eslint/no-explicit-any
        assert.equal(steps.length, 2);
        for (const s of steps) assert.equal(s.with.upsert, true, s.with.command);
    });

    it("fails early, naming the secrets to set, when no state backend is configured", () => {
        const run = (env: Record<string, string>) => spawnSync("bash", [CHECK], { env: { PATH: process.env.PATH!, ...env }, encoding: "utf8" });
        const none = run({});
        assert.equal(none.status, 1);
        assert.match(none.stdout, /PULUMI_ACCESS_TOKEN.*PULUMI_BACKEND_URL/);
        assert.equal(run({ PULUMI_ACCESS_TOKEN: "pul-x" }).status, 0);
        const diy = run({ PULUMI_BACKEND_URL: "s3://bucket" });
        assert.equal(diy.status, 0);
        assert.match(diy.stdout, /PULUMI_CONFIG_PASSPHRASE/);
    });
});
