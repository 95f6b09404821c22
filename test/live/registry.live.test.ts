// The live suite on the real engine: `pulumi preview` and `pulumi up` of the program (the real CLI, its
// Node.js language host and the provider plugins), against the suite's own dockerd, SSH nodes and
// containerd; then the outcome is checked from outside with real clients (node's TLS stack, skopeo,
// ctr, the CRI). The sections that follow (nodes, lifecycle) go on with the same stack, in order.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { isIpv4 } from "../../components/config/config";
import { run } from "./cli";
import { configure, env, live, log, readOutputs, stack, state, work } from "./context";
import { accessChecks } from "./access.live";
import { consumerChecks } from "./consumer.live";
import { KUBECONFIG, kubernetesChecks, prepareCluster } from "./kubernetes.live";
import { lifecycleChecks } from "./lifecycle.live";
import { mirrorChecks } from "./mirror.live";
import { mirrorExpiryChecks } from "./mirrorExpiry.live";
import { nodeChecks } from "./nodes.live";
import { httpsGet, nodeExec, plainHttpGet, skopeo, snapshot } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
const { hostname, port, registry, user, minTls } = live;

before(async () => {
    if (!isIpv4(hostname)) {
        // the suite's private /etc/hosts, shared with its dockerd: the registry's name resolves to the host address
        fs.appendFileSync(path.join(env.liveDir, "hosts"), `${env.hostAddress} ${hostname}\n`);
    }
    // node d gets the system store: start it from a store as update-ca-certificates leaves it
    const r = await nodeExec(env, "d", "update-ca-certificates --fresh >/dev/null 2>&1");
    assert.equal(r.code, 0, r.stderr);
    for (const n of env.nodes) state.before.set(n.name, await snapshot(env, n.name));
    if (KUBECONFIG) await prepareCluster();
    await stack.init();
    await configure();
});

after(() => {
    log(`work dir ${work}`);
});

describe("live: preview and up of a new stack", () => {
    it("preview lists the creates and changes nothing", async () => {
        const p = await stack.preview();
        assert.equal(p.code, 0, p.stderr);
        const creates = [...p.ops.values()].filter((op) => op === "create").length;
        assert.ok(creates >= 15, `preview lists ${creates} creates`);
        for (const t of ["docker:index/container:Container", "command:remote:Command", "tls:index/locallySignedCert:LocallySignedCert"]) {
            assert.ok([...p.ops.keys()].some((u) => u.includes(`::${t}::`) || u.includes(`$${t}::`)), `preview has a ${t}`);
        }
        assert.equal((await run("docker", ["-H", env.dockerHost, "ps", "-aq", "--filter", `name=${live.config.containerName}`])).stdout.trim(), "");
    });

    it("up creates everything without an error", async () => {
        const t = Date.now();
        const up = await stack.up();
        log(`first up: ${Date.now() - t} ms`);
        assert.equal(up.code, 0, `${up.errors.map((e) => e.message).join("\n")}\n${up.stderr.slice(-3000)}`);
        assert.deepEqual(up.errors, []);
        state.first = up;
        await readOutputs();
    });
});

