// Cluster mode on the suite's Kubernetes and S3 store: 2 replicas behind a NodePort, then what a cluster
// operator expects of them: an upload that moves between pods, a PodDisruptionBudget, a store outage that
// turns pods unready without restarts, secrets nowhere in clear, a kubelet pull with the pull secret, and
// a destroy that keeps the bucket's data.
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { changed, run, Stack } from "./cli";
import { CLUSTER_HOST, clusterInfo, clusterStack, inspect, kubectl, kubectlOk, mapClusterHost, push, registryPods, stackClient, waitPods } from "./clusterSupport";
import { leaks, loadEnv, sampleArgv, secretForms } from "./support";

const env = loadEnv();
const { cluster, s3 } = clusterInfo();
const work = fs.mkdtempSync(path.join(env.liveDir, "cluster-"));
const NS = "registry-live";
const NAME = "registry-live";
const PORT = 30500;
const stack = new Stack(work, "cluster");
const cfg = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS });
let client: Awaited<ReturnType<typeof stackClient>>;
let digest = "";

/** The store's process: how to start it again, and its data folder (the posix backend's, its last argument). */
async function storeProcess() {
    const pid = Number((await run("pgrep", ["-f", `versitygw.*${new URL(s3.endpoint).host}`])).stdout.trim().split("\n")[0]);
    assert.ok(pid > 0, "the store's process");
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const environ = Object.fromEntries(fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    return { pid, argv, environ, cwd: fs.readlinkSync(`/proc/${pid}/cwd`), dataDir: argv[argv.length - 1] };
}

/** One HTTP request to a pod by its IP, as a client of the registry's name would send it. */
function podRequest(ip: string, method: string, p: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const auth = Buffer.from(`admin:${client.out.pushPassword}`).toString("base64");
    return new Promise((resolve, reject) => {
        const req = https.request({ host: ip, port: 5000, method, path: p, servername: CLUSTER_HOST, ca: client.out.caCertificatePem, agent: false,
            headers: { authorization: `Basic ${auth}`, ...(body ? { "content-length": String(body.length), "content-type": "application/octet-stream" } : {}), ...headers } }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d) => chunks.push(d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body: Buffer.concat(chunks) }));
        });
        req.on("error", reject);
        req.end(body);
    });
}

