import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import { before, beforeEach, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { byType, captureOptions, created, one, realPki, reset, secret, settle, setupMocks, valueOf } from "./mocks";
import { htpasswdVerify } from "../../components/identity/auth";
import type { RegistrySettings } from "../../components/config/config";

// the components are imported after the mocks are in place
let config: typeof import("../../components/config/config");
let c: {
    RegistryCertificate: typeof import("../../components/identity/RegistryCertificate").RegistryCertificate;
    RegistryCredentials: typeof import("../../components/identity/RegistryCredentials").RegistryCredentials;
    RegistryServer: typeof import("../../components/registry/RegistryServer").RegistryServer;
    NodeTrust: typeof import("../../components/nodes/NodeTrust").NodeTrust;
    ServiceImages: typeof import("../../components/images/ServiceImages").ServiceImages;
    PrivateRegistry: typeof import("../../components/PrivateRegistry").PrivateRegistry;
    dockerContextProblem: typeof import("../../components/registry/RegistryServer").dockerContextProblem;
};

const sshKey = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

function settings(raw: Record<string, unknown> = {}): RegistrySettings {
    return config.parseSettings(raw, "test");
}

before(async () => {
    await setupMocks(false);
    config = await import("../../components/config/config");
    c = {
        RegistryCertificate: (await import("../../components/identity/RegistryCertificate")).RegistryCertificate,
        RegistryCredentials: (await import("../../components/identity/RegistryCredentials")).RegistryCredentials,
        RegistryServer: (await import("../../components/registry/RegistryServer")).RegistryServer,
        NodeTrust: (await import("../../components/nodes/NodeTrust")).NodeTrust,
        ServiceImages: (await import("../../components/images/ServiceImages")).ServiceImages,
        PrivateRegistry: (await import("../../components/PrivateRegistry")).PrivateRegistry,
        dockerContextProblem: (await import("../../components/registry/RegistryServer")).dockerContextProblem,
    };
});
beforeEach(reset);

describe("RegistryCertificate", () => {
    it("a CA and a leaf signed by it, SANs with the hostname first", async () => {
        const s = settings({ hostname: "docker.registry.com", dnsNames: ["reg.internal"], ipAddresses: ["10.0.0.9"] });
        const cert = new c.RegistryCertificate("t", { hostname: s.hostname, dnsNames: s.dnsNames, ipAddresses: s.ipAddresses, tls: s.tls, caCommonName: "x CA" });
        await valueOf(cert.certPem);
        assert.equal(byType("tls:index/privateKey:PrivateKey").length, 2);
        const ca = one("tls:index/selfSignedCert:SelfSignedCert");
        assert.equal(ca.inputs.isCaCertificate, true);
        assert.deepEqual(ca.inputs.allowedUses, ["cert_signing", "crl_signing", "digital_signature"]);
        assert.equal(ca.inputs.subject.commonName, "x CA");
        assert.equal(ca.inputs.validityPeriodHours, 87600);
        const csr = one("tls:index/certRequest:CertRequest");
        assert.deepEqual(csr.inputs.dnsNames, ["docker.registry.com", "reg.internal"]);
        assert.deepEqual(csr.inputs.ipAddresses, ["10.0.0.9"]);
        assert.equal(csr.inputs.subject.commonName, "docker.registry.com");
        const leaf = one("tls:index/locallySignedCert:LocallySignedCert");
        assert.equal(leaf.inputs.caCertPem, await valueOf(cert.caCertPem));
        assert.equal(leaf.inputs.validityPeriodHours, 8760);
        assert.equal(leaf.inputs.earlyRenewalHours, 720);
        assert.ok(leaf.inputs.allowedUses.includes("server_auth"));
        // the leaf is signed with the CA's key, not its own
        const [caKey] = byType("tls:index/privateKey:PrivateKey").filter((r) => r.name === "t-ca-key");
        assert.ok(caKey);
        assert.equal(await secret(cert.privateKeyPem), true);
        assert.equal(await valueOf(cert.expiry), "2027-01-01T00:00:00Z");
    });

    it("an IP hostname goes to the IP SANs; ECDSA keys when asked", async () => {
        const s = settings({ hostname: "10.213.0.1", tls: { keyAlgorithm: "ECDSA", ecdsaCurve: "P384" } });
        const cert = new c.RegistryCertificate("t", { hostname: s.hostname, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], tls: s.tls, caCommonName: "x" });
        await valueOf(cert.certPem);
        const csr = one("tls:index/certRequest:CertRequest");
        assert.deepEqual(csr.inputs.ipAddresses, ["10.213.0.1", "127.0.0.1"]);
        assert.deepEqual(csr.inputs.dnsNames, ["localhost"]);
        for (const k of byType("tls:index/privateKey:PrivateKey")) {
            assert.equal(k.inputs.algorithm, "ECDSA");
            assert.equal(k.inputs.ecdsaCurve, "P384");
        }
    });

    it("tls.rotation replaces the leaf's key (a key resource of another name) and so the leaf, not the CA", async () => {
        const s0 = settings({ hostname: "r.example" });
        const s1 = settings({ hostname: "r.example", tls: { rotation: 1 } });
        const a = new c.RegistryCertificate("a", { hostname: "r.example", dnsNames: [], ipAddresses: [], tls: s0.tls, caCommonName: "x" });
        const b = new c.RegistryCertificate("b", { hostname: "r.example", dnsNames: [], ipAddresses: [], tls: s1.tls, caCommonName: "x" });
        await Promise.all([valueOf(a.certPem), valueOf(b.certPem)]);
        const [csrA, csrB] = byType("tls:index/certRequest:CertRequest");
        assert.equal(csrA.inputs.subject.serialNumber, undefined);
        assert.equal(csrB.inputs.subject.serialNumber, "rotation-1");
        const [caA, caB] = byType("tls:index/selfSignedCert:SelfSignedCert");
        assert.deepEqual(caA.inputs.subject, caB.inputs.subject);
        // rotating after a leak must not sign the leaked key again; rotation 0 keeps the name stacks have
        const keys = byType("tls:index/privateKey:PrivateKey").map((k) => k.name);
        assert.deepEqual(keys, ["a-ca-key", "a-key", "b-ca-key", "b-key-r1"]);
    });

    it("bring-your-own generates nothing and keeps the key secret", async () => {
        const { makePki } = await import("../support/pki");
        const pki = makePki("r.example");
        const s = settings({ hostname: "r.example", tls: { certificatePem: pki.certPem, privateKeyPem: pki.keyPem, caCertificatePem: pki.caCertPem } });
        const cert = new c.RegistryCertificate("t", { hostname: "r.example", dnsNames: [], ipAddresses: [], tls: s.tls, caCommonName: "x" });
        await settle();
        assert.equal(created.filter((r) => r.type.startsWith("tls:")).length, 0);
        assert.equal(await valueOf(cert.certPem), pki.certPem);
        assert.equal(await valueOf(cert.caCertPem), pki.caCertPem);
        assert.equal(await secret(cert.privateKeyPem), true);
        assert.match(await valueOf(cert.expiry), /^\d{4}-\d\d-\d\dT/);
    });
});

