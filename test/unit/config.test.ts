import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, it } from "node:test";
import { DEFAULT_BCRYPT_COST, parseSettings, rawConfig, registryAddress, stackId } from "../../components/config/config";
import { configProblems, sshKey } from "../support/configProblems";
import { makePki } from "../support/pki";

const node = (extra: Record<string, unknown> = {}) => ({ host: "10.0.0.5", privateKey: sshKey, runtime: "docker", ...extra });

function problems(raw: Record<string, unknown>): string[] {
    const found = configProblems(raw);
    assert.ok(found.length > 0, "expected a ConfigError");
    return found;
}

function expectProblem(raw: Record<string, unknown>, key: string, pattern: RegExp): void {
    const found = problems(raw);
    assert.ok(found.some((p) => p.startsWith(`private-registry:${key} `) && pattern.test(p)),
        `no problem for ${key} matching ${pattern} in:\n${found.join("\n")}`);
}

describe("config defaults", () => {
    it("an empty stack gives the documented dev defaults", () => {
        const s = parseSettings({}, "dev");
        assert.equal(s.hostname, "127.0.0.1");
        assert.equal(s.port, 5000);
        assert.deepEqual(s.bindAddresses, ["127.0.0.1"]);
        assert.equal(s.dockerHost, "unix:///var/run/docker.sock");
        assert.deepEqual(s.dockerSshOpts, []);
        assert.equal(s.image, "registry:3.1.2");
        assert.equal(s.containerName, "registry-dev");
        assert.equal(s.dataVolume, "registry-dev-data");
        assert.equal(s.dataHostPath, undefined);
        assert.equal(s.username, "admin");
        assert.equal(s.password, undefined);
        assert.equal(s.bcryptCost, DEFAULT_BCRYPT_COST);
        assert.equal(s.tls.minVersion, "tls1.2");
        assert.equal(s.tls.keyAlgorithm, "RSA");
        assert.deepEqual(s.nodes, []);
        assert.equal(s.kubernetes, undefined);
        assert.deepEqual(s.services, []);
    });

    it("Pulumi.dev.yaml holds exactly the built-in defaults", () => {
        const text = fs.readFileSync(path.join(__dirname, "../../Pulumi.dev.yaml"), "utf8");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const yaml = require("js-yaml") as typeof import("js-yaml");
        const doc = yaml.load(text) as { config: Record<string, unknown> };
        const all = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
        const fromFile = parseSettings(rawConfig(all), "dev");
        const defaults = parseSettings({}, "dev");
        assert.deepEqual({ ...fromFile, dnsNames: [] }, defaults);
        assert.deepEqual(fromFile.dnsNames, ["localhost"]);
    });

    it("the example stack file parses (apart from its key files)", () => {
        const text = fs.readFileSync(path.join(__dirname, "../../Pulumi.example.yaml"), "utf8");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const yaml = require("js-yaml") as typeof import("js-yaml");
        const doc = yaml.load(text) as { config: Record<string, unknown> };
        const raw = rawConfig(Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
        for (const n of raw.nodes as Record<string, unknown>[]) {
            delete n.privateKeyPath;
            n.privateKey = sshKey;
        }
        const s = parseSettings(raw, "prod");
        assert.equal(s.nodes.length, 2);
        assert.equal(s.nodes[0].user, "ubuntu");
        assert.equal(s.kubernetes?.patchDefaultServiceAccount, true);
        assert.equal(s.tls.minVersion, "tls1.3");
    });

    it("rawConfig picks this project's keys and parses JSON values", () => {
        const raw = rawConfig({ "private-registry:port": "5001", "private-registry:nodes": "[{\"host\":\"a\"}]", "aws:region": "x" });
        assert.deepEqual(raw, { port: "5001", nodes: [{ host: "a" }] });
    });

    it("node defaults: port 22, root, 3 dials of 10 s, systemd restarts", () => {
        const s = parseSettings({ nodes: [node()] }, "dev");
        assert.equal(s.nodes[0].name, "10-0-0-5");
        assert.equal(s.nodes[0].port, 22);
        assert.equal(s.nodes[0].user, "root");
        assert.equal(s.nodes[0].systemTrust, false);
        assert.equal(s.nodes[0].insecureRegistry, false);
        assert.equal(s.nodes[0].containerdRestartCommand, "systemctl restart containerd");
        assert.equal(s.nodes[0].dialErrorLimit * s.nodes[0].perDialTimeout, 30);
    });

    it("cleanRecipe: off by default; on any runtime, with or without hostsAddress", () => {
        assert.equal(parseSettings({ nodes: [node()] }, "dev").nodes[0].cleanRecipe, false);
        const s = parseSettings({ nodes: ["docker", "containerd", "crio", "none"].map((runtime, i) =>
            node({ host: `10.0.0.${i + 1}`, runtime, cleanRecipe: true, ...(i % 2 ? { hostsAddress: "10.0.0.9" } : {}) })) }, "dev");
        assert.deepEqual(s.nodes.map((n) => n.cleanRecipe), [true, true, true, true]);
    });

    it("privateKeyPath is read (with ~ expanded)", () => {
        const file = path.join(os.tmpdir(), `pr-key-${process.pid}`);
        fs.writeFileSync(file, sshKey);
        try {
            const s = parseSettings({ nodes: [{ host: "n1", privateKeyPath: file, runtime: "crio" }] }, "dev");
            assert.equal(s.nodes[0].privateKey, sshKey);
        } finally {
            fs.rmSync(file);
        }
    });

    it("a comma-separated string is a list", () => {
        const s = parseSettings({ dnsNames: "a.example, b.example", bindAddress: "127.0.0.1,10.0.0.1" }, "dev");
        assert.deepEqual(s.dnsNames, ["a.example", "b.example"]);
        assert.deepEqual(s.bindAddresses, ["127.0.0.1", "10.0.0.1"]);
    });

    it("service names may have path components", () => {
        assert.equal(parseSettings({ services: [{ name: "team/data-service", context: "." }] }, "dev").services[0].name, "team/data-service");
    });

    it("kubernetes: namespaces default to [default], secret to regcred", () => {
        const s = parseSettings({ kubernetes: { context: "kind" } }, "dev");
        assert.deepEqual(s.kubernetes?.namespaces, ["default"]);
        assert.equal(s.kubernetes?.secretName, "regcred");
    });

    it("helpers: registryAddress; stackId is safe for file names", () => {
        assert.equal(registryAddress("reg.example", 443), "reg.example:443");
        assert.equal(stackId("Prod_EU"), "private-registry-prod-eu");
    });
});

describe("config errors name the key and what is allowed", () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
        ["bad hostname", { hostname: "bad_host!" }, "hostname", /DNS name .* or an IPv4 address/],
        ["IPv6 hostname", { hostname: "::1" }, "hostname", /or an IPv4 address/],
        ["hostname label too long", { hostname: "a".repeat(64) + ".com" }, "hostname", /DNS name/],
        ["port out of range", { port: 70000 }, "port", /integer from 1 to 65535 \(got 70000\)/],
        ["port not a number", { port: "http" }, "port", /integer from 1 to 65535/],
        ["bad bind address", { bindAddress: "localhost" }, "bindAddress[0]", /an IP address/],
        ["bad dns name", { dnsNames: ["ok.example", "not ok"] }, "dnsNames[1]", /a DNS name/],
        ["bad ip", { ipAddresses: ["300.1.1.1"] }, "ipAddresses[0]", /an IP address/],
        ["bad docker host", { dockerHost: "http://x" }, "dockerHost", /unix:\/\/\/path, tcp:\/\/host:port or ssh:\/\/user@host/],
        ["ssh options without ssh host", { dockerSshOpts: ["-v"] }, "dockerSshOpts", /ssh:\/\/ dockerHost only/],
        ["bad image", { image: "Registry:2" }, "image", /image reference/],
        ["username with colon", { username: "ad:min" }, "username", /no ':'/],
        ["empty username", { username: " " }, "username", /1-64 characters/],
        ["short password", { password: "short" }, "password", /8 to 72 bytes/],
        ["bcrypt cost too low", { bcryptCost: 3 }, "bcryptCost", /integer from 4 to 31/],
        ["volume and host path", { dataVolume: "v", dataHostPath: "/srv/r" }, "dataVolume", /cannot both be set/],
        ["relative host path", { dataHostPath: "srv/r" }, "dataHostPath", /absolute path/],
        ["bad TLS version", { tls: { minVersion: "tls1.1" } }, "tls.minVersion", /one of tls1.2, tls1.3/],
        ["validity shorter than renewal", { tls: { validityHours: 100, earlyRenewalHours: 200 } }, "tls.validityHours", /longer than tls.earlyRenewalHours/],
        ["CA shorter than leaf", { tls: { validityHours: 1000, caValidityHours: 500, earlyRenewalHours: 10 } }, "tls.caValidityHours", /at least tls.validityHours/],
        ["bad key algorithm", { tls: { keyAlgorithm: "DSA" } }, "tls.keyAlgorithm", /one of RSA, ECDSA/],
        ["bad rsa bits", { tls: { rsaBits: 1024 } }, "tls.rsaBits", /2048/],
        ["unknown tls key", { tls: { minVerison: "tls1.3" } }, "tls.minVerison", /not a known setting/],
        ["unknown top-level key", { hostnme: "x" }, "hostnme", /not a known setting/],
        ["partial bring-your-own", { tls: { certificatePem: "x" } }, "tls", /all three/],
        ["node without host", { nodes: [{ privateKey: sshKey, runtime: "docker" }] }, "nodes[0].host", /is required/],
        ["node without key", { nodes: [{ host: "n1", runtime: "docker" }] }, "nodes[0].privateKey", /is required/],
        ["node key not a PEM", { nodes: [node({ privateKey: "hunter2" })] }, "nodes[0].privateKey", /PEM\/OpenSSH private key/],
        ["node key file missing", { nodes: [{ host: "n1", runtime: "docker", privateKeyPath: "/nonexistent/key" }] }, "nodes[0].privateKeyPath", /cannot be read/],
        ["unknown runtime", { nodes: [node({ runtime: "rkt" })] }, "nodes[0].runtime", /one of docker, containerd, crio, none/],
        ["missing runtime", { nodes: [{ host: "n1", privateKey: sshKey }] }, "nodes[0].runtime", /is required: one of docker, containerd, crio, none/],
        ["duplicate node", { nodes: [node(), node()] }, "nodes[1]", /duplicates nodes\[0\]/],
        ["duplicate node address", { nodes: [node({ name: "a" }), node({ name: "b" })] }, "nodes[1]", /same address 10.0.0.5:22/],
        ["node port", { nodes: [node({ port: 0 })] }, "nodes[0].port", /integer from 1 to 65535/],
        ["node user", { nodes: [node({ user: "Root Admin" })] }, "nodes[0].user", /Unix user name/],
        ["node hosts address", { nodes: [node({ hostsAddress: "gateway" })] }, "nodes[0].hostsAddress", /an IP address/],
        ["insecure on containerd", { nodes: [node({ runtime: "containerd", insecureRegistry: true })] }, "nodes[0].insecureRegistry", /docker only/],
        ["cleanRecipe with insecureRegistry", { nodes: [node({ cleanRecipe: true, insecureRegistry: true })] }, "nodes[0].cleanRecipe",
            /^private-registry:nodes\[0\]\.cleanRecipe and nodes\[0\]\.insecureRegistry cannot both be true: .*turn insecureRegistry off/],
        ["cleanRecipe not bool", { nodes: [node({ cleanRecipe: "yes" })] }, "nodes[0].cleanRecipe", /true or false/],
        ["node host key", { nodes: [node({ hostKey: "AAAA" })] }, "nodes[0].hostKey", /public host key line/],
        ["node ssh-rsa host key", { nodes: [node({ hostKey: "ssh-rsa AAAAB3NzaC1yc2E" })] }, "nodes[0].hostKey", /ssh-rsa key.*OpenSSH 8\.8.*ed25519/],
        ["node restart multi-line", { nodes: [node({ containerdRestartCommand: "a\nb" })] }, "nodes[0].containerdRestartCommand", /single-line/],
        ["node not an object", { nodes: ["10.0.0.5"] }, "nodes[0]", /must be an object/],
        ["systemTrust not bool", { nodes: [node({ systemTrust: "yes" })] }, "nodes[0].systemTrust", /true or false/],
        ["kubernetes without target", { kubernetes: { namespaces: ["apps"] } }, "kubernetes", /kubeconfig .* or kubernetes.context/],
        ["bad namespace", { kubernetes: { context: "c", namespaces: ["Apps"] } }, "kubernetes.namespaces[0]", /namespace name/],
        ["bad secret name", { kubernetes: { context: "c", secretName: "Reg_Cred" } }, "kubernetes.secretName", /Kubernetes name/],
        ["service without context", { services: [{ name: "api" }] }, "services[0].context", /is required/],
        ["bad service name", { services: [{ name: "API", context: "." }] }, "services[0].name", /repository path/],
        ["service name with empty component", { services: [{ name: "team//api", context: "." }] }, "services[0].name", /repository path/],
        ["duplicate service", { services: [{ name: "api", context: "." }, { name: "api", context: "." }] }, "services[1].name", /duplicates service api/],
        ["bad tag", { services: [{ name: "api", context: ".", tag: "-x" }] }, "services[0].tag", /must be a tag/],
        ["bad push address", { pushAddress: "127.0.0.1" }, "pushAddress", /must be host:port/],
        ["bad log level", { logLevel: "trace" }, "logLevel", /one of error, warn, info, debug/],
        ["hosts lines commented out with no line of its own", { nodes: [{ host: "10.0.0.5", privateKey: sshKey, runtime: "docker", hostsCommentOut: true }] },
            "nodes[0].hostsCommentOut", /set hostsAddress too/],
    ];
    for (const [title, raw, key, pattern] of cases) {
        it(title, () => expectProblem(raw, key, pattern));
    }

    it("reports every problem at once", () => {
        const found = problems({ hostname: "bad_host", port: 0, username: "a:b", tls: { minVersion: "ssl3" }, nodes: [{ host: "n" }] });
        assert.ok(found.length >= 6, found.join("\n"));
        assert.throws(() => parseSettings({ port: 0, username: ":" }, "dev"), /invalid configuration \(2 problems\)/);
    });
});

