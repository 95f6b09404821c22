// What is derived from components/config/configSchema.ts stays derived: the CONFIG_DOC table and Pulumi.yaml's
// `config:` block are current, the block follows the engine's rules, and the secret keys stay secret.
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseSettings, rawConfig, readSettings } from "../../components/config/config";
import { engineValue, PROJECT_FILE, projectConfig, CONFIG_DOC, withProjectConfig, withConfigTable } from "../../components/config/configDocs";
import { SCHEMA } from "../../components/config/configSchema";
import { Keys } from "../../components/config/configSpec";
import { makePki } from "../support/pki";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as typeof import("js-yaml");
const REGENERATE = "run: node --import tsx components/config/configDocs.ts";
const sshKey = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** Every key path the schema marks secret, e.g. `nodes[].privateKey`. */
function secretPaths(keys: Keys, prefix = ""): string[] {
    return Object.entries(keys).flatMap(([k, s]) => {
        if (s.kind === "string" && s.secret) return [`${prefix}${k}`];
        if (s.kind === "object") return secretPaths(s.keys, `${prefix}${k}.`);
        if (s.kind === "objects") return secretPaths(s.keys, `${prefix}${k}[].`);
        return [];
    });
}

describe("derived from the configuration schema", () => {
    it("CONFIG_DOC.md's configuration table is current", () => {
        const readme = fs.readFileSync(CONFIG_DOC, "utf8");
        assert.equal(withConfigTable(readme), readme, REGENERATE);
        for (const k of Object.keys(SCHEMA)) assert.ok(readme.includes(`| \`${k}\` |`), k);
    });

    it("Pulumi.yaml's config block is current and reads back as declared", () => {
        const text = fs.readFileSync(PROJECT_FILE, "utf8");
        assert.equal(withProjectConfig(text), text, REGENERATE);
        const project = yaml.load(text) as { name: string; config: Record<string, unknown> };
        assert.equal(project.name, "private-registry");
        assert.deepEqual(project.config, projectConfig());
        assert.deepEqual(Object.keys(project.config), Object.keys(SCHEMA));
    });

    it("Pulumi.yaml's config block follows the engine's rules (pkg/workspace config validation)", () => {
        const allowed = ["string", "integer", "boolean", "array", "object"];
        const fits = (type: string | undefined, v: unknown): boolean => type === undefined
            || (type === "string" && typeof v === "string")
            || (type === "integer" && (Number.isInteger(v) || (typeof v === "string" && /^-?\d+$/.test(v))))
            || (type === "boolean" && (typeof v === "boolean" || v === "true" || v === "false"))
            || (type === "object" && typeof v === "object" && v !== null && !Array.isArray(v))
            || (type === "array" && Array.isArray(v));
        for (const [k, decl] of Object.entries(projectConfig())) {
            assert.ok(!k.includes(":"), `${k}: keys of this project are written without the project prefix`);
            // a declared key without a default is one every stack must set
            assert.ok(decl.default !== undefined && decl.default !== null, `${k} has no default`);
            assert.ok(decl.type === undefined || allowed.includes(decl.type), `${k}: type ${decl.type}`);
            if (decl.type === "array") assert.ok(decl.items, `${k}: an array declares its items`);
            assert.ok(fits(decl.type, decl.default), `${k}: default ${JSON.stringify(decl.default)} is not a ${decl.type}`);
            assert.equal((decl as { secret?: boolean }).secret, undefined, `${k}: secret: true refuses an unencrypted default`);
        }
    });

    it("the engine filling in every default gives the built-in defaults, on an empty stack and on the dev stack", () => {
        const defaults = Object.fromEntries(Object.entries(projectConfig()).map(([k, d]) => [`private-registry:${k}`, engineValue(d.default)]));
        assert.deepEqual(parseSettings(rawConfig(defaults), "dev"), parseSettings({}, "dev"));
        const dev = yaml.load(fs.readFileSync(path.join(__dirname, "../../Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
        const devValues = Object.fromEntries(Object.entries(dev.config).map(([k, v]) => [k, engineValue(v)]));
        assert.deepEqual(parseSettings(rawConfig({ ...defaults, ...devValues }), "dev"), parseSettings(rawConfig(devValues), "dev"));
    });
});

describe("readSettings: through pulumi.Config, secrets stay secret", () => {
    const pki = makePki("reg.example");
    const given: Record<string, unknown> = {
        password: "a-given-password",
        "access.pullPassword": "a-given-pull-password",
        "tls.privateKeyPem": pki.keyPem,
        "nodes[].privateKey": sshKey,
        "kubernetes.kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n",
        "mirror.password": "upstream-token",
        "cluster.s3.accessKey": "0123456789",
        "cluster.s3.secretKey": "s3-secret-key",
    };
    const config = {
        "private-registry:hostname": "reg.example",
        "private-registry:password": "a-given-password",
        "private-registry:access": JSON.stringify({ pullPassword: "a-given-pull-password" }),
        "private-registry:tls": JSON.stringify({ certificatePem: pki.certPem, privateKeyPem: pki.keyPem, caCertificatePem: pki.caCertPem }),
        "private-registry:nodes": JSON.stringify([{ host: "10.0.0.5", privateKey: sshKey, runtime: "docker" }]),
        "private-registry:kubernetes": JSON.stringify({ kubeconfig: "apiVersion: v1\nkind: Config\nclusters: []\n" }),
    };
    // the mirror and cluster mode exclude each other: each secret key in the mode that has it
    const modes: { only: string; config: Record<string, string> }[] = [
        { only: "mirror.", config: { "private-registry:mirror": JSON.stringify({ username: "hub-user", password: "upstream-token" }) } },
        { only: "cluster.", config: { "private-registry:port": "30500",
            "private-registry:cluster": JSON.stringify({ s3: { bucket: "registry", accessKey: "0123456789", secretKey: "s3-secret-key" } }) } },
    ];
    const valueAt = (s: unknown, p: string): unknown => p.split(".").reduce<unknown>((o, k) => {
        const v = (o as Record<string, unknown>)[k.replace("[]", "")];
        return k.endsWith("[]") ? (v as unknown[])[0] : v;
    }, s);

    it("every key the schema marks secret leaves the settings as a secret Output, also when the stack holds it in plain text", async () => {
        assert.deepEqual(secretPaths(SCHEMA).sort(), Object.keys(given).sort(), "each secret key of the schema has a case here");
        for (const mode of modes) for (const secretKeys of [[], ["private-registry:password", "private-registry:access", "private-registry:tls", "private-registry:nodes", "private-registry:kubernetes", ...Object.keys(mode.config)]]) {
            const all = { ...config, ...mode.config };
            // in plain text the stack must opt in, or a CI run stops (test/unit/plaintextSecrets.test.ts)
            pulumi.runtime.setAllConfig(secretKeys.length ? all : { ...all, "private-registry:allowPlaintextSecrets": "true" }, secretKeys);
            const s = readSettings("dev");
            for (const [p, value] of Object.entries(given).filter(([p]) => !/^(mirror|cluster)\./.test(p) || p.startsWith(mode.only))) {
                const v = valueAt(s, p);
                assert.ok(pulumi.Output.isInstance(v), `${p} is an Output`);
                assert.equal(await pulumi.isSecret(v as pulumi.Output<string>), true, `${p} is secret`);
                assert.equal(await new Promise((resolve) => (v as pulumi.Output<string>).apply(resolve)), value, `${p} keeps its value`);
            }
            assert.equal(s.hostname, "reg.example");
            assert.equal(s.nodes[0].host, "10.0.0.5");
        }
    });

    it("still reports a misspelt key, and every problem at once", () => {
        pulumi.runtime.setAllConfig({ "private-registry:hostnme": "x", "private-registry:port": "0", "aws:region": "eu-west-1" });
        assert.throws(() => readSettings("dev"), (e: unknown) => e instanceof ConfigError && e.problems.length === 2
            && e.problems[0].startsWith("private-registry:hostnme is not a known setting"));
    });
});