describe("live: the registry the program declares", () => {
    it("outputs: address, URL, secrets marked secret, expiry in the future", () => {
        const o = state.outputs;
        assert.equal(o.registryHost, registry);
        assert.equal(o.registryUrl, `https://${registry}`);
        assert.deepEqual([...state.secretOutputs].sort(), ["dockerConfigJson", "password", "pushDockerConfigJson", "pushPassword"]);
        assert.ok(Date.parse(o.certificateExpiry) > Date.now() + 24 * 3600_000);
        // dockerConfigJson: the pull login; the push login apart (the same one with access.pullOnly false)
        const auth = JSON.parse(o.dockerConfigJson).auths[registry];
        assert.equal(Buffer.from(auth.auth, "base64").toString(), `${o.username}:${o.password}`);
        const push = JSON.parse(o.pushDockerConfigJson).auths[registry];
        assert.equal(Buffer.from(push.auth, "base64").toString(), `${user}:${state.password}`);
        assert.equal(o.pushUsername, user);
        if (live.pullOnly) {
            assert.equal(o.username, live.config.access.pullUsername ?? "pull");
            assert.notEqual(o.password, o.pushPassword);
        } else {
            assert.equal(o.dockerConfigJson, o.pushDockerConfigJson);
        }
    });

    it("TLS: verifies with the CA, for every SAN, and the leaf is not the CA", async () => {
        for (const host of ["127.0.0.1", env.hostAddress]) {
            const r = await httpsGet({ host, port, servername: hostname, ca: state.caPem });
            assert.equal(r.status, 401);
            assert.ok(r.cert?.subjectaltname?.includes(isIpv4(hostname) ? `IP Address:${hostname}` : `DNS:${hostname}`), r.cert?.subjectaltname);
            assert.equal((r.cert as any).ca, false);
        }
        for (const name of live.config.dnsNames ?? []) {
            assert.equal((await httpsGet({ host: env.hostAddress, port, servername: name, ca: state.caPem })).status, 401, name);
        }
    });

    it("TLS: fails without the CA, and for a name not in the SANs", async () => {
        await assert.rejects(httpsGet({ host: env.hostAddress, port, servername: hostname }), /self[- ]signed|unable to (get|verify)/i);
        await assert.rejects(httpsGet({ host: env.hostAddress, port, servername: "not-in-the-sans.example", ca: state.caPem }),
            (e: any) => e.code === "ERR_TLS_CERT_ALTNAME_INVALID");
    });

    it("TLS: answers only over TLS; the debug listener is not published", async () => {
        const r = await plainHttpGet(env.hostAddress, port);
        assert.equal(r.status, 400);
        // the registry's words, or its front's
        assert.match(r.body, live.pullOnly ? /plain HTTP request was sent to HTTPS port/ : /HTTP request to an HTTPS server/);
        // the debug listener (5001 in the container) is published nowhere: 5000 is the only published port
        // (an image may declare others, e.g. nginx's 80, which stay unpublished)
        const ports = await run("docker", ["-H", env.dockerHost, "inspect", "--format", "{{json .NetworkSettings.Ports}}", live.config.containerName]);
        const published = Object.entries(JSON.parse(ports.stdout)).filter(([, bindings]) => bindings !== null).map(([p]) => p);
        assert.deepEqual(published, ["5000/tcp"], ports.stdout);
    });

    it(`TLS: the minimum version (${minTls}) holds`, async () => {
        const below = minTls === "tls1.3" ? "TLSv1.2" : "TLSv1.1";
        await assert.rejects(httpsGet({ host: env.hostAddress, port, servername: hostname, ca: state.caPem, minVersion: "TLSv1", maxVersion: below, ciphers: "DEFAULT@SECLEVEL=0" }),
            (e: any) => /protocol version|unsupported protocol|no protocols available|wrong version/i.test(`${e.code} ${e.message}`));
        const at = minTls === "tls1.3" ? "TLSv1.3" : "TLSv1.2";
        assert.equal((await httpsGet({ host: env.hostAddress, port, servername: hostname, ca: state.caPem, minVersion: at, maxVersion: at })).status, 401);
    });

    it("auth: 401 without credentials, with a wrong password and a wrong user; 200 with the right ones", async () => {
        const get = (auth?: string) => httpsGet({ host: env.hostAddress, port, servername: hostname, ca: state.caPem, auth });
        assert.equal((await get()).status, 401);
        assert.equal((await get(`${user}:${state.password}x`)).status, 401);
        assert.equal((await get(`nobody:${state.password}`)).status, 401);
        assert.equal((await get(`${user}:${state.password}`)).status, 200);
        assert.ok(state.password.length >= 8);
    });

    it("push and pull round trip by digest with skopeo, authenticated by the dockerConfigJson output", async () => {
        const { client } = state;
        const oci = path.join(work, "oci");
        let r = await skopeo(["copy", "--src-daemon-host", env.dockerHost, `docker-daemon:${env.testImage}`, `oci:${oci}:app`], env);
        assert.equal(r.code, 0, r.stderr);
        const digestFile = path.join(work, "pushed.digest");
        r = await skopeo(["copy", "--digestfile", digestFile, "--dest-cert-dir", client.certDir, "--authfile", client.authfile, `oci:${oci}:app`, `docker://${registry}/test/app:1`], env);
        assert.equal(r.code, 0, r.stderr);
        state.pushedDigest = fs.readFileSync(digestFile, "utf8").trim();
        r = await skopeo(["copy", "--src-cert-dir", client.certDir, "--authfile", client.authfile, `docker://${registry}/test/app@${state.pushedDigest}`, `oci:${path.join(work, "oci-pulled")}:app`], env);
        assert.equal(r.code, 0, r.stderr);
        const pulled = JSON.parse(fs.readFileSync(path.join(work, "oci-pulled", "index.json"), "utf8")).manifests[0].digest;
        assert.equal(pulled, state.pushedDigest);
        r = await skopeo(["inspect", "--cert-dir", client.certDir, "--no-creds", `docker://${registry}/test/app:1`], env);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /unauthorized|authentication required/i);
    });

    it("service images built and pushed by the program are pullable by their output refs", async () => {
        const services: any[] = live.config.services ?? [];
        assert.deepEqual(Object.keys(state.outputs.images).sort(), services.map((s) => s.name).sort());
        for (const [name, ref] of Object.entries<string>(state.outputs.images)) {
            assert.match(ref, new RegExp(`^${registry.replace(/\./g, "\\.")}/${name}@sha256:[0-9a-f]{64}$`));
            const r = await skopeo(["inspect", "--cert-dir", state.client.certDir, "--authfile", state.client.authfile, "--format", "{{.Digest}}", `docker://${ref}`], env);
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout.trim(), ref.split("@")[1]);
        }
    });

    it("data lives on the volume (or host path) the stack names", async () => {
        const mount = live.config.dataHostPath ?? live.config.dataVolume;
        const r = await run("docker", ["-H", env.dockerHost, "run", "--rm", "-v", `${mount}:/data`, "--entrypoint", "/bin/busybox", env.registryImage,
            "find", "/data/docker/registry/v2/repositories", "-maxdepth", "1"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /repositories\/test/);
    });
});

// the sections that go on with the same stack, in this order
nodeChecks();
accessChecks();
mirrorChecks();
mirrorExpiryChecks();
consumerChecks();
if (KUBECONFIG) kubernetesChecks();
lifecycleChecks();
