// Secret keys set without --secret: the state keeps them secret, the committed stack file does not. A
// warning naming the key and the command that fixes it; under CI=true a refusal unless the stack opts out.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, before, describe, it, mock } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, readSettings } from "../../components/config/config";
import { plaintextSecrets } from "../../components/config/plaintextSecrets";
import { sshKey } from "../support/configProblems";
import { setupMocks } from "./mocks";

const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pr-unit-")), "node-b");
fs.writeFileSync(keyFile, sshKey);
const raw = {
    hostname: "reg.example",
    password: "plain-password",
    nodes: [{ host: "10.0.0.5", privateKey: sshKey, runtime: "docker" }, { host: "10.0.0.6", privateKeyPath: keyFile, runtime: "docker" }],
    kubernetes: { kubeconfig: "apiVersion: v1\n", namespaces: ["default"] },
    mirror: { username: "hub", password: "hub-token" },
};
const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`private-registry:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));

describe("secret keys in plain text in the stack file", () => {
    const ci = process.env.CI;
    before(async () => setupMocks());
    afterEach(() => {
        if (ci === undefined) delete process.env.CI; else process.env.CI = ci;
        mock.restoreAll();
    });

    it("finds each secret key by path, and only those the engine does not hold encrypted", () => {
        assert.deepEqual(plaintextSecrets(raw, () => false), ["password", "nodes[0].privateKey", "kubernetes.kubeconfig", "mirror.password"]);
        const encrypted = new Set(["private-registry:password", "private-registry:nodes"]);
        assert.deepEqual(plaintextSecrets(raw, (k) => encrypted.has(k)), ["kubernetes.kubeconfig", "mirror.password"]);
        // a key file's path and plain settings are no secrets
        assert.deepEqual(plaintextSecrets({ hostname: "x", nodes: [{ host: "h", privateKeyPath: "~/.ssh/k" }], tls: { rotation: 1 } }, () => false), []);
    });

    it("warns naming the key and the command that encrypts it; the run goes on", () => {
        delete process.env.CI;
        const warned: string[] = [];
        mock.method(pulumi.log, "warn", (m: string) => { warned.push(m); return Promise.resolve(); });
        pulumi.runtime.setAllConfig(config, ["private-registry:kubernetes", "private-registry:mirror"]);
        readSettings("prod");
        assert.equal(warned.length, 2, warned.join("\n"));
        assert.match(warned[0], /^private-registry:password is in Pulumi\.prod\.yaml in plain text .*run `pulumi config set --secret password <value>`/);
        assert.match(warned[1], /^private-registry:nodes\[0\]\.privateKey is in Pulumi\.prod\.yaml in plain text .*`pulumi config set --secret --path 'nodes\[0\]\.privateKey' <value>`/);
    });

    it("under CI=true: refused, every key listed, unless the stack sets allowPlaintextSecrets", () => {
        process.env.CI = "true";
        mock.method(pulumi.log, "warn", () => Promise.resolve());
        pulumi.runtime.setAllConfig(config, []);
        assert.throws(() => readSettings("prod"), (e: unknown) => e instanceof ConfigError && e.problems.length === 5 &&
            e.problems[3].startsWith("private-registry:mirror.password is in Pulumi.prod.yaml in plain text") && /allowPlaintextSecrets/.test(e.problems[4]));
        pulumi.runtime.setAllConfig({ ...config, "private-registry:allowPlaintextSecrets": "true" }, []);
        assert.equal(readSettings("prod").hostname, "reg.example");
        pulumi.runtime.setAllConfig(config, Object.keys(config));
        assert.equal(readSettings("prod").hostname, "reg.example", "all encrypted: nothing to say");
    });

    it("a configuration error is a RunError: the engine prints the problems, not a stack trace", () => {
        pulumi.runtime.setAllConfig({ "private-registry:hostnme": "x" }, []);
        assert.throws(() => readSettings("dev"), (e: unknown) => pulumi.RunError.isInstance(e) && e instanceof ConfigError);
    });
});