describe("RegistryCredentials", () => {
    it("generated password: long, secret; htpasswd verifies; config.json decodes", async () => {
        const cr = new c.RegistryCredentials("t", { registry: "reg.example:5000", username: "admin", passwordLength: 32, bcryptCost: 4 });
        const pw = await valueOf(cr.password);
        assert.equal(pw.length, 32);
        const rp = one("random:index/randomPassword:RandomPassword");
        assert.equal(rp.inputs.length, 32);
        assert.equal(rp.inputs.special, false);
        for (const o of [cr.password, cr.htpasswd, cr.dockerConfigJson]) assert.equal(await secret(o), true);
        const line = await valueOf(cr.htpasswd);
        assert.match(line, /^admin:\$2y\$04\$[./A-Za-z0-9]{53}\n$/);
        assert.ok(htpasswdVerify(line, "admin", pw));
        assert.ok(!htpasswdVerify(line, "admin", pw + "x"));
        const cfg = JSON.parse(await valueOf(cr.dockerConfigJson));
        assert.deepEqual(Object.keys(cfg.auths), ["reg.example:5000"]);
        assert.equal(Buffer.from(cfg.auths["reg.example:5000"].auth, "base64").toString(), `admin:${pw}`);
    });

    it("a given password is used and marked secret even when passed in plain", async () => {
        const cr = new c.RegistryCredentials("t", { registry: "r:5000", username: "ci", password: "plain-password", passwordLength: 32, bcryptCost: 5 });
        assert.equal(await valueOf(cr.password), "plain-password");
        assert.equal(await secret(cr.password), true);
        assert.equal(byType("random:index/randomPassword:RandomPassword").length, 0);
        assert.ok(htpasswdVerify(await valueOf(cr.htpasswd), "ci", "plain-password"));
        assert.match(await valueOf(cr.htpasswd), /^ci:\$2y\$05\$/);
    });

    it("htpasswd is stable: two runs with the same state give the same line", async () => {
        const a = new c.RegistryCredentials("same", { registry: "r:5000", username: "admin", passwordLength: 32, bcryptCost: 6 });
        const first = await valueOf(a.htpasswd);
        reset();
        // a second program run: same resource names, so the mocked state returns the same password and salt
        const b = new c.RegistryCredentials("same", { registry: "r:5000", username: "admin", passwordLength: 32, bcryptCost: 6 }, { aliases: [] });
        assert.equal(await valueOf(b.htpasswd), first);
    });
});

