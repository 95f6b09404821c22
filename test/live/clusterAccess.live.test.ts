// Two logins in cluster mode: each pod runs the nginx front, a read-only reader and a writer on the
// pod's loopback. Through the node port the pull login reads and writes nothing, the push login pushes
// and pulls under the same name, and the pull secret the kubelet uses cannot push.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { Stack } from "./cli";
import { CLUSTER_HOST, clusterInfo, clusterStack, inspect, kubectl, kubectlOk, mapClusterHost, push, registryPods, stackClient } from "./clusterSupport";
import { clientFiles, leaks, loadEnv, secretForms, skopeo } from "./support";

const env = loadEnv();
const { cluster, s3 } = clusterInfo();
const work = fs.mkdtempSync(path.join(env.liveDir, "cluster-access-"));
const NS = "registry-access";
const NAME = "registry-access";
const PORT = 30520;
const REGISTRY = `${CLUSTER_HOST}:${PORT}`;
const stack = new Stack(work, "cluster-access");
const cfg = clusterStack(env, s3, { name: NAME, port: PORT, namespace: NS, replicas: 2, extra: { access: { frontImage: env.frontImage, pullUsername: "k8s-pull" } } });
let client: Awaited<ReturnType<typeof stackClient>>;
let pullClient: { authfile: string; certDir: string };
let digest = "";

function request(auth: string | undefined, method: string, p: string, host = cluster.nodeIp, port = PORT): Promise<{ status: number; location?: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request({ host, port, method, path: p, servername: CLUSTER_HOST, ca: client.out.caCertificatePem, agent: false,
            headers: { host: REGISTRY, ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {}) } }, (res) => {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        });
        req.on("error", reject);
        req.end();
    });
}
const pullLogin = () => `k8s-pull:${client.out.password}`;
const pushLogin = () => `admin:${client.out.pushPassword}`;

