// Two logins (config `access`) in cluster mode, with Pulumi mocks: each pod runs an nginx front, a
// read-only reader and a writer on its loopback; and the nginx.conf itself (frontConfig), which routes by
// method and login file. The docker host's shape: access.test.ts.
import * as assert from "node:assert/strict";
import { before, beforeEach, describe, it } from "node:test";
import { htpasswdVerify } from "../../components/identity/auth";
import { FRONT_FILES, FRONT_HEALTH_PORT, frontConfig, FrontConfigOptions } from "../../components/registry/frontConfig";
import { byType, captureOptions, one, reset, settle, setupMocks, valueOf } from "./mocks";

let config: typeof import("../../components/config/config");
let reg: typeof import("../../components/PrivateRegistry");
const PUSH = "push-password-1";
const S3 = { bucket: "registry", endpoint: "https://10.213.0.1:7070", accessKey: "0123456789", secretKey: "s3-secret-value" };
const READER_MAINTENANCE = "{readonly: {enabled: true}, uploadpurging: {enabled: false}}";
const WRITER_MAINTENANCE = "{readonly: {enabled: false}, uploadpurging: {enabled: true, age: 168h, interval: 24h, dryrun: false}}";

before(async () => {
    await setupMocks(false);
    config = await import("../../components/config/config");
    reg = await import("../../components/PrivateRegistry");
});
beforeEach(reset);

type Container = { name: string; image: string; ports?: unknown[]; readinessProbe?: { httpGet: Record<string, unknown> }; livenessProbe?: unknown;
    env: { name: string; value?: string }[]; volumeMounts: { name: string; mountPath: string }[]; command?: string[] };