describe("RegistryServer", () => {
    it("refuses a DOCKER_CONTEXT, which would split containers and image builds across two engines", () => {
        assert.equal(c.dockerContextProblem({}), undefined);
        assert.equal(c.dockerContextProblem({ DOCKER_CONTEXT: "default" }), undefined);
        assert.match(c.dockerContextProblem({ DOCKER_CONTEXT: "remote" })!, /DOCKER_CONTEXT is set to "remote".*private-registry:dockerHost/);
    });

    async function server(raw: Record<string, unknown> = {}) {
        const s = settings(raw);
        const srv = new c.RegistryServer("srv", {
            dockerHost: s.dockerHost, image: s.image, containerName: s.containerName, port: s.port, bindAddresses: s.bindAddresses,
            dataVolume: s.dataVolume, dataHostPath: s.dataHostPath, certPem: "CERT", privateKeyPem: "KEY", htpasswd: "admin:$2y$04$x\n",
            minTlsVersion: s.tls.minVersion, logLevel: s.logLevel,
        }, { transformations: [captureOptions] });
        await valueOf(srv.containerName);
        await settle();
        return srv;
    }

    it("explicit provider, pinned image by id, volume, uploads, env, ports, restart, health check", async () => {
        await server({ port: 5443, bindAddress: ["127.0.0.1", "10.213.0.1"], tls: { minVersion: "tls1.3" } });
        assert.equal(one("pulumi:providers:docker").inputs.host, "unix:///var/run/docker.sock");
        assert.equal(one("docker:index/remoteImage:RemoteImage").inputs.name, "registry:3.1.2");
        // one container per bind address, each with the one binding (dockerd reads several back reversed)
        const ctrs = byType("docker:index/container:Container");
        assert.deepEqual(ctrs.map((x) => x.inputs.name), ["registry-test", "registry-test-10-213-0-1"]);
        assert.deepEqual(ctrs.map((x) => x.inputs.ports.map((p: { ip: string; external: number; internal: number }) => `${p.ip}:${p.external}->${p.internal}`)),
            [["127.0.0.1:5443->5000"], ["10.213.0.1:5443->5000"]]);
        assert.deepEqual(ctrs[1].inputs.envs, ctrs[0].inputs.envs);
        assert.deepEqual(ctrs[1].inputs.uploads, ctrs[0].inputs.uploads);
        const ctr = ctrs[0];
        assert.equal(ctr.inputs.image, `sha256:${crypto.createHash("sha256").update("registry:3.1.2").digest("hex")}`);
        assert.equal(ctr.inputs.restart, "always");
        assert.equal(ctr.inputs.networkMode, "bridge");
        assert.deepEqual(ctr.inputs.volumes, [{ volumeName: "registry-test-data", containerPath: "/var/lib/registry", readOnly: false }]);
        assert.equal(one("docker:index/volume:Volume").inputs.name, "registry-test-data");
        const env = ctr.inputs.envs as string[];
        for (const e of ["REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm", "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
            "REGISTRY_HTTP_ADDR=0.0.0.0:5000", "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/registry.crt", "REGISTRY_HTTP_TLS_KEY=/certs/registry.key",
            "REGISTRY_HTTP_TLS_MINIMUMTLS=tls1.3", "REGISTRY_STORAGE_DELETE_ENABLED=false",
            "REGISTRY_STORAGE_MAINTENANCE={readonly: {enabled: false}, uploadpurging: {enabled: true, age: 168h, interval: 24h, dryrun: false}}"]) {
            assert.ok(env.includes(e), `missing ${e}`);
        }
        assert.ok(env.some((e) => /^REGISTRY_HTTP_SECRET=\w{32}$/.test(e)));
        const uploads = Object.fromEntries(ctr.inputs.uploads.map((u: { file: string; content: string; permissions: string }) => [u.file, u]));
        assert.equal(uploads["/certs/registry.crt"].content, "CERT");
        assert.equal(uploads["/certs/registry.key"].content, "KEY");
        assert.equal(uploads["/certs/registry.key"].permissions, "0600");
        assert.equal(uploads["/auth/htpasswd"].permissions, "0600");
        assert.equal(ctr.inputs.healthcheck.tests[0], "CMD-SHELL");
        assert.match(ctr.inputs.healthcheck.tests[1], /https:\/\/127\.0\.0\.1:5000\/v2\/.*\(200\|401\)/);
        assert.match(ctr.inputs.healthcheck.tests[1], /\|\| wget -q -O \/dev\/null http:\/\/127\.0\.0\.1:5001\/debug\/health$/);
        assert.ok(env.includes("REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:5001"), "debug listener on the container's loopback only");
        assert.equal(ctr.inputs.wait, true);
    });

    it("options the engine acts on: delete-first replace, health check replaces, secret outputs, provider", async () => {
        await server();
        const ctr = one("docker:index/container:Container");
        assert.equal(ctr.opts?.deleteBeforeReplace, true);
        assert.deepEqual(ctr.opts?.replaceOnChanges, ["healthcheck"]);
        assert.deepEqual(ctr.opts?.additionalSecretOutputs, ["envs", "uploads"]);
        assert.ok(ctr.opts?.provider, "container has an explicit provider");
        assert.equal(one("docker:index/volume:Volume").opts?.retainOnDelete, true);
    });

    it("a host path instead of a volume", async () => {
        await server({ dataHostPath: "/srv/registry" });
        assert.equal(byType("docker:index/volume:Volume").length, 0);
        assert.deepEqual(one("docker:index/container:Container").inputs.volumes, [{ hostPath: "/srv/registry", containerPath: "/var/lib/registry", readOnly: false }]);
    });

    it("ssh:// docker host and its ssh options go to the provider", async () => {
        const s = settings({ dockerHost: "ssh://deploy@reg-host", dockerSshOpts: ["-o", "StrictHostKeyChecking=yes"] });
        const srv = new c.RegistryServer("srv", {
            dockerHost: s.dockerHost, dockerSshOpts: s.dockerSshOpts, image: s.image, containerName: s.containerName, port: s.port,
            bindAddresses: s.bindAddresses, dataVolume: s.dataVolume, certPem: "C", privateKeyPem: "K", htpasswd: "h", minTlsVersion: "tls1.2", logLevel: "info",
        });
        await valueOf(srv.containerName);
        await settle();
        assert.equal(one("pulumi:providers:docker").inputs.host, "ssh://deploy@reg-host");
        // provider settings travel JSON-encoded
        assert.deepEqual(JSON.parse(one("pulumi:providers:docker").inputs.sshOpts), ["-o", "StrictHostKeyChecking=yes"]);
    });
});

