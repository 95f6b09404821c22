// Cluster mode when things go wrong: a pod deleted in the middle of a large push, a rotation of the leaf and
// the password under a pull loop, a store that is wrong (new stack: refused naming the key; existing stack:
// the old pods keep serving), and a rollout whose pods never turn ready.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { run, Stack } from "./cli";
import { CLUSTER_HOST, clusterInfo, clusterStack, inspect, kubectl, kubectlOk, mapClusterHost, push, registryPods, stackClient, waitPods } from "./clusterSupport";
import { loadEnv } from "./support";

const env = loadEnv();
const { cluster, s3 } = clusterInfo();
const work = fs.mkdtempSync(path.join(env.liveDir, "cluster-failures-"));
const NS = "registry-failures";
const NAME = "registry-failures";
const PORT = 30520;
const stack = new Stack(work, "cluster-failures");
const stacks = [stack];
const BIG_IMAGE = "localhost/lt-big:1";
const log = (s: string) => console.log(`# ${s}`);
let client: Awaited<ReturnType<typeof stackClient>>;
const pushed: string[] = [];

/** One manifest GET by digest with a login; the status (0 for a connection or TLS error). With `agent`, on its connection. */
function pull(ca: string, password: string, digest: string, agent: https.Agent | false = false): Promise<number> {
    return new Promise((resolve) => {
        const req = https.request({ host: cluster.nodeIp, port: PORT, servername: CLUSTER_HOST, ca, agent, timeout: 10_000,
            path: `/v2/failures/app/manifests/${digest}`, headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString("base64")}`,
                accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" } }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", () => resolve(0));
        req.on("timeout", () => req.destroy());
        req.end();
    });
}

before(async () => {
    mapClusterHost(env, cluster.nodeIp);
    if ((await kubectl(["get", "namespace", NS])).code !== 0) await kubectlOk(["create", "namespace", NS]);
    // a large image: one 96 MiB layer of random bytes
    const ctx = path.join(work, "big");
    fs.mkdirSync(ctx, { recursive: true });
    fs.writeFileSync(path.join(ctx, "blob"), (await import("crypto")).randomBytes(96 << 20));
    fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM scratch\nCOPY blob /blob\n");
    const b = await run("docker", ["-H", env.dockerHost, "build", "-q", "-t", BIG_IMAGE, ctx]);
    assert.equal(b.code, 0, b.stderr);
});
after(async () => {
    for (const s of stacks) await s.destroy();
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("live: cluster mode when things go wrong", () => {
    it("a pod deleted in the middle of a large push: the client's retry completes, earlier images still pull, the Deployment recovers", async () => {
        const cfg = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS });
        await stack.init();
        await stack.configure(cfg.config, { ...cfg.secrets, password: "failures-password-1" });
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        client = await stackClient(stack, work, "client");
        pushed.push(await push(env, client, `${CLUSTER_HOST}:${PORT}/failures/app:1`, work));
        const [victim] = await registryPods(NS, NAME);
        const big = push(env, client, `${CLUSTER_HOST}:${PORT}/failures/big:1`, work, BIG_IMAGE);
        await new Promise((r) => setTimeout(r, 1500));
        await kubectlOk(["-n", NS, "delete", "pod", victim.name, "--wait=false"]);
        pushed.push(await big);
        for (const d of pushed) assert.equal((await inspect(env, client, `${CLUSTER_HOST}:${PORT}/failures/${d === pushed[0] ? "app" : "big"}@${d}`)).digest, d);
        await waitPods(NS, NAME, (p) => p.filter((x) => x.ready && !x.deleting).length === 2, 120);
    });

    it("rotation under load: a pull loop while up renews the leaf and changes the password, 0 failed pulls; then the old password is refused", async () => {
        const annotation = async () => (await kubectlOk(["-n", NS, "get", "deployment", NAME, "-o", "jsonpath={.spec.template.metadata.annotations.private-registry\\.io/config-hash}"])).trim();
        const hashBefore = await annotation();
        const ca = client.out.caCertificatePem;
        const passwords = ["failures-password-1", "failures-password-2"];
        let running = true;
        const failures: string[] = [];
        let pulls = 0;
        // A client that holds both passwords during the change, as a node does whose pull secret the same up
        // updates: each pull on a new connection (so on any replica, old or new), the new password tried on
        // the same connection when the old one is refused. A pull fails when that pod accepts neither, or on
        // any connection, TLS or server error.
        const loop = (async () => {
            while (running) {
                const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
                let status = await pull(ca, passwords[0], pushed[0], agent);
                if (status === 401) status = await pull(ca, passwords[1], pushed[0], agent);
                agent.destroy();
                pulls++;
                if (status !== 200) failures.push(`${new Date().toISOString()} ${status}`);
            }
        })();
        const cfg = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS, extra: { tls: { rotation: 1 } } });
        await stack.configure(cfg.config, { ...cfg.secrets, password: passwords[1] });
        const o = await stack.up();
        await new Promise((r) => setTimeout(r, 3000));
        running = false;
        await loop;
        assert.equal(o.code, 0, o.stderr.slice(-3000));
        log(`rotation under load: ${pulls} pulls, ${failures.length} failed`);
        assert.ok(pulls > 20, `the loop ran (${pulls} pulls)`);
        assert.deepEqual(failures, []);
        assert.notEqual(await annotation(), hashBefore, "the pods rolled");
        for (let i = 0; i < 6; i++) assert.equal(await pull(ca, passwords[0], pushed[0]), 401, "the old password is refused");
        assert.equal(await pull(ca, passwords[1], pushed[0]), 200);
    });

    it("a wrong bucket or secret key: a new stack is refused at preview naming the key; on the existing one the old pods keep serving", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ bucket: "no-such-bucket" }, /private-registry:cluster\.s3\.bucket: there is no bucket "no-such-bucket"/],
            [{ secretKey: "wrong-secret-key" }, /private-registry:cluster\.s3\.secretKey: the store refused the signature/],
        ];
        for (const [i, [wrong, message]] of cases.entries()) {
            const fresh = new Stack(work, `cluster-wrong-${i}`);
            stacks.push(fresh);
            await fresh.init();
            const cfg = clusterStack(env, s3, { name: `registry-wrong-${i}`, port: 30521 + i, namespace: NS, s3: wrong });
            await fresh.configure(cfg.config, cfg.secrets);
            const t0 = Date.now();
            const o = await fresh.up();
            assert.notEqual(o.code, 0);
            assert.ok(Date.now() - t0 < 180_000, `failed within 3 minutes (${Date.now() - t0} ms)`);
            assert.match(o.stdout + o.stderr + JSON.stringify(o.errors), message);
            assert.equal((await kubectl(["-n", NS, "get", "deployment", `registry-wrong-${i}`])).code, 1, "nothing rolled out");
        }
        const before = (await registryPods(NS, NAME)).map((p) => p.uid).sort();
        const cfg = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS, extra: { tls: { rotation: 1 } }, s3: { secretKey: "wrong-secret-key" } });
        await stack.configure(cfg.config, { ...cfg.secrets, password: "failures-password-2" });
        const o = await stack.up();
        assert.notEqual(o.code, 0);
        assert.match(o.stdout + o.stderr + JSON.stringify(o.errors), /cluster\.s3\.secretKey/);
        assert.deepEqual((await registryPods(NS, NAME)).map((p) => p.uid).sort(), before, "the old pods serve on");
        assert.equal(await pull(client.out.caCertificatePem, "failures-password-2", pushed[0]), 200);
    });

    it("a rollout whose pods never turn ready fails the up in time, with the old pods still serving", async () => {
        const before = (await registryPods(NS, NAME)).map((p) => p.uid).sort();
        // an image that is no registry: its pods never pass readiness
        const cfg = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS, extra: { tls: { rotation: 1 } }, cluster: { image: env.testImage } });
        await stack.configure(cfg.config, { ...cfg.secrets, password: "failures-password-2" });
        const t0 = Date.now();
        const o = await stack.up();
        log(`a broken rollout failed the up after ${Date.now() - t0} ms`);
        assert.notEqual(o.code, 0);
        assert.ok(Date.now() - t0 < 240_000, `in time (${Date.now() - t0} ms)`);
        const pods = await registryPods(NS, NAME);
        assert.deepEqual(pods.filter((p) => p.ready).map((p) => p.uid).sort(), before, "the old pods are ready and serving");
        assert.equal(await pull(client.out.caCertificatePem, "failures-password-2", pushed[0]), 200);
        // fixed, the next up rolls forward
        const fixed = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS, extra: { tls: { rotation: 1 } } });
        await stack.configure(fixed.config, { ...fixed.secrets, password: "failures-password-2" });
        const again = await stack.up();
        assert.equal(again.code, 0, again.stderr.slice(-3000));
    });
});