before(async () => {
    mapClusterHost(env, cluster.nodeIp);
    if ((await kubectl(["get", "namespace", NS])).code !== 0) await kubectlOk(["create", "namespace", NS]);
});
after(async () => {
    await stack.destroy();
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("live: two logins in cluster mode", () => {
    it("up: each pod runs the front, the reader and the writer; only the front listens on the pod's address", async () => {
        await stack.init();
        await stack.configure(cfg.config, cfg.secrets);
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        client = await stackClient(stack, work, "push");
        pullClient = clientFiles(work, "pull", client.out.dockerConfigJson, client.out.caCertificatePem);
        const doc = JSON.parse(await kubectlOk(["-n", NS, "get", "deployment", NAME, "-o", "json"]));
        assert.deepEqual(doc.spec.template.spec.containers.map((c: { name: string }) => c.name), ["front", "registry", "writer"]);
        const pods = await registryPods(NS, NAME);
        assert.equal(pods.filter((p) => p.ready).length, 2);
        for (const p of pods) {
            assert.equal((await request(undefined, "GET", "/v2/", p.ip, 5000)).status, 401, `front on ${p.name}`);
            for (const port of [5002, 5003]) {
                const open = await new Promise<boolean>((resolve) => {
                    const s = net.connect({ host: p.ip, port, timeout: 3000 }, () => { s.destroy(); resolve(true); });
                    s.on("error", () => resolve(false));
                    s.on("timeout", () => { s.destroy(); resolve(false); });
                });
                assert.equal(open, false, `${p.name}:${port} is the pod's loopback only`);
            }
        }
    });

    it("the push login pushes and pulls; the pull login pulls the same name by digest and GET /v2/ answers it 200", async () => {
        digest = await push(env, client, `${REGISTRY}/access/app:1`, work);
        assert.equal((await inspect(env, client, `${REGISTRY}/access/app:1`)).digest, digest);
        assert.equal((await inspect(env, pullClient, `${REGISTRY}/access/app@${digest}`)).digest, digest);
        assert.equal((await request(pullLogin(), "GET", "/v2/")).status, 200);
    });

    it("the pull login writes nothing: POST of an upload, PATCH and PUT of a session, PUT of a manifest, DELETE refused", async () => {
        const started = await request(pushLogin(), "POST", "/v2/access/app/blobs/uploads/");
        assert.equal(started.status, 202);
        const session = new URL(String(started.location), `https://${REGISTRY}`);
        const answers = {
            POST: (await request(pullLogin(), "POST", "/v2/access/app/blobs/uploads/")).status,
            PATCH: (await request(pullLogin(), "PATCH", session.pathname + session.search)).status,
            "PUT blob": (await request(pullLogin(), "PUT", `${session.pathname}${session.search}&digest=sha256:${"0".repeat(64)}`)).status,
            "PUT manifest": (await request(pullLogin(), "PUT", "/v2/access/app/manifests/pull")).status,
            DELETE: (await request(pullLogin(), "DELETE", `/v2/access/app/manifests/${digest}`)).status,
        };
        for (const [what, status] of Object.entries(answers)) assert.ok([401, 403, 405].includes(status), `${what}: ${status}`);
        assert.equal((await request(pushLogin(), "GET", "/v2/access/app/manifests/pull")).status, 404, "nothing written");
        const r = await skopeo(["copy", "--src-daemon-host", env.dockerHost, "--dest-cert-dir", pullClient.certDir, "--authfile", pullClient.authfile,
            `docker-daemon:${env.testImage}`, `docker://${REGISTRY}/access/app:2`], env);
        assert.notEqual(r.code, 0, "a push with the pull login");
    });

    it("refused as before: no login, wrong passwords", async () => {
        for (const auth of [undefined, `${pullLogin()}x`, `${pushLogin()}x`, `admin:${client.out.password}`]) {
            assert.equal((await request(auth, "GET", "/v2/")).status, 401, auth?.split(":")[0] ?? "nobody");
        }
    });

    it("the pull secret holds the pull login: a kubelet pod pulls with it, a push with it is refused; the push password is in no Secret", async () => {
        const sec = await kubectlOk(["-n", NS, "get", "secret", "regcred", "-o", "jsonpath={.data.\\.dockerconfigjson}"]);
        const authfile = path.join(work, "regcred.json");
        fs.writeFileSync(authfile, Buffer.from(sec, "base64"), { mode: 0o600 });
        assert.equal(JSON.parse(fs.readFileSync(authfile, "utf8")).auths[REGISTRY].username, "k8s-pull");
        const r = await skopeo(["copy", "--src-daemon-host", env.dockerHost, "--dest-cert-dir", client.certDir, "--authfile", authfile,
            `docker-daemon:${env.testImage}`, `docker://${REGISTRY}/access/regcred:1`], env);
        assert.notEqual(r.code, 0, "a push with the pull secret's login");
        assert.match(r.stderr, /unauthorized|authentication required|denied/i);
        // the node's containerd trusts the registry as the program sets up containerd nodes
        const dir = path.join(process.env.K8S_DIR ?? "/tmp/pr-live-k8s", "certs.d", REGISTRY);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "ca.crt"), client.out.caCertificatePem);
        fs.writeFileSync(path.join(dir, "hosts.toml"), `[host."https://${REGISTRY}"]\n  ca = "ca.crt"\n`);
        await kubectlOk(["-n", NS, "apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "pull" }, spec: {
            hostNetwork: true, restartPolicy: "Never", automountServiceAccountToken: false, imagePullSecrets: [{ name: "regcred" }],
            containers: [{ name: "app", image: `${REGISTRY}/access/app@${digest}`, imagePullPolicy: "Always", command: ["true"] }] } }));
        let state = "";
        for (let i = 0; i < 120 && !/terminated|ErrImagePull|ImagePullBackOff/.test(state); i++) {
            const st = JSON.parse(await kubectlOk(["-n", NS, "get", "pod", "pull", "-o", "json"])).status?.containerStatuses?.[0]?.state ?? {};
            state = st.terminated ? `terminated:${st.terminated.exitCode}` : st.waiting?.reason ?? "";
            await new Promise((res) => setTimeout(res, 500));
        }
        assert.equal(state, "terminated:0");
        const forms = secretForms({ "push password": client.out.pushPassword, "push auth": Buffer.from(pushLogin()).toString("base64") });
        const all = JSON.parse(await kubectlOk(["get", "secrets,configmaps", "-A", "-o", "json"])).items as { kind: string; data?: Record<string, string> }[];
        const texts = all.flatMap((i) => Object.values(i.data ?? {}).map((v) => (i.kind === "Secret" ? Buffer.from(v, "base64").toString() : v)));
        assert.deepEqual(leaks(texts.join("\n"), forms), []);
    });
});