before(async () => {
    mapClusterHost(env, cluster.nodeIp);
    if ((await kubectl(["get", "namespace", NS])).code !== 0) await kubectlOk(["create", "namespace", NS]);
});
after(async () => {
    await stack.destroy();
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("live: cluster mode (2 replicas on S3 behind a NodePort)", () => {
    it("up: both pods ready; preview, refresh and a second up change nothing; an image pushed through the node port", async () => {
        await stack.init();
        await stack.configure(cfg.config, cfg.secrets);
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        const pods = await registryPods(NS, NAME);
        assert.equal(pods.filter((p) => p.ready).length, 2, JSON.stringify(pods));
        client = await stackClient(stack, work, "client");
        assert.equal(client.out.registryHost, `${CLUSTER_HOST}:${PORT}`);
        assert.equal(client.out.clusterService, `${NS}/${NAME}`);
        const p = await stack.preview(["--expect-no-changes"]);
        assert.equal(p.code, 0, `preview: ${p.stderr.slice(-2000)}`);
        const r = await stack.refresh(["--expect-no-changes"]);
        assert.equal(r.code, 0, `refresh: ${r.stderr.slice(-2000)}`);
        const again = await stack.up();
        assert.equal(again.code, 0, again.stderr.slice(-2000));
        assert.deepEqual(changed(again), []);
        digest = await push(env, client, `${CLUSTER_HOST}:${PORT}/live/app:1`, work);
        assert.equal((await inspect(env, client, `${CLUSTER_HOST}:${PORT}/live/app@${digest}`)).digest, digest);
    });

    it("services: the docker host builds the service image and pushes it through the node port", async () => {
        // the docker host trusts the registry's CA the scoped way (certs.d), as README asks of it in cluster mode
        const certsDir = (JSON.parse(fs.readFileSync(path.join(env.liveDir, "env.json"), "utf8")) as { dockerCertsDir: string }).dockerCertsDir;
        fs.mkdirSync(path.join(certsDir, `${CLUSTER_HOST}:${PORT}`), { recursive: true });
        fs.writeFileSync(path.join(certsDir, `${CLUSTER_HOST}:${PORT}`, "ca.crt"), client.out.caCertificatePem);
        const services = [{ name: "data-service", context: path.join(__dirname, "fixtures", "data-service"), tag: "1.0" }];
        await stack.configure({ ...cfg.config, services }, cfg.secrets);
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        client = await stackClient(stack, work, "client-services");
        const ref = client.out.images["data-service"] as string;
        assert.match(ref, new RegExp(`^${CLUSTER_HOST.replace(/\./g, "\\.")}:${PORT}/data-service@sha256:[0-9a-f]{64}$`));
        assert.equal((await inspect(env, client, ref)).digest, ref.split("@")[1]);
    });

    it("an upload started on one pod and finished on the other, by pod IP", async () => {
        const [a, b] = await registryPods(NS, NAME);
        const data = [crypto.randomBytes(6 << 20), crypto.randomBytes(2 << 20)];
        const sha = `sha256:${crypto.createHash("sha256").update(Buffer.concat(data)).digest("hex")}`;
        const start = await podRequest(a.ip, "POST", "/v2/cross/pods/blobs/uploads/");
        assert.equal(start.status, 202, start.body.toString());
        let location = new URL(start.headers.location, `https://${CLUSTER_HOST}`);
        const hops = [b, a];
        for (const [i, chunk] of data.entries()) {
            const end = data.slice(0, i).reduce((n, d) => n + d.length, 0);
            const r = await podRequest(hops[i].ip, "PATCH", location.pathname + location.search, chunk, { "content-range": `${end}-${end + chunk.length - 1}` });
            assert.equal(r.status, 202, `PATCH ${i} on ${hops[i].name}: ${r.status} ${r.body}`);
            location = new URL(r.headers.location, `https://${CLUSTER_HOST}`);
        }
        location.searchParams.set("digest", sha);
        const put = await podRequest(b.ip, "PUT", location.pathname + location.search);
        assert.equal(put.status, 201, `PUT on ${b.name}: ${put.body}`);
        const got = await podRequest(a.ip, "GET", `/v2/cross/pods/blobs/${sha}`);
        assert.equal(got.status, 200);
        assert.equal(`sha256:${crypto.createHash("sha256").update(got.body).digest("hex")}`, sha);
    });

    it("evicting both pods: the PodDisruptionBudget refuses the second", async () => {
        const [a, b] = await registryPods(NS, NAME);
        const evict = (pod: string) => kubectl(["create", "--raw", `/api/v1/namespaces/${NS}/pods/${pod}/eviction`, "-f", "-"],
            JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace: NS } }));
        const first = await evict(a.name);
        assert.equal(first.code, 0, first.stderr);
        const second = await evict(b.name);
        assert.notEqual(second.code, 0, "the second eviction is refused");
        assert.match(second.stderr, /disruption budget|429|TooManyRequests/i);
        await waitPods(NS, NAME, (p) => p.filter((x) => x.ready && !x.deleting).length === 2, 120);
        assert.equal((await inspect(env, client, `${CLUSTER_HOST}:${PORT}/live/app@${digest}`)).digest, digest);
    });

    it("the store stopped: pods turn unready and are not restarted; started again: ready, the image pulls", async () => {
        const { pid, argv, environ, cwd, dataDir } = await storeProcess();
        // the pod an eviction replaced may still be terminating: it goes its own way
        await waitPods(NS, NAME, (p) => p.length === 2 && p.every((x) => x.ready), 120);
        const before = await registryPods(NS, NAME);
        process.kill(pid, "SIGTERM");
        try {
            await waitPods(NS, NAME, (p) => p.length === 2 && p.every((x) => !x.ready), 60);
            // unready for a while, and never restarted: liveness does not follow the store
            await new Promise((r) => setTimeout(r, 20_000));
            const during = await registryPods(NS, NAME);
            assert.deepEqual(during.map((p) => [p.uid, p.restarts]), before.map((p) => [p.uid, p.restarts]));
        } finally {
            const { spawn } = await import("child_process");
            const log = fs.openSync(path.join(work, "store-restarted.log"), "a");
            const again = spawn(argv[0], argv.slice(1), { env: environ, cwd, detached: true, stdio: ["ignore", log, log] });
            again.unref();
            // s3-down.sh stops the process its pid file names
            fs.writeFileSync(path.join(path.dirname(dataDir), "versitygw.pid"), `${again.pid}\n`);
        }
        await waitPods(NS, NAME, (p) => p.filter((x) => x.ready).length === 2, 90);
        assert.equal((await inspect(env, client, `${CLUSTER_HOST}:${PORT}/live/app@${digest}`)).digest, digest);
    });

    it("a kubelet pod pulls the service image through the node port with the pull secret", async () => {
        const dir = path.join(process.env.K8S_DIR ?? "/tmp/pr-live-k8s", "certs.d", `${CLUSTER_HOST}:${PORT}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "ca.crt"), client.out.caCertificatePem);
        fs.writeFileSync(path.join(dir, "hosts.toml"), `[host."https://${CLUSTER_HOST}:${PORT}"]\n  ca = "ca.crt"\n`);
        const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "pulls-app", namespace: NS }, spec: {
            imagePullSecrets: [{ name: "regcred" }], restartPolicy: "Never",
            containers: [{ name: "app", image: client.out.images["data-service"], command: ["sh", "-c", "sleep 300"] }] } };
        await kubectlOk(["apply", "-f", "-"], JSON.stringify(pod));
        let status = "";
        for (let i = 0; i < 120 && status !== "Running"; i++) {
            status = (await kubectl(["-n", NS, "get", "pod", "pulls-app", "-o", "jsonpath={.status.phase}"])).stdout;
            if (status !== "Running") await new Promise((r) => setTimeout(r, 500));
        }
        const described = await kubectl(["-n", NS, "get", "pod", "pulls-app", "-o", "jsonpath={.status.containerStatuses[0].imageID}"]);
        assert.equal(status, "Running", (await kubectl(["-n", NS, "describe", "pod", "pulls-app"])).stdout.slice(-2000));
        assert.match(described.stdout, new RegExp((client.out.images["data-service"] as string).split("@")[1]));
        await kubectl(["-n", NS, "delete", "pod", "pulls-app", "--wait=false"]);
    });

    it("the S3 secret key and the HTTP secret: in no pod spec, state file, stack export or argv", async () => {
        const http = Buffer.from(await kubectlOk(["-n", NS, "get", "secret", NAME, "-o", "jsonpath={.data.http-secret}"]), "base64").toString();
        assert.match(http, /^[A-Za-z0-9]{32}$/);
        const forms = secretForms({ s3: s3.secretKey, http });
        const sampler = sampleArgv();
        const o = await stack.up(["--refresh"]);
        const argv = sampler.stop();
        assert.equal(o.code, 0, o.stderr.slice(-2000));
        assert.deepEqual(leaks(argv.join("\n"), forms), [], "argv");
        assert.deepEqual(leaks(await kubectlOk(["-n", NS, "get", "deployment,pods", "-o", "yaml"]), forms), [], "the Deployment's and the pods' specs");
        for (const f of stack.stateFiles()) assert.deepEqual(leaks(fs.readFileSync(f, "utf8"), forms), [], f);
        assert.deepEqual(leaks(await stack.exportState(), forms), [], "stack export");
    });

    it("destroy: the cluster objects are gone, the bucket's data is not", async () => {
        const d = await stack.destroy();
        assert.equal(d.code, 0, d.stderr.slice(-2000));
        const left = await kubectlOk(["-n", NS, "get", "deployment,service,pdb,secret", "-l", `app.kubernetes.io/instance=${NAME}`, "-o", "name"]);
        assert.equal(left.trim(), "");
        const store = path.join((await storeProcess()).dataDir, s3.bucket, NAME, "docker", "registry", "v2", "repositories", "live", "app");
        assert.ok(fs.existsSync(store), `the repository stays in the bucket: ${store}`);
    });
});