describe("access: cluster mode", () => {
    const deploy = async (pullPassword: string) => {
        reset();
        const s = config.parseSettings({ port: 30500, kubernetes: { context: "kind" }, password: PUSH, access: { pullPassword }, cluster: { s3: S3 } }, "dev");
        const r = new reg.PrivateRegistry("registry", { settings: config.withSecrets(s), id: "private-registry-dev" }, { transformations: [captureOptions] });
        await valueOf(r.cluster!.serviceName);
        await settle();
        return one("kubernetes:apps/v1:Deployment");
    };
    const env = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

    it("three containers: the front on the https port with the probes; the reader and the writer on loopback, unpublished", async () => {
        const d = await deploy("pull-password-1");
        assert.deepEqual(byType("docker:index/container:Container"), []);
        const pod = d.inputs.spec.template.spec;
        const containers = pod.containers as Container[];
        assert.deepEqual(containers.map((c) => c.name), ["front", "registry", "writer"]);
        const [front, reader, writer] = containers;
        assert.equal(front.image, "nginx:1.28.0-alpine");
        assert.deepEqual(front.command, ["nginx", "-c", FRONT_FILES.config]);
        assert.deepEqual(front.ports, [{ name: "https", containerPort: 5000 }]);
        assert.deepEqual(front.readinessProbe!.httpGet, { scheme: "HTTPS", path: "/", port: 5000 });
        assert.ok(front.livenessProbe);
        for (const c of [reader, writer]) {
            assert.equal(c.image, "registry:3.1.2");
            assert.equal(c.ports, undefined, `${c.name} has no port`);
            assert.equal(c.readinessProbe, undefined, `${c.name}: readiness goes through the front`);
        }
        assert.equal(env(reader).REGISTRY_HTTP_ADDR, "127.0.0.1:5002");
        assert.equal(env(reader).REGISTRY_STORAGE_MAINTENANCE, READER_MAINTENANCE);
        assert.equal(env(writer).REGISTRY_HTTP_ADDR, "127.0.0.1:5003");
        assert.equal(env(writer).REGISTRY_STORAGE_MAINTENANCE, WRITER_MAINTENANCE);
        // one loopback for the three: two debug listeners, and the front's health listener, apart
        const listeners = [env(reader).REGISTRY_HTTP_DEBUG_ADDR, env(writer).REGISTRY_HTTP_DEBUG_ADDR, `127.0.0.1:${FRONT_HEALTH_PORT}`, "127.0.0.1:5002", "127.0.0.1:5003"];
        assert.equal(new Set(listeners).size, listeners.length, listeners.join(" "));
        // each registry reads its own login file at /auth/htpasswd; the front reads both
        const mount = (c: Container, path: string) => c.volumeMounts.find((m) => m.mountPath === path)?.name;
        assert.equal(mount(reader, "/auth"), "auth");
        assert.equal(mount(writer, "/auth"), "push-auth");
        assert.equal(mount(front, "/auth"), "front-auth");
        assert.equal(mount(front, "/etc/private-registry"), "front");
        const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
        assert.deepEqual(volume("auth").secret.items, [{ key: "htpasswd", path: "htpasswd" }]);
        assert.deepEqual(volume("push-auth").secret.items, [{ key: "push-htpasswd", path: "htpasswd" }]);
        assert.deepEqual(volume("front-auth").secret.items, [{ key: "htpasswd", path: "pull.htpasswd" }, { key: "push-htpasswd", path: "push.htpasswd" }]);
        const text = JSON.stringify(d.inputs);
        for (const s of [PUSH, "pull-password-1", S3.secretKey, "PRIVATE KEY"]) assert.ok(!text.includes(s), `${s} is not in the Deployment`);
    });

    it("the ConfigMap holds the front's nginx.conf; the Secret the pull and push lines, and the push line apart", async () => {
        const d = await deploy("pull-password-1");
        const cm = one("kubernetes:core/v1:ConfigMap");
        assert.equal(cm.inputs.metadata.name, "registry-dev-front");
        assert.equal(d.inputs.spec.template.spec.volumes.find((v: { name: string }) => v.name === "front").configMap.name, "registry-dev-front");
        const conf = cm.inputs.data["nginx.conf"] as string;
        assert.match(conf, /^ {4}upstream reader \{ server 127\.0\.0\.1:5002; /m);
        assert.match(conf, /^ {4}upstream writer \{ server 127\.0\.0\.1:5003; /m);
        assert.match(conf, /^ {8}listen 5000 ssl;$/m);
        assert.match(conf, /^ {8}ssl_certificate \/certs\/tls\.crt;$/m);
        assert.match(conf, /^ {8}ssl_certificate_key \/certs\/tls\.key;$/m);
        const secret = byType("kubernetes:core/v1:Secret").find((x) => x.inputs.type === "Opaque")!;
        const all = (secret.inputs.stringData.htpasswd as string).trim().split("\n");
        assert.deepEqual(all.map((l) => l.split(":")[0]), ["pull", "admin"]);
        assert.ok(htpasswdVerify(all[0], "pull", "pull-password-1"));
        assert.ok(htpasswdVerify(all[1], "admin", PUSH));
        const push = (secret.inputs.stringData["push-htpasswd"] as string).trim().split("\n");
        assert.equal(push.length, 1);
        assert.ok(htpasswdVerify(push[0], "admin", PUSH));
    });

    it("a new pull password rolls the pods: the config hash changes", async () => {
        const hash = async (pw: string) => (await deploy(pw)).inputs.spec.template.metadata.annotations["private-registry.io/config-hash"];
        const a = await hash("pull-password-1");
        assert.match(a, /^[0-9a-f]{64}$/);
        assert.notEqual(await hash("pull-password-2"), a);
        assert.equal(await hash("pull-password-1"), a);
    });
});

describe("frontConfig: the nginx.conf", () => {
    const opts: FrontConfigOptions = { port: 5000, reader: "r:5000", writer: "w:5000", certFile: "/c.crt", keyFile: "/c.key", minTlsVersion: "tls1.2" };
    /** `map $request_method $<name> { … }` as method → value. */
    const methodMap = (conf: string, name: string) => {
        const m = new RegExp(`^ *map \\$request_method \\$${name} \\{ (.*) \\}$`, "m").exec(conf);
        assert.ok(m, `no map for $${name}`);
        return Object.fromEntries(m[1].split(";").map((e) => e.trim()).filter(Boolean).map((e) => e.split(/\s+/)));
    };
    /** The text of the location block that opens with `head`. */
    const location = (conf: string, head: string) => {
        const start = conf.indexOf(`        location ${head} {\n`);
        assert.ok(start >= 0, `no location ${head}`);
        return conf.slice(start, conf.indexOf("\n        }", start));
    };

    it("reads (GET, HEAD) take the pull file and the reader; anything else the push file and the writer", () => {
        const conf = frontConfig(opts);
        assert.deepEqual(methodMap(conf, "registry_users"), { GET: FRONT_FILES.pullUsers, HEAD: FRONT_FILES.pullUsers, default: FRONT_FILES.pushUsers });
        assert.deepEqual(methodMap(conf, "registry_backend"), { GET: "reader", HEAD: "reader", default: "writer" });
        assert.match(conf, /^ {4}upstream reader \{ server r:5000; /m);
        assert.match(conf, /^ {4}upstream writer \{ server w:5000; /m);
        const v2 = location(conf, "/v2/");
        assert.match(v2, /auth_basic_user_file \$registry_users;/);
        assert.match(v2, /proxy_pass https:\/\/\$registry_backend;/);
    });

    it("an upload is the writer's with the push file, whatever the method", () => {
        const upload = location(frontConfig(opts), "~ ^/v2/.+/blobs/uploads/");
        assert.match(upload, new RegExp(`auth_basic_user_file ${FRONT_FILES.pushUsers};`));
        assert.match(upload, /proxy_pass https:\/\/writer;/);
        assert.doesNotMatch(upload, /pull\.htpasswd|reader/);
    });

    it("TLS follows minTlsVersion; the body size is unlimited; the generation marks the text", () => {
        assert.match(frontConfig(opts), /^ {8}ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
        const v13 = frontConfig({ ...opts, minTlsVersion: "tls1.3" });
        assert.match(v13, /^ {8}ssl_protocols TLSv1\.3;$/m);
        // to the registries too: they refuse below the minimum, and nginx 1.22's upstream default stops at TLS 1.2
        assert.match(frontConfig(opts), /^ {4}proxy_ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
        assert.match(v13, /^ {4}proxy_ssl_protocols TLSv1\.3;$/m);
        assert.doesNotMatch(v13, /TLSv1\.2/);
        assert.match(v13, /^ {8}client_max_body_size 0;$/m);
        assert.match(v13, /^ {8}ssl_certificate \/c\.crt;$/m);
        assert.notEqual(frontConfig({ ...opts, generation: "a" }), frontConfig({ ...opts, generation: "b" }));
    });
});
