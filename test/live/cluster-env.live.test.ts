// The suite's cluster (test/live/env/k8s-up.sh) runs workloads as a user's cluster does: a Deployment of
// two replicas of the suite's registry:3 image (imported into the node, nothing is pulled) behind a
// NodePort Service; the host reaches the NodePort on the node IP, the ClusterIP and each pod by its IP
// (cluster.json); a PodDisruptionBudget turns the second of two quick evictions away; a Job completes.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { run } from "./cli";
import { loadEnv } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
const KUBECONFIG = process.env.LIVE_KUBECONFIG ?? "";
const K8S_DIR = process.env.K8S_DIR ?? "/tmp/pr-k8s";
const NS = "cluster-env";
const APP = "reg";
const skip = !KUBECONFIG && process.env.CI !== "true" ? "no LIVE_KUBECONFIG" : false;

interface ClusterJson { nodeName: string; nodeIp: string; podCidr: string; serviceCidr: string; apiServer: string; images: string[] }
let cluster: ClusterJson;

const kubectl = (args: string[], input?: string) => run("kubectl", ["--kubeconfig", KUBECONFIG, "-n", NS, ...args], { input });
async function kubectlOk(args: string[], input?: string): Promise<string> {
    const r = await kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
}
const json = async (args: string[]): Promise<any> => JSON.parse(await kubectlOk([...args, "-o", "json"]));

/** Polls `get` until `ok` holds for what it returns; fails with the last value after `seconds`. */
async function until<T>(what: string, seconds: number, get: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
    let v = await get();
    for (const end = Date.now() + seconds * 1000; !ok(v); v = await get()) {
        if (Date.now() > end) assert.fail(`${what} within ${seconds} s; last: ${JSON.stringify(v).slice(0, 2000)}`);
        await new Promise((r) => setTimeout(r, 300));
    }
    return v;
}

/** The HTTP status of a plain GET from the host (000: no connection). */
async function status(url: string): Promise<string> {
    return (await run("curl", ["-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", url])).stdout;
}

/** IPv4 `ip` lies in `cidr`. */
function inCidr(ip: string, cidr: string): boolean {
    const n = (a: string) => a.split(".").reduce((x, o) => x * 256 + Number(o), 0);
    const [base, bits] = cidr.split("/");
    const size = 2 ** (32 - Number(bits));
    return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

const readyPods = async (): Promise<any[]> => (await json(["get", "pods", "-l", `app=${APP}`])).items.filter((p: any) =>
    !p.metadata.deletionTimestamp && (p.status.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"));

/** POST pods/<name>/eviction with the admin certificate (Debian's kubectl 1.20 has no eviction command). */
async function evict(pod: string): Promise<{ code: string; body: string }> {
    const pki = (f: string) => path.join(K8S_DIR, "pki", f);
    const r = await run("curl", ["-s", "-m", "10", "-w", "\n%{http_code}", "--cacert", pki("ca.crt"), "--cert", pki("admin.crt"), "--key", pki("admin.key"),
        "-H", "Content-Type: application/json", "--data-binary", "@-", `${cluster.apiServer}/api/v1/namespaces/${NS}/pods/${pod}/eviction`],
    { input: JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace: NS } }) });
    const lines = r.stdout.trimEnd().split("\n");
    return { code: lines.pop() ?? "", body: lines.join("\n") };
}

