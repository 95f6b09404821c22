// Maintenance in cluster mode, on the S3 store: the runner Deployment serves the window to the writers
// of 2 registry pods; the same fixture as maintenance.live.test.ts. Nothing lost (every kept image pulls
// whole by digest; the expired images' unique blobs are gone from the bucket and the bytes freed match),
// a pull loop through the node port with 0 failures while pushes get 503, and a push after GC of a layer
// GC removed uploads it again.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { Stack } from "./cli";
import { CLUSTER_HOST, clusterInfo, clusterStack, kubectl, kubectlOk, mapClusterHost, stackClient } from "./clusterSupport";
import { assertTraffic, Client, expected, fixture, Fixture, maintenance, pullAll, push, pushFixture, trafficDuring } from "./maintenanceSupport";
import { clientFiles, httpsGet, loadEnv } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
const env = loadEnv();
const { cluster, s3 } = clusterInfo();
const work = fs.mkdtempSync(path.join(env.liveDir, "cluster-maintenance-"));
const NS = "registry-maint";
const NAME = "registry-maint";
const PORT = 30530;
const HOST = `${CLUSTER_HOST}:${PORT}`;
const stack = new Stack(work, "cluster-maint");
const cfg = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS, replicas: 2, extra: {
    access: { frontImage: env.frontImage },
    maintenance: { nodeImage: env.nodeImage, untaggedGraceHours: 0, retention: [{ repositories: ["ret/**"], keepLast: 1, keepTags: ["^keep-"] }] },
} });
let out: Record<string, any>;
let c: { push: Client; pull: Client };
let f: Fixture;
let store: any;
let s3mod: typeof import("../../components/maintenance/runner/s3.mjs");
const api = (p: string, method = "GET", login: "pull" | "push" = "pull") => httpsGet({ host: cluster.nodeIp, port: PORT, servername: CLUSTER_HOST, ca: out.caCertificatePem, path: p, method,
    auth: login === "pull" ? `${out.username}:${out.password}` : `${out.pushUsername}:${out.pushPassword}`,
    headers: { host: HOST, Accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json" } });
/** Whether the bucket still holds a blob's data. */
const stored = async (digest: string) => {
    const key = s3mod.keyOf(store, `/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`);
    return (await s3mod.list(store, key)).some((o) => o.key === key);
};
before(async () => {
    mapClusterHost(env, cluster.nodeIp);
    s3mod = await import("../../components/maintenance/runner/s3.mjs");
    store = { ...s3mod.s3FromEnv({ REGISTRY_STORAGE: "s3", REGISTRY_STORAGE_S3_REGION: s3.region, REGISTRY_STORAGE_S3_REGIONENDPOINT: s3.endpoint,
        REGISTRY_STORAGE_S3_BUCKET: s3.bucket, REGISTRY_STORAGE_S3_ROOTDIRECTORY: `/${NAME}`, REGISTRY_STORAGE_S3_ACCESSKEY: s3.accessKey,
        REGISTRY_STORAGE_S3_SECRETKEY: s3.secretKey }), ca: s3.caPem };
    if ((await kubectl(["get", "namespace", NS])).code !== 0) await kubectlOk(["create", "namespace", NS]);
    await stack.init();
    await stack.configure(cfg.config, cfg.secrets);
    const o = await stack.up();
    assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
    out = (await stackClient(stack, work, "push")).out;
    c = { push: clientFiles(work, "push", out.pushDockerConfigJson, out.caCertificatePem), pull: clientFiles(work, "pull", out.dockerConfigJson, out.caCertificatePem) };
    f = fixture(work);
    await pushFixture(env, c.push, HOST, f, 1100);
});
after(async () => {
    await stack.destroy();
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("live: maintenance in cluster mode, on S3", () => {
    it("the runner runs beside the pods; every writer polls it", async () => {
        assert.deepEqual(out.maintenance, { namespace: NS, deployment: `${NAME}-maintenance` });
        const d = JSON.parse(await kubectlOk(["-n", NS, "get", "deployment", NAME, "-o", "json"]));
        const writer = d.spec.template.spec.containers.find((x: any) => x.name === "writer");
        assert.deepEqual(writer.command, ["/bin/sh", "/maint/supervise.sh"]);
        assert.match(writer.env.find((e: any) => e.name === "MAINT_URL").value, /^http:\/\/[0-9.]+:8080$/);
        const runner = JSON.parse(await kubectlOk(["-n", NS, "get", "deployment", `${NAME}-maintenance`, "-o", "json"]));
        assert.equal(runner.status.readyReplicas, 1, JSON.stringify(runner.status));
    });

    let report: any;
    it("a run with a pull loop through the node port: 0 pull failures, pushes answered 503 inside the window", async () => {
        const { result: r, traffic } = await trafficDuring(api, f, () => maintenance(stack, ["--force"]));
        report = r.report;
        fs.writeFileSync(path.join(work, "report.json"), JSON.stringify(report, null, 2));
        assert.equal(r.code, 0, `${JSON.stringify(report)}\n${r.stderr}`);
        assertTraffic(traffic);
        assert.equal((await api("/v2/ret/probe/blobs/uploads/", "POST", "push")).status, 202);
    });

    it("nothing lost: kept images pull whole by digest, expired ones are gone with their unique blobs; the bytes freed match", async () => {
        const { kept, gone, keptBlobs, unique } = expected(f);
        for (const [repo, m] of kept) assert.equal((await pullAll(env, c.pull, work, `${HOST}/${repo}@${m.digest}`)).code, 0, `${repo}@${m.digest}`);
        for (const [repo, m] of gone) assert.equal((await api(`/v2/${repo}/manifests/${m.digest}`)).status, 404, `${repo}@${m.digest}`);
        for (const d of unique.keys()) assert.equal(await stored(d), false, `${d} is still in the bucket`);
        for (const d of keptBlobs) assert.equal(await stored(d), true, `${d} was swept`);
        assert.equal(report.bytesFreed, [...unique.values()].reduce((a, b) => a + b, 0));
        assert.equal(report.blobsSwept, unique.size);
    });

    it("a push after GC of a layer GC removed uploads it again; the image then pulls", async () => {
        const layer = [...f.o.closure(f.t[2]).keys()].find((d) => !f.o.closure(f.t[3]).has(d) && d !== f.t[2].digest && (f.o.closure(f.t[2]).get(d) ?? 0) > 1000)!;
        assert.equal(await stored(layer), false);
        const r = await push(env, c.push, f.o.ref("t3-again", f.t[2]), `${HOST}/ret/app:t3-again`);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await stored(layer), true, "the layer was uploaded again");
        assert.equal((await pullAll(env, c.pull, work, `${HOST}/ret/app@${f.t[2].digest}`)).code, 0);
    });
});