describe("NodeTrust", () => {
    async function trust(nodeRaw: Record<string, unknown>, caPem = realPki("ca-one").caCertPem) {
        const s = settings({ hostname: "docker.registry.com", nodes: [{ host: "10.0.0.7", privateKey: sshKey, ...nodeRaw }] });
        const t = new c.NodeTrust("n", { node: s.nodes[0], registry: "docker.registry.com:5000", hostname: "docker.registry.com", caCertPem: caPem, id: "private-registry-test" },
            { transformations: [captureOptions] });
        await valueOf(t.report);
        return one("command:remote:Command");
    }

    it("connects with the node's settings; the key is secret; script on stdin, not argv", async () => {
        const cmd = await trust({ runtime: "containerd", port: 2222, hostKey: "ssh-ed25519 AAAAC3Nz" });
        assert.equal(cmd.inputs.connection.host, "10.0.0.7");
        assert.equal(cmd.inputs.connection.port, 2222);
        assert.equal(cmd.inputs.connection.user, "root");
        assert.equal(cmd.inputs.connection.hostKey, "ssh-ed25519 AAAAC3Nz");
        assert.equal(cmd.inputs.connection.dialErrorLimit, 3);
        assert.equal(cmd.inputs.connection.privateKey, sshKey);
        assert.equal(cmd.inputs.create, "bash -s -- create");
        assert.equal(cmd.inputs.update, "bash -s -- create");
        assert.equal(cmd.inputs.delete, "bash -s -- delete");
        assert.match(cmd.inputs.stdin, /hosts\.toml/);
        assert.ok(cmd.inputs.stdin.includes(realPki("ca-one").caCertPem.split(/\r?\n/)[1]), "the CA travels in the script");
        assert.equal(cmd.opts?.deleteBeforeReplace, true);
    });

    it("a non-root user goes through sudo -n", async () => {
        const cmd = await trust({ runtime: "crio", user: "ubuntu" });
        assert.equal(cmd.inputs.create, "sudo -n bash -s -- create");
        assert.equal(cmd.inputs.delete, "sudo -n bash -s -- delete");
    });

    it("a new CA changes the script (re-runs the steps as an update); address, id and the target are the triggers (replace)", async () => {
        const a = await trust({ runtime: "docker" });
        reset();
        const b = await trust({ runtime: "docker" }, realPki("ca-two").caCertPem);
        assert.notEqual(a.inputs.stdin, b.inputs.stdin);
        assert.ok(b.inputs.stdin.includes(realPki("ca-two").caCertPem.split(/\r?\n/)[1]));
        assert.deepEqual(a.inputs.triggers, ["docker.registry.com:5000", "private-registry-test", "10.0.0.7", 22, "root"]);
        assert.equal(a.inputs.addPreviousOutputInEnv, false, "no SSH setenv of the previous output");
        assert.deepEqual(b.inputs.triggers, a.inputs.triggers);
    });

    it("cleanRecipe reaches the script's header and create_items; off by default", async () => {
        const on = await trust({ runtime: "containerd", cleanRecipe: true, hostsAddress: "10.0.0.1" });
        assert.match(on.inputs.stdin, /^CLEAN_RECIPE='1'$/m);
        assert.match(on.inputs.stdin, /^ {2}clean_recipe 'containerd'$/m);
        reset();
        const off = await trust({ runtime: "docker" });
        assert.match(off.inputs.stdin, /^CLEAN_RECIPE='0'$/m);
        assert.doesNotMatch(off.inputs.stdin, /^ {2}clean_recipe /m);
    });

    it("the private key is a secret input of the command", async () => {
        const s = settings({ nodes: [{ host: "10.0.0.7", privateKey: sshKey, runtime: "none" }] });
        const t = new c.NodeTrust("n", { node: s.nodes[0], registry: "r:5000", hostname: "r", caCertPem: realPki("ca-one").caCertPem, id: "x" });
        const conn = (t.command as unknown as { connection: pulumi.Output<{ privateKey: string }> }).connection;
        assert.equal(await secret(conn), true);
    });
});

