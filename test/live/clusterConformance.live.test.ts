// The OCI distribution-spec conformance suite, side by side in one run: a single-host registry on its
// volume, cluster mode through the node port, and cluster mode with every request on a random replica
// (each response closes its connection). All three must give the same result per test case. The negative
// control: the same pods with two different HTTP secrets fail it, so the spread run can see whether the
// replicas share their upload state.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { Stack } from "./cli";
import { CLUSTER_HOST, clusterInfo, clusterStack, kubectl, kubectlOk, mapClusterHost, registryPods, stackClient } from "./clusterSupport";
import { conformance, ConformanceResult, KNOWN_GAPS } from "./conformance";
import { loadEnv } from "./support";

const env = loadEnv();
const { cluster, s3 } = clusterInfo();
const work = fs.mkdtempSync(path.join(env.liveDir, "cluster-conformance-"));
const NS = "registry-conformance";
const SPREAD = { REGISTRY_HTTP_HEADERS_CONNECTION: "[close]", REGISTRY_HTTP_HTTP2_DISABLED: "true" };
const single = new Stack(work, "conformance-single");
const clustered = new Stack(work, "conformance-cluster");
const results: Record<string, ConformanceResult> = {};
const log = (s: string) => console.log(`# ${s}`);

async function run(label: string, stack: Stack): Promise<ConformanceResult> {
    const c = await stackClient(stack, work, label);
    const r = await conformance(work, label, { registry: c.out.registryHost, username: "admin", password: c.out.pushPassword, caFile: path.join(c.certDir, "ca.crt") });
    log(`conformance ${label}: ${r.seconds} s, ${JSON.stringify(r.counts)}`);
    results[label] = r;
    return r;
}
/** Test cases whose outcome differs from the single-host run. */
const differs = (r: ConformanceResult) => [...results.single.cases].filter(([n, ok]) => r.cases.get(n) !== ok).map(([n]) => n);
const requests = async (pod: string) => ((await kubectl(["-n", NS, "logs", pod, "-c", "registry"])).stdout.match(/response completed/g) ?? []).length;

before(async () => {
    mapClusterHost(env, cluster.nodeIp);
    if ((await kubectl(["get", "namespace", NS])).code !== 0) await kubectlOk(["create", "namespace", NS]);
});
after(async () => {
    await kubectl(["-n", NS, "delete", "deployment,service", "-l", "private-registry.test/negative-control=true"]);
    await single.destroy();
    await clustered.destroy();
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("live: OCI conformance, single host and cluster mode side by side", () => {
    it("single host: fails only where distribution 3.1.2 has no support", async () => {
        await single.init();
        await single.configure({ hostname: "conformance.registry.test", dnsNames: [], ipAddresses: [env.hostAddress], port: 5730,
            bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImages["3"], containerName: "conformance-single" });
        fs.appendFileSync(path.join(env.liveDir, "hosts"), `${env.hostAddress} conformance.registry.test\n`);
        const o = await single.up();
        assert.equal(o.code, 0, o.stderr.slice(-3000));
        const r = await run("single", single);
        assert.deepEqual(r.failed.filter((n) => !KNOWN_GAPS.test(n)), []);
        assert.ok((r.counts.Pass ?? 0) >= 400, JSON.stringify(r.counts));
    });

    it("cluster mode through the node port: the same result per test case", async () => {
        // the replicas themselves, without the front: the spread run below needs each response to close the
        // client's connection (the registry's Connection: close), which a front would keep open
        const cfg = clusterStack(env, s3, { name: "registry-conformance", port: 30510, namespace: NS, extra: { access: { pullOnly: false } } });
        await clustered.init();
        await clustered.configure(cfg.config, cfg.secrets);
        const o = await clustered.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        assert.deepEqual(differs(await run("cluster", clustered)), []);
    });

    it("every request on a random replica: the same result, and both replicas served", async () => {
        const cfg = clusterStack(env, s3, { name: "registry-conformance", port: 30510, namespace: NS, cluster: { extraEnv: SPREAD }, extra: { access: { pullOnly: false } } });
        await clustered.configure(cfg.config, cfg.secrets);
        const o = await clustered.up();
        assert.equal(o.code, 0, o.stderr.slice(-3000));
        const pods = (await registryPods(NS, "registry-conformance")).filter((p) => !p.deleting);
        assert.equal(pods.length, 2);
        const before = await Promise.all(pods.map((p) => requests(p.name)));
        assert.deepEqual(differs(await run("spread", clustered)), []);
        const served = (await Promise.all(pods.map((p) => requests(p.name)))).map((n, i) => n - before[i]);
        log(`requests per replica: ${served.join(", ")}`);
        for (const n of served) assert.ok(n >= 0.25 * served.reduce((a, b) => a + b, 0), `each replica served at least a quarter: ${served.join(", ")}`);
    });

    it("negative control: the same pods with two different HTTP secrets fail it", async () => {
        const d = JSON.parse(await kubectlOk(["-n", NS, "get", "deployment", "registry-conformance", "-o", "json"]));
        const label = { "private-registry.test/negative-control": "true" };
        for (const [i, secret] of ["secret-of-replica-a-0000000000000", "secret-of-replica-b-1111111111111"].entries()) {
            const tpl = JSON.parse(JSON.stringify(d.spec.template));
            tpl.metadata.labels = { ...label, app: `negative-${i}`, pair: "negative" };
            // every registry of the pod (with two logins: the reader and the writer; the front has no secret)
            for (const c of tpl.spec.containers) {
                // eslint-disable-next-line @typescript-eslint/no-explicit-any
                if (c.env) c.env = c.env.map((e: any) => (e.name === "REGISTRY_HTTP_SECRET" ? { name: e.name, value: secret } : e));
            }
            await kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment",
                metadata: { name: `negative-${i}`, namespace: NS, labels: label },
                spec: { replicas: 1, selector: { matchLabels: { app: `negative-${i}` } }, template: tpl } }));
        }
        await kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "negative", namespace: NS, labels: label },
            spec: { type: "NodePort", selector: { pair: "negative" }, ports: [{ port: 5000, targetPort: 5000, nodePort: 30511 }] } }));
        await kubectlOk(["-n", NS, "rollout", "status", "deployment/negative-0", "--timeout=120s"]);
        await kubectlOk(["-n", NS, "rollout", "status", "deployment/negative-1", "--timeout=120s"]);
        const c = await stackClient(clustered, work, "negative");
        const r = await conformance(work, "negative", { registry: `${CLUSTER_HOST}:30511`, username: "admin", password: c.out.pushPassword, caFile: path.join(c.certDir, "ca.crt") });
        log(`conformance negative control: ${JSON.stringify(r.counts)}`);
        const extra = r.failed.filter((n) => !KNOWN_GAPS.test(n));
        assert.ok(extra.length > 0, "with different HTTP secrets uploads that move between replicas fail");
    });
});
