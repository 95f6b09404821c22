import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { byType, created, one, secret, settle, setupMocks, valueOf } from "./mocks";

const sshKey = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** The whole program from index.ts, with everything switched on; in a preview or an update. */
export function programSuite(preview: boolean): void {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let program: Record<string, any>;

    before(async () => {
        await setupMocks(preview, "ci");
        pulumi.runtime.setAllConfig({
            "private-registry:hostname": "docker.registry.com",
            "private-registry:password": "docker123-not-for-prod",
            "private-registry:nodes": JSON.stringify([
                { name: "a", host: "10.0.0.2", privateKey: sshKey, runtime: "docker", systemTrust: true },
                { name: "b", host: "10.0.0.3", privateKey: sshKey, runtime: "containerd", user: "ubuntu", hostsAddress: "10.0.0.1" },
            ]),
            "private-registry:kubernetes": JSON.stringify({ context: "kind", namespaces: ["default", "apps"] }),
            "private-registry:services": JSON.stringify([{ name: "data-service", context: "." }]),
        }, ["private-registry:password", "private-registry:nodes"]);
        const { captureOptions } = await import("./mocks");
        // run as the engine does, inside a root stack, recording every resource's arguments and options
        await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation(captureOptions);
            program = await import("../../index");
            return undefined;
        });
        await settle();
    });

    describe(`index.ts (${preview ? "preview" : "update"})`, () => {
        it("declares every component and the expected resource counts", () => {
            const count = (t: string) => byType(t).length;
            assert.equal(count("private-registry:index:PrivateRegistry"), 1);
            for (const t of ["RegistryCertificate", "RegistryServer", "RegistryFront", "PullSecret", "ServiceImages"]) {
                assert.equal(count(`private-registry:index:${t}`), 1, t);
            }
            // two logins (access.pullOnly, the default): the pull login and the push login
            assert.deepEqual(byType("private-registry:index:RegistryCredentials").map((r) => r.name).sort(), ["registry-auth", "registry-pull-auth"]);
            assert.equal(count("private-registry:index:NodeTrust"), 2);
            assert.equal(count("command:remote:Command"), 2);
            assert.equal(count("kubernetes:core/v1:Secret"), 2);
            // a reader and a writer on their own network, published by one front (one bind address)
            assert.deepEqual(byType("docker:index/container:Container").map((r) => `${r.name}=${r.inputs.name}`).sort(),
                ["registry-server-front-container=registry-ci", "registry-server-reader=registry-ci-reader", "registry-server-writer=registry-ci-writer"]);
            assert.deepEqual(byType("docker:index/network:Network").map((r) => r.inputs.name), ["registry-ci-net"]);
            assert.deepEqual(byType("docker:index/remoteImage:RemoteImage").map((r) => r.inputs.name).sort(), ["nginx:1.28.0-alpine", "registry:3.1.2"]);
            assert.equal(count("docker:index/image:Image"), 1);
            assert.equal(count("tls:index/locallySignedCert:LocallySignedCert"), 1);
            // the push password is given; the pull password is generated, beside the registry's http secret
            assert.deepEqual(byType("random:index/randomPassword:RandomPassword").map((r) => r.name).sort(),
                ["registry-pull-auth-password", "registry-server-http-secret"]);
            assert.ok(created.length >= 20);
        });

        it("plain outputs: host, URL", async () => {
            assert.equal(program.registryHost, "docker.registry.com:5000");
            assert.equal(program.registryUrl, "https://docker.registry.com:5000");
        });

        it("secret outputs are secret", async () => {
            for (const k of ["password", "dockerConfigJson", "pushPassword", "pushDockerConfigJson"]) assert.equal(await secret(program[k]), true, k);
            assert.equal(await secret(program.caCertificatePem), false);
            assert.equal(await secret(program.username), false);
            assert.equal(await secret(program.pushUsername), false);
            assert.equal(await valueOf(program.username), "pull");
            assert.equal(await valueOf(program.pushUsername), "admin");
        });

        it("secret inputs of children are secret (SSH keys, env, key and htpasswd uploads, pull secret, push password)", async () => {
            const props = (type: string, name?: string) => {
                const p = one(type, name).props;
                assert.ok(p, `no captured arguments for ${type}`);
                return p as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
            };
            for (const n of ["a", "b"]) {
                assert.equal(await secret(props("command:remote:Command", `registry-node-${n}-trust`).connection.privateKey), true, `node ${n} key`);
            }
            type Upload = { file: string; content: pulumi.Input<string> };
            const upload = (uploads: Upload[], file: string) => {
                const u = uploads.find((x) => x.file === file);
                assert.ok(u, `no upload ${file}`);
                return u.content;
            };
            for (const n of ["registry-server-reader", "registry-server-writer"]) {
                const ctr = props("docker:index/container:Container", n);
                assert.equal(await secret(ctr.envs), true, `${n} env (holds the http secret)`);
                assert.equal(await secret(upload(ctr.uploads, "/certs/registry.key")), true, `${n} key`);
                assert.equal(await secret(upload(ctr.uploads, "/auth/htpasswd")), true, `${n} htpasswd`);
                assert.equal(await secret(upload(ctr.uploads, "/certs/registry.crt")), false, `${n} certificate`);
            }
            const front = props("docker:index/container:Container", "registry-server-front-container").uploads as Upload[];
            for (const f of ["/certs/registry.key", "/auth/pull.htpasswd", "/auth/push.htpasswd"]) assert.equal(await secret(upload(front, f)), true, `front ${f}`);
            for (const f of ["/certs/registry.crt", "/etc/private-registry/nginx.conf"]) assert.equal(await secret(upload(front, f)), false, `front ${f}`);
            for (const s of byType("kubernetes:core/v1:Secret")) {
                assert.equal(await secret((s.props as any).stringData[".dockerconfigjson"]), true); // eslint-disable-line @typescript-eslint/no-explicit-any
            }
            assert.equal(await secret(props("docker:index/image:Image").registry.password), true);
        });

        if (!preview) {
            it("outputs resolve: pull secrets per namespace, image refs, expiry, CA", async () => {
                assert.deepEqual(await valueOf(program.pullSecrets), { default: "regcred", apps: "regcred" });
                assert.match((await valueOf<Record<string, string>>(program.images))["data-service"], /^docker\.registry\.com:5000\/data-service@sha256:/);
                assert.equal(await valueOf(program.certificateExpiry), "2027-01-01T00:00:00Z");
                assert.match(await valueOf<string>(program.caCertificatePem), /BEGIN CERTIFICATE/);
                const login = async (json: pulumi.Output<string>) =>
                    Buffer.from(JSON.parse(await valueOf(json)).auths["docker.registry.com:5000"].auth, "base64").toString();
                // the pull login's password is generated (the mocks' RandomPassword result for its name)
                const pullPassword = `pw${crypto.createHash("sha256").update("registry-pull-auth-password").digest("hex").slice(0, 30)}`;
                assert.equal(await valueOf(program.password), pullPassword);
                assert.equal(await login(program.dockerConfigJson), `pull:${pullPassword}`);
                assert.equal(await valueOf(program.pushPassword), "docker123-not-for-prod");
                assert.equal(await login(program.pushDockerConfigJson), "admin:docker123-not-for-prod");
                // the pull secrets hold the pull login; the images are pushed with the push login
                for (const sec of byType("kubernetes:core/v1:Secret")) assert.equal(sec.inputs.stringData[".dockerconfigjson"], await valueOf(program.dockerConfigJson), sec.name);
                assert.deepEqual(one("docker:index/image:Image").inputs.registry, { server: "127.0.0.1:5000", username: "admin", password: "docker123-not-for-prod" });
            });
            it("node b goes through sudo and gets the hosts line; node a system trust", () => {
                const b = one("command:remote:Command", "registry-node-b-trust");
                assert.equal(b.inputs.create, "sudo -n bash -s -- create");
                assert.match(b.inputs.stdin, /10\.0\.0\.1/);
                const a = one("command:remote:Command", "registry-node-a-trust");
                assert.match(a.inputs.stdin, /update-ca-certificates/);
            });
        } else {
            it("computed outputs are unknown in a preview and nothing crashed", async () => {
                assert.equal(await valueOf(program.certificateExpiry), undefined);
                // the pull password is generated (unknown until created), the push password given
                assert.equal(await valueOf(program.password), undefined);
                assert.equal(await valueOf(program.pushPassword), "docker123-not-for-prod");
            });
        }
    });
}
