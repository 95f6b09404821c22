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
            for (const t of ["RegistryCertificate", "RegistryCredentials", "RegistryServer", "PullSecret", "ServiceImages"]) {
                assert.equal(count(`private-registry:index:${t}`), 1, t);
            }
            assert.equal(count("private-registry:index:NodeTrust"), 2);
            assert.equal(count("command:remote:Command"), 2);
            assert.equal(count("kubernetes:core/v1:Secret"), 2);
            assert.equal(count("docker:index/container:Container"), 1);
            assert.equal(count("docker:index/image:Image"), 1);
            assert.equal(count("tls:index/locallySignedCert:LocallySignedCert"), 1);
            // the given password: no generated one (the registry's http secret is the only RandomPassword)
            assert.deepEqual(byType("random:index/randomPassword:RandomPassword").map((r) => r.name), ["registry-server-http-secret"]);
            assert.ok(created.length >= 20);
        });

        it("plain outputs: host, URL", async () => {
            assert.equal(program.registryHost, "docker.registry.com:5000");
            assert.equal(program.registryUrl, "https://docker.registry.com:5000");
        });

        it("secret outputs are secret", async () => {
            assert.equal(await secret(program.password), true);
            assert.equal(await secret(program.dockerConfigJson), true);
            assert.equal(await secret(program.caCertificatePem), false);
            assert.equal(await secret(program.username), false);
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
            const ctr = props("docker:index/container:Container");
            assert.equal(await secret(ctr.envs), true, "container env (holds the http secret)");
            const uploads = ctr.uploads as { file: string; content: pulumi.Input<string> }[];
            assert.equal(await secret(uploads.find((u) => u.file === "/certs/registry.key")!.content), true);
            assert.equal(await secret(uploads.find((u) => u.file === "/auth/htpasswd")!.content), true);
            assert.equal(await secret(uploads.find((u) => u.file === "/certs/registry.crt")!.content), false);
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
                const cfg = JSON.parse(await valueOf<string>(program.dockerConfigJson));
                assert.equal(Buffer.from(cfg.auths["docker.registry.com:5000"].auth, "base64").toString(), "admin:docker123-not-for-prod");
                assert.equal(await valueOf(program.password), "docker123-not-for-prod");
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
                assert.equal(await valueOf(program.password), "docker123-not-for-prod");
            });
        }
    });
}
