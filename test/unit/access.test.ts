// Two logins (config `access`), on the docker host, with Pulumi mocks: the config's checks; the graph with
// access.pullOnly (a read-only reader and a writer on a network of their own, one nginx front per bind
// address); which login each output, pull secret and image push gets; and access.pullOnly false, which
// keeps the one-container, one-login shape. Cluster mode and the nginx.conf: accessCluster.test.ts.
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { htpasswdVerify } from "../../components/identity/auth";
import { configProblems } from "../support/configProblems";
import { byType, captureOptions, created, functions, one, Recorded, rejections, reset, secret, settle, setupMocks, valueOf } from "./mocks";

let config: typeof import("../../components/config/config");
let reg: typeof import("../../components/PrivateRegistry");
const PUSH = "push-password-1";
const PULL = "pull-password-1";
const ADDRESS = "reg.example:5443";
const READER_MAINTENANCE = "REGISTRY_STORAGE_MAINTENANCE={readonly: {enabled: true}, uploadpurging: {enabled: false}}";
const WRITER_MAINTENANCE = "REGISTRY_STORAGE_MAINTENANCE={readonly: {enabled: false}, uploadpurging: {enabled: true, age: 168h, interval: 24h, dryrun: false}}";
const answerCheck = functions["command:local:run"];

before(async () => {
    await setupMocks(false);
    config = await import("../../components/config/config");
    reg = await import("../../components/PrivateRegistry");
});
beforeEach(reset);
after(() => {
    functions["command:local:run"] = answerCheck;
});

/** The whole registry on the docker host, as index.ts makes it (secrets as secret Outputs). */
async function registry(raw: Record<string, unknown> = {}) {
    const s = config.parseSettings({
        hostname: "reg.example", port: 5443, bindAddress: ["127.0.0.1", "10.213.0.1"], password: PUSH, access: { pullPassword: PULL },
        kubernetes: { context: "kind", namespaces: ["default", "apps"] }, services: [{ name: "api", context: "." }], ...raw,
    }, "test");
    const r = new reg.PrivateRegistry("registry", { settings: config.withSecrets(s), id: "private-registry-test" }, { transformations: [captureOptions] });
    await valueOf(r.images!.refs);
    await settle();
    return r;
}

const container = (name: string): Recorded => {
    const found = byType("docker:index/container:Container").filter((c) => c.inputs.name === name);
    assert.equal(found.length, 1, `one container named ${name}`);
    return found[0];
};
type Upload = { file: string; content: pulumi.Input<string> };
const upload = (uploads: Upload[], file: string) => {
    const u = uploads.find((x) => x.file === file);
    assert.ok(u, `no upload ${file}`);
    return u.content;
};
/** The user:password a docker config.json holds for the registry. */
const login = (json: string) => Buffer.from(JSON.parse(json).auths[ADDRESS].auth, "base64").toString();
const lines = (htpasswd: string) => htpasswd.trim().split("\n");

describe("access: config", () => {
    it("defaults: a pull-only login named pull, generated password, a pinned nginx front", () => {
        assert.deepEqual(config.parseSettings({}, "dev").access,
            { pullOnly: true, pullUsername: "pull", pullPassword: undefined, frontImage: "nginx:1.28.0-alpine" });
    });

    it("refused, naming the key: the pull login named as the push login, a short pull password, a bad front image", () => {
        assert.deepEqual(configProblems({ access: { pullUsername: "admin" } }),
            ["private-registry:access.pullUsername must differ from private-registry:username, the push login (both are \"admin\")"]);
        assert.match(configProblems({ username: "ci", access: { pullUsername: "ci" } }).join("\n"), /^private-registry:access\.pullUsername must differ/);
        const short = configProblems({ access: { pullPassword: "1234567" } });
        assert.deepEqual(short, ["private-registry:access.pullPassword must be 8 to 72 bytes on one line (or leave it unset to generate one)"]);
        assert.deepEqual(configProblems({ access: { pullPassword: "12345678" } }), []);
        assert.match(configProblems({ access: { frontImage: "not an image" } }).join("\n"), /^private-registry:access\.frontImage must be an image reference/);
        assert.match(configProblems({ access: { pullOnly: "no" } }).join("\n"), /^private-registry:access\.pullOnly must be true or false/);
    });

    it("pullOnly false is accepted, and then the pull login's name is free", () => {
        assert.deepEqual(configProblems({ access: { pullOnly: false } }), []);
        assert.deepEqual(configProblems({ access: { pullOnly: false, pullUsername: "admin" } }), []);
        assert.equal(config.parseSettings({ access: { pullOnly: false } }, "dev").access.pullOnly, false);
    });
});