describe("live: the suite's cluster runs Deployments, Services, PodDisruptionBudgets and Jobs", { skip }, () => {
    const env = loadEnv();
    let nodePort = 0;

    before(async () => {
        assert.ok(KUBECONFIG, "LIVE_KUBECONFIG names the suite's cluster");
        cluster = JSON.parse(fs.readFileSync(path.join(K8S_DIR, "cluster.json"), "utf8"));
        for (const k of ["nodeName", "nodeIp", "podCidr", "serviceCidr", "apiServer"] as const) assert.ok(cluster[k], `cluster.json has ${k}`);
        assert.ok(cluster.images.includes(env.registryImages["3"]), `the node has the suite's registry:3 image: ${cluster.images.join(", ")}`);
        await run("kubectl", ["--kubeconfig", KUBECONFIG, "delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=60s"]);
        await kubectlOk(["create", "namespace", NS]);
        await until("the namespace's default ServiceAccount", 30, () => kubectl(["get", "serviceaccount", "default"]), (r) => r.code === 0);
        const labels = { app: APP };
        await kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: [
            { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: APP, namespace: NS }, spec: {
                replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: {
                    automountServiceAccountToken: false, terminationGracePeriodSeconds: 1,
                    containers: [{ name: "registry", image: env.registryImages["3"], imagePullPolicy: "IfNotPresent", ports: [{ containerPort: 5000 }],
                        readinessProbe: { httpGet: { path: "/", port: 5000 }, periodSeconds: 1 } }],
                } },
            } },
            { apiVersion: "v1", kind: "Service", metadata: { name: APP, namespace: NS }, spec: { type: "NodePort", selector: labels, ports: [{ port: 5000, targetPort: 5000 }] } },
            { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: APP, namespace: NS }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
        ] }));
    });

    after(async () => {
        await run("kubectl", ["--kubeconfig", KUBECONFIG, "delete", "namespace", NS, "--wait=false"]);
    });

    it("both replicas become Ready from the imported image, each with an IP of the pod CIDR", async () => {
        const pods = await until("2 Ready replicas", 90, readyPods, (p) => p.length === 2);
        for (const p of pods) assert.ok(inCidr(p.status.podIP, cluster.podCidr), `${p.status.podIP} in ${cluster.podCidr}`);
        assert.equal(pods[0].spec.nodeName, cluster.nodeName);
        const ep = await until("the Service's v1 Endpoints list both pods", 30, () => json(["get", "endpoints", APP]),
            (e) => (e.subsets?.[0]?.addresses ?? []).length === 2);
        assert.deepEqual(ep.subsets[0].addresses.map((a: any) => a.ip).sort(), pods.map((p) => p.status.podIP).sort());
    });

    it("the NodePort answers from the host on the node IP, the ClusterIP too", async () => {
        const svc = await json(["get", "service", APP]);
        nodePort = svc.spec.ports[0].nodePort;
        assert.ok(nodePort >= 30000 && nodePort <= 32767, String(nodePort));
        assert.ok(inCidr(svc.spec.clusterIP, cluster.serviceCidr), `${svc.spec.clusterIP} in ${cluster.serviceCidr}`);
        await until(`http://${cluster.nodeIp}:${nodePort}/v2/ answers 200`, 20, () => status(`http://${cluster.nodeIp}:${nodePort}/v2/`), (s) => s === "200");
        assert.equal(await status(`http://${svc.spec.clusterIP}:5000/v2/`), "200");
    });

    it("each pod answers by its pod IP from the host", async () => {
        for (const p of await readyPods()) assert.equal(await status(`http://${p.status.podIP}:5000/v2/`), "200", p.metadata.name);
    });

    it("PodDisruptionBudget maxUnavailable 1: the first eviction is granted, the second right after it answers 429", async () => {
        await until("the budget allows one disruption", 30, () => json(["get", "poddisruptionbudget", APP]), (b) => b.status?.disruptionsAllowed === 1);
        const [a, b] = (await readyPods()).map((p) => p.metadata.name);
        const first = await evict(a);
        assert.equal(first.code, "201", first.body);
        const second = await evict(b);
        assert.equal(second.code, "429", second.body);
        assert.match(second.body, /disruption budget/i);
        // the replacement comes up and the Service serves on, once kube-proxy has dropped the evicted pod's endpoint
        await until("2 Ready replicas again", 60, readyPods, (p) => p.length === 2 && !p.some((x) => x.metadata.name === a));
        await until("the NodePort answers 200 again", 30, () => status(`http://${cluster.nodeIp}:${nodePort}/v2/`), (s) => s === "200");
    });

    it("a Job runs to completion", async () => {
        await kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "batch/v1", kind: "Job", metadata: { name: "once", namespace: NS }, spec: {
            backoffLimit: 0, template: { spec: { restartPolicy: "Never", automountServiceAccountToken: false, terminationGracePeriodSeconds: 1,
                containers: [{ name: "once", image: env.testImage, imagePullPolicy: "IfNotPresent", command: ["/bin/busybox", "echo", "job done"] }] } },
        } }));
        const job = await until("the Job completes", 60, () => json(["get", "job", "once"]), (j) => j.status?.succeeded === 1 || j.status?.failed > 0);
        assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
        assert.ok((job.status.conditions ?? []).some((c: any) => c.type === "Complete" && c.status === "True"), JSON.stringify(job.status));
        assert.equal((await kubectlOk(["logs", "job/once"])).trim(), "job done");
    });
});