describe("bring-your-own certificate", () => {
    const pki = makePki("reg.example", { dns: ["alt.example"], ips: ["10.1.2.3"] });
    const tls = (extra: Record<string, unknown> = {}) => ({
        tls: { certificatePem: pki.certPem, privateKeyPem: pki.keyPem, caCertificatePem: pki.caCertPem, ...extra },
    });

    it("accepts a matching set", () => {
        const s = parseSettings({ hostname: "reg.example", dnsNames: ["alt.example"], ipAddresses: ["10.1.2.3"], ...tls() }, "dev");
        assert.equal(s.tls.certificatePem, pki.certPem);
    });
    it("malformed PEM", () => expectProblem({ hostname: "reg.example", ...tls({ certificatePem: "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----" }) }, "tls.certificatePem", /one PEM certificate/));
    it("key of another certificate", () => expectProblem({ hostname: "reg.example", ...tls({ privateKeyPem: pki.caKeyPem }) }, "tls.privateKeyPem", /does not belong/));
    it("leaf not signed by the CA", () => {
        const other = makePki("reg.example");
        expectProblem({ hostname: "reg.example", ...tls({ caCertificatePem: other.caCertPem }) }, "tls.certificatePem", /not signed by tls.caCertificatePem/);
    });
    it("hostname not among the SANs", () => expectProblem({ hostname: "other.example", ...tls() }, "tls.certificatePem", /does not cover other.example/));
    it("IP not among the SANs", () => expectProblem({ hostname: "reg.example", ipAddresses: ["10.9.9.9"], ...tls() }, "tls.certificatePem", /does not cover 10.9.9.9/));
    it("CA without CA:TRUE", () => {
        const bad = makePki("reg.example", { caIsCa: false });
        expectProblem({ hostname: "reg.example", tls: { certificatePem: bad.certPem, privateKeyPem: bad.keyPem, caCertificatePem: bad.caCertPem } },
            "tls.caCertificatePem", /not a CA certificate/);
    });
});