describe("ServiceImages", () => {
    it("builds, tags host:port/name:tag, pushes with the credentials; digest refs out", async () => {
        const s = settings({ services: [{ name: "data-service", context: "./svc", dockerfile: "Dockerfile.prod", tag: "1.0" }, { name: "web", context: "./web", platform: "linux/arm64" }] });
        const docker = await import("@pulumi/docker");
        const provider = new docker.Provider("p", { host: "unix:///x.sock" });
        const imgs = new c.ServiceImages("img", { services: s.services, registry: "r.example:5000", pushAddress: "127.0.0.1:5000", username: "admin", password: "pw", provider },
            { transformations: [captureOptions] });
        const refs = await valueOf(imgs.refs);
        const images = byType("docker:index/image:Image");
        // pushed over the docker host's loopback, named by the registry's address
        assert.deepEqual(images.map((i) => i.inputs.imageName), ["127.0.0.1:5000/data-service:1.0", "127.0.0.1:5000/web:latest"]);
        assert.equal(images[0].inputs.build.dockerfile, "svc/Dockerfile.prod");
        // no platform unless one is given: the docker host builds for its own (an arm64 host needs no emulation)
        assert.equal("platform" in images[0].inputs.build, false);
        assert.equal(images[1].inputs.build.platform, "linux/arm64");
        assert.deepEqual(images[0].inputs.registry, { server: "127.0.0.1:5000", username: "admin", password: "pw" });
        assert.match(refs["data-service"], /^r\.example:5000\/data-service@sha256:[0-9a-f]{64}$/);
        assert.ok(images[0].opts?.provider);
    });
});

