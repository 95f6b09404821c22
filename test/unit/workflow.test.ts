// The users' workflow: a named stack (never dev), the stack created when missing (upsert), refresh
// before up, the SSH key, known_hosts and kubeconfig from repository secrets, and a missing backend or
// stack failing early with what to set.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";

/* eslint-disable @typescript-eslint/no-explicit-any */
const ROOT = path.resolve(__dirname, "../..");
const CHECK = path.join(ROOT, ".github", "backend-check.sh");
const FILES = path.join(ROOT, ".github", "access-files.sh");
const wf = yaml.load(fs.readFileSync(path.join(ROOT, ".github", "workflows", "pulumi.yml"), "utf8")) as any;
const pulumiSteps = (): any[] => Object.values<any>(wf.jobs).flatMap((j) => j.steps).filter((s) => String(s.uses).startsWith("pulumi/actions@"));
const run = (script: string, env: Record<string, string>) => spawnSync("bash", [script], { env: { PATH: process.env.PATH!, ...env }, encoding: "utf8" });

describe("the users' workflow", () => {
    it("creates the stack when a new repository has none (upsert on every pulumi/actions step)", () => {
        assert.equal(pulumiSteps().length, 2);
        for (const s of pulumiSteps()) assert.equal(s.with.upsert, true, s.with.command);
    });

    it("names no stack by itself: the stack is the PULUMI_STACK variable, with no dev fallback", () => {
        assert.equal(wf.env.PULUMI_STACK, "${{ vars.PULUMI_STACK }}");
        assert.doesNotMatch(fs.readFileSync(path.join(ROOT, ".github", "workflows", "pulumi.yml"), "utf8"), /'dev'|"dev"|\|\| *dev/);
    });

    it("refreshes before up, so what changed on the hosts by hand is seen", () => {
        const up = pulumiSteps().find((s) => s.with.command === "up");
        assert.equal(up.with.refresh, true);
    });

    it("every job that runs pulumi checks the backend and stack, then writes the access files, before pulumi runs", () => {
        for (const job of Object.values<any>(wf.jobs).filter((j) => j.steps.some((s: any) => String(s.uses).startsWith("pulumi/actions@")))) {
            const idx = (pred: (s: any) => boolean) => job.steps.findIndex(pred);
            const check = idx((s) => s.run === "./.github/backend-check.sh");
            const files = idx((s) => s.run === "./.github/access-files.sh");
            const pulumi = idx((s) => String(s.uses).startsWith("pulumi/actions@"));
            assert.ok(check >= 0 && files > check && pulumi > files, JSON.stringify(job.steps.map((s: any) => s.run ?? s.uses)));
            assert.deepEqual(job.steps[files].env, {
                NODES_SSH_KEY: "${{ secrets.NODES_SSH_KEY }}", SSH_KNOWN_HOSTS: "${{ secrets.SSH_KNOWN_HOSTS }}", KUBECONFIG_DATA: "${{ secrets.KUBECONFIG_DATA }}",
            });
        }
    });

    it("fails early, naming what to set, when no state backend or no usable stack is configured", () => {
        const none = run(CHECK, { PULUMI_STACK: "prod" });
        assert.equal(none.status, 1);
        assert.match(none.stdout, /PULUMI_ACCESS_TOKEN.*PULUMI_BACKEND_URL/);
        assert.equal(run(CHECK, { PULUMI_ACCESS_TOKEN: "pul-x", PULUMI_STACK: "prod" }).status, 0);
        const diy = run(CHECK, { PULUMI_BACKEND_URL: "s3://bucket", PULUMI_STACK: "prod" });
        assert.equal(diy.status, 0);
        assert.match(diy.stdout, /PULUMI_CONFIG_PASSPHRASE/);
        const unnamed = run(CHECK, { PULUMI_ACCESS_TOKEN: "pul-x", PULUMI_STACK: "" });
        assert.equal(unnamed.status, 1);
        assert.match(unnamed.stdout, /repository variable PULUMI_STACK/);
        const dev = run(CHECK, { PULUMI_ACCESS_TOKEN: "pul-x", PULUMI_STACK: "dev" });
        assert.equal(dev.status, 1);
        assert.match(dev.stdout, /PULUMI_STACK is dev/);
    });

    it("writes the SSH key, known_hosts and kubeconfig where the stack config names them, owner-only, and nothing for an unset secret", () => {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "pr-wf-"));
        const r = run(FILES, { HOME: home, NODES_SSH_KEY: "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----", KUBECONFIG_DATA: "apiVersion: v1\n", SSH_KNOWN_HOSTS: "" });
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stdout + r.stderr, /abc|apiVersion/, "no secret in the log");
        const key = path.join(home, ".ssh", "registry_nodes");
        assert.equal(fs.readFileSync(key, "utf8"), "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n");
        assert.equal(fs.statSync(key).mode & 0o777, 0o600);
        assert.equal(fs.statSync(path.join(home, ".kube", "config")).mode & 0o777, 0o600);
        assert.equal(fs.existsSync(path.join(home, ".ssh", "known_hosts")), false);
        // the example stack's nodes read the key from that file
        assert.match(fs.readFileSync(path.join(ROOT, "Pulumi.example.yaml"), "utf8"), /privateKeyPath: ~\/\.ssh\/registry_nodes/);
    });
});