describe("access: the docker host (pull-only)", () => {
    it("a read-only reader with both logins and a writer with the push login, unpublished, on their own network", async () => {
        const r = await registry();
        const network = one("docker:index/network:Network");
        assert.equal(network.inputs.name, "registry-test-net");
        const reader = container("registry-test-reader");
        const writer = container("registry-test-writer");
        assert.equal(one("docker:index/remoteImage:RemoteImage", "registry-server-image").inputs.name, "registry:3.1.2");
        for (const [c, readOnly] of [[reader, true], [writer, false]] as const) {
            assert.deepEqual(c.inputs.ports, [], `${c.inputs.name} publishes nothing`);
            assert.equal(c.inputs.networkMode, "registry-test-net");
            assert.deepEqual(c.inputs.volumes, [{ volumeName: "registry-test-data", containerPath: "/var/lib/registry", readOnly }]);
            assert.ok((c.inputs.envs as string[]).includes("REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd"));
            assert.equal(await secret(c.props!.envs as pulumi.Input<string[]>), true, `${c.inputs.name} env is secret`);
            assert.equal(await secret(upload(c.props!.uploads as Upload[], "/auth/htpasswd")), true, `${c.inputs.name} htpasswd is secret`);
        }
        assert.ok((reader.inputs.envs as string[]).includes(READER_MAINTENANCE), "the reader runs read-only");
        assert.ok((writer.inputs.envs as string[]).includes(WRITER_MAINTENANCE), "the writer purges abandoned uploads");
        const readerUsers = lines(upload(reader.inputs.uploads, "/auth/htpasswd") as string);
        assert.deepEqual(readerUsers.map((l) => l.split(":")[0]), ["pull", "admin"]);
        assert.ok(htpasswdVerify(readerUsers[0], "pull", PULL));
        assert.ok(htpasswdVerify(readerUsers[1], "admin", PUSH));
        const writerUsers = lines(upload(writer.inputs.uploads, "/auth/htpasswd") as string);
        assert.equal(writerUsers.length, 1, "the writer knows the push login only");
        assert.ok(htpasswdVerify(writerUsers[0], "admin", PUSH));
        assert.ok(!htpasswdVerify(writerUsers[0], "pull", PULL));
        assert.equal(await valueOf(r.server!.reader!.name), "registry-test-reader");
        assert.equal(await valueOf(r.server!.writer!.name), "registry-test-writer");
        assert.equal(byType("docker:index/volume:Volume").length, 1, "reader and writer share one volume");
    });

    it("one nginx front per bind address publishes them: nobody, the port, its files secret where they should be, after both", async () => {
        const r = await registry();
        const fronts = [container("registry-test"), container("registry-test-10-213-0-1")];
        assert.deepEqual(fronts.map((f) => f.name), ["registry-server-front-container", "registry-server-front-container-10.213.0.1"]);
        assert.equal(r.server!.containers.length, 2);
        assert.equal(r.server!.container, r.server!.front!.containers[0]);
        assert.equal(one("docker:index/remoteImage:RemoteImage", "registry-server-front-image").inputs.name, "nginx:1.28.0-alpine");
        const pullUsers = upload(container("registry-test-reader").inputs.uploads, "/auth/htpasswd");
        const pushUsers = upload(container("registry-test-writer").inputs.uploads, "/auth/htpasswd");
        for (const [i, f] of fronts.entries()) {
            const ip = ["127.0.0.1", "10.213.0.1"][i];
            assert.deepEqual(f.inputs.ports, [{ internal: 5000, external: 5443, ip, protocol: "tcp" }]);
            assert.equal(f.inputs.user, "65534:65534");
            assert.equal(f.inputs.networkMode, "registry-test-net");
            assert.equal(f.inputs.image, `sha256:${crypto.createHash("sha256").update("nginx:1.28.0-alpine").digest("hex")}`);
            assert.deepEqual(f.inputs.command, ["nginx", "-c", "/etc/private-registry/nginx.conf"]);
            const files = f.props!.uploads as Upload[];
            assert.deepEqual(files.map((u) => u.file).sort(),
                ["/auth/pull.htpasswd", "/auth/push.htpasswd", "/certs/registry.crt", "/certs/registry.key", "/etc/private-registry/nginx.conf"]);
            for (const file of ["/certs/registry.key", "/auth/pull.htpasswd", "/auth/push.htpasswd"]) assert.equal(await secret(upload(files, file)), true, `${file} is secret`);
            for (const file of ["/certs/registry.crt", "/etc/private-registry/nginx.conf"]) assert.equal(await secret(upload(files, file)), false, `${file} is plain`);
            assert.ok(f.opts?.additionalSecretOutputs?.includes("uploads"));
            // reads: both logins; writes: the push login only (the same lines as the registries behind)
            assert.equal(upload(f.inputs.uploads, "/auth/pull.htpasswd"), pullUsers);
            assert.equal(upload(f.inputs.uploads, "/auth/push.htpasswd"), pushUsers);
            const conf = upload(f.inputs.uploads, "/etc/private-registry/nginx.conf") as string;
            assert.match(conf, /^ {4}upstream reader \{ server registry-test-reader:5000; /m);
            assert.match(conf, /^ {4}upstream writer \{ server registry-test-writer:5000; /m);
            const deps = f.opts!.dependsOn as pulumi.Resource[];
            assert.ok(deps.includes(r.server!.reader!) && deps.includes(r.server!.writer!), "the front starts after the reader and the writer");
        }
    });

    it("given in plain, the key and the login files still reach every container as secrets", async () => {
        const { RegistryServer } = await import("../../components/registry/RegistryServer");
        const srv = new RegistryServer("srv", {
            dockerHost: "unix:///var/run/docker.sock", image: "registry:3.1.2", containerName: "r", port: 5000, bindAddresses: ["127.0.0.1"], dataVolume: "r-data",
            certPem: "CERT", privateKeyPem: "KEY", htpasswd: "admin:$2y$04$x\n", access: { frontImage: "nginx:1.28.0-alpine", pullHtpasswd: "pull:$2y$04$y\n" },
            minTlsVersion: "tls1.2", logLevel: "info",
        }, { transformations: [captureOptions] });
        await valueOf(srv.containerName);
        await settle();
        const secretFiles: Record<string, string[]> = {
            "r-reader": ["/certs/registry.key", "/auth/htpasswd"], "r-writer": ["/certs/registry.key", "/auth/htpasswd"],
            "r": ["/certs/registry.key", "/auth/pull.htpasswd", "/auth/push.htpasswd"],
        };
        for (const [name, files] of Object.entries(secretFiles)) {
            const uploads = container(name).props!.uploads as Upload[];
            for (const f of files) assert.equal(await secret(upload(uploads, f)), true, `${name} ${f}`);
            assert.equal(await secret(upload(uploads, "/certs/registry.crt")), false, `${name} certificate`);
        }
        assert.equal(upload(container("r").inputs.uploads, "/auth/pull.htpasswd"), "pull:$2y$04$y\nadmin:$2y$04$x\n");
        assert.equal(upload(container("r").inputs.uploads, "/auth/push.htpasswd"), "admin:$2y$04$x\n");
    });

    it("a take-over behind a front: nothing on the docker host before the old container passed the check", async () => {
            functions["command:local:run"] = () => ({ stdout: "fail private-registry:migrate.fromContainer: container registry holds no images\n", stderr: "" });
            try {
                await rejections(async () => {
                    const s = config.parseSettings({ password: PUSH, migrate: { fromContainer: "registry" } }, "test");
                    new reg.PrivateRegistry("registry", { settings: s, id: "private-registry-test" });
                    await settle();
                });
            } finally {
                functions["command:local:run"] = answerCheck;
            }
            assert.deepEqual(created.filter((c) => c.type.startsWith("docker:index/")).map((c) => c.name), []);
        });
});

describe("access: which login goes where", () => {
    it("outputs: the pull login for consumers, the push login apart; the pull secrets never hold the push password; images push as the push login", async () => {
        const r = await registry();
        assert.equal(await valueOf(r.credentials.username), "pull");
        assert.equal(await valueOf(r.credentials.password), PULL);
        assert.equal(login(await valueOf(r.credentials.dockerConfigJson)), `pull:${PULL}`);
        assert.equal(await valueOf(r.pushCredentials.username), "admin");
        assert.equal(login(await valueOf(r.pushCredentials.dockerConfigJson)), `admin:${PUSH}`);
        for (const o of [r.credentials.password, r.credentials.dockerConfigJson, r.pushCredentials.password, r.pushCredentials.dockerConfigJson]) {
            assert.equal(await secret(o), true);
        }
        const secrets = byType("kubernetes:core/v1:Secret");
        assert.deepEqual(secrets.map((x) => x.inputs.metadata.namespace), ["default", "apps"]);
        for (const sec of secrets) {
            assert.equal(login(sec.inputs.stringData[".dockerconfigjson"]), `pull:${PULL}`);
            assert.ok(!JSON.stringify(sec.inputs).includes(PUSH), "no push password in a pull secret");
            assert.equal(await secret((sec.props as { stringData: Record<string, pulumi.Input<string>> }).stringData[".dockerconfigjson"]), true);
        }
        const img = one("docker:index/image:Image");
        assert.deepEqual(img.inputs.registry, { server: "127.0.0.1:5443", username: "admin", password: PUSH });
        assert.equal(await secret((img.props as { registry: { password: pulumi.Input<string> } }).registry.password), true);
        // the images wait for what publishes the registry: the fronts
        const deps = img.opts!.dependsOn as pulumi.Resource[];
        assert.equal(deps.length, 2);
        assert.ok(r.server!.front!.containers.every((c) => deps.includes(c)));
    });

    it("a generated pull password: a RandomPassword of its own, secret, and not the push password", async () => {
        const r = await registry({ access: {} });
        assert.deepEqual(byType("random:index/randomPassword:RandomPassword").map((p) => p.name).sort(), ["registry-pull-auth-password", "registry-server-http-secret"]);
        const pull = await valueOf(r.credentials.password);
        assert.match(pull, /^\w{32}$/);
        assert.notEqual(pull, PUSH);
        assert.equal(await secret(r.credentials.password), true);
    });
});

describe("access.pullOnly false: one login, as before", () => {
    it("one container per bind address, no network, no front; dockerConfigJson is pushDockerConfigJson", async () => {
        const r = await registry({ access: { pullOnly: false, pullPassword: PULL } });
        const ctrs = byType("docker:index/container:Container");
        assert.deepEqual(ctrs.map((c) => `${c.name}=${c.inputs.name}`),
            ["registry-server-container=registry-test", "registry-server-container-10.213.0.1=registry-test-10-213-0-1"]);
        for (const [i, c] of ctrs.entries()) {
            assert.deepEqual(c.inputs.ports, [{ internal: 5000, external: 5443, ip: ["127.0.0.1", "10.213.0.1"][i], protocol: "tcp" }]);
            assert.equal(c.inputs.networkMode, "bridge");
            assert.ok((c.inputs.envs as string[]).includes(WRITER_MAINTENANCE));
            const users = lines(upload(c.inputs.uploads, "/auth/htpasswd") as string);
            assert.equal(users.length, 1);
            assert.ok(htpasswdVerify(users[0], "admin", PUSH));
        }
        assert.equal(byType("docker:index/network:Network").length, 0);
        assert.equal(byType("private-registry:index:RegistryFront").length, 0);
        assert.deepEqual(byType("docker:index/remoteImage:RemoteImage").map((i) => i.inputs.name), ["registry:3.1.2"]);
        assert.equal(byType("private-registry:index:RegistryCredentials").length, 1);
        assert.equal(r.server!.front, undefined);
        assert.equal(await valueOf(r.credentials.dockerConfigJson), await valueOf(r.pushCredentials.dockerConfigJson));
        assert.equal(login(await valueOf(r.credentials.dockerConfigJson)), `admin:${PUSH}`);
        for (const sec of byType("kubernetes:core/v1:Secret")) assert.equal(login(sec.inputs.stringData[".dockerconfigjson"]), `admin:${PUSH}`);
    });
});