describe("pushAddress", () => {
    it("loopback when the registry is published there, else the registry address, unless set", async () => {
        const { pushAddress } = await import("../../components/PrivateRegistry");
        assert.equal(pushAddress(settings({ hostname: "r.example", port: 5443 })), "127.0.0.1:5443");
        assert.equal(pushAddress(settings({ hostname: "r.example", bindAddress: "0.0.0.0" })), "127.0.0.1:5000");
        assert.equal(pushAddress(settings({ hostname: "r.example", bindAddress: "10.0.0.5" })), "r.example:5000");
        assert.equal(pushAddress(settings({ hostname: "r.example", pushAddress: "build-host:5000" })), "build-host:5000");
    });
});

describe("PrivateRegistry (the whole graph)", () => {
    it("wires certificate and credentials into server, nodes and pull secret; images wait for the registry", async () => {
        const s = settings({
            hostname: "docker.registry.com",
            nodes: [{ name: "a", host: "10.0.0.2", privateKey: sshKey, runtime: "docker" }, { name: "b", host: "10.0.0.3", privateKey: sshKey, runtime: "containerd" }],
            kubernetes: { context: "k" },
            services: [{ name: "api", context: "." }],
            // one login (the pull-only graph: access.test.ts)
            access: { pullOnly: false },
        });
        const reg = new c.PrivateRegistry("registry", { settings: s, id: "private-registry-test" }, { transformations: [captureOptions] });
        await valueOf(reg.images!.refs);
        await settle();
        assert.equal(reg.address, "docker.registry.com:5000");
        const caPem = await valueOf(reg.certificate.caCertPem);
        const cmds = byType("command:remote:Command");
        assert.equal(cmds.length, 2);
        for (const cmd of cmds) assert.ok(cmd.inputs.stdin.includes(caPem.split(/\r?\n/)[1]), "node script carries the CA");
        const ctr = one("docker:index/container:Container");
        assert.equal(ctr.inputs.uploads.find((u: { file: string }) => u.file === "/certs/registry.crt").content, await valueOf(reg.certificate.certPem));
        assert.equal(ctr.inputs.uploads.find((u: { file: string }) => u.file === "/auth/htpasswd").content, await valueOf(reg.credentials.htpasswd));
        assert.equal(one("kubernetes:core/v1:Secret").inputs.stringData[".dockerconfigjson"], await valueOf(reg.credentials.dockerConfigJson));
        assert.equal(reg.pushCredentials, reg.credentials, "one login");
        assert.equal(byType("private-registry:index:RegistryCredentials").length, 1);
        const img = one("docker:index/image:Image");
        assert.ok((img.opts?.dependsOn as pulumi.Resource[] | undefined)?.includes(reg.server!.container), "images depend on the container");
        // parentage from URNs: every resource sits under the top component
        const urns = await Promise.all([reg.server!.urn, reg.server!.container.urn, reg.nodes[0].urn, reg.nodes[0].command.urn].map((u) => valueOf(u)));
        assert.match(urns[0], /::private-registry:index:PrivateRegistry\$private-registry:index:RegistryServer::registry-server$/);
        assert.match(urns[1], /::private-registry:index:RegistryServer\$docker:index\/container:Container::registry-server-container$/);
        assert.match(urns[2], /::private-registry:index:PrivateRegistry\$private-registry:index:NodeTrust::registry-node-a$/);
        assert.match(urns[3], /::private-registry:index:NodeTrust\$command:remote:Command::registry-node-a-trust$/);
    });

    it("no nodes, no Kubernetes, no services: none of their resources", async () => {
        const reg = new c.PrivateRegistry("registry", { settings: settings(), id: "x" });
        await valueOf(reg.server!.containerName);
        await settle();
        assert.equal(byType("command:remote:Command").length, 0);
        assert.equal(created.filter((r) => r.type.startsWith("kubernetes:")).length, 0);
        assert.equal(byType("docker:index/image:Image").length, 0);
        assert.equal(reg.pullSecret, undefined);
    });
});
