// Live section: the pull secret on a real Kubernetes (test/live/env/k8s-up.sh: API server, controller
// manager, a kubelet with containerd 2.x). Before the first up the cluster holds what a user migrating
// from the recipe has: the recipe's `regcred`, a default ServiceAccount that lists another pull secret,
// and kind's `local-registry-hosting`. A pod then pulls a service image through the secret.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { changed, run } from "./cli";
import { configure, env, live, log, state, upOk, work } from "./context";
import { skopeo } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
export const KUBECONFIG = process.env.LIVE_KUBECONFIG ?? "";
const K8S_DIR = process.env.K8S_DIR ?? "/tmp/pr-k8s";
const OTHER = "other-pull-secret";
/** A namespace with workloads that exists before the first up and is listed with createNamespaces on. */
const WORKLOADS = "workloads";
/** The suite's namespaces: default, apps (created by the program) and the one that was there before. */
export const NAMESPACES = ["default", "apps", WORKLOADS];
/** The uids of that namespace and of what runs in it, from before the first up. */
const before: Record<string, string> = {};

export async function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return run("kubectl", ["--kubeconfig", KUBECONFIG, ...args], { input });
}
async function kubectlOk(args: string[], input?: string): Promise<string> {
    const r = await kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
}
const json = async (args: string[]): Promise<any> => JSON.parse(await kubectlOk([...args, "-o", "json"]));
const pullSecretNames = async (ns: string): Promise<string[]> =>
    ((await json(["-n", ns, "get", "serviceaccount", "default"])).imagePullSecrets ?? []).map((s: any) => s.name);

const WORKLOAD_OBJECTS = [["namespace", WORKLOADS], ["-n", WORKLOADS, "configmap", "keep-me"], ["-n", WORKLOADS, "pod", "keep-me"]];
const uidsOf = async (): Promise<string[]> => Promise.all(WORKLOAD_OBJECTS.map(async (o) => {
    const obj = await json(["get", ...o]);
    assert.equal(obj.metadata.deletionTimestamp, undefined, `${o.join(" ")} is being deleted`);
    return obj.metadata.uid;
}));

/**
 * A namespace someone runs things in before the first up: a ConfigMap and a running pod (the node's
 * sandbox image; nothing can be pulled here, and there is no scheduler). The stack lists it with
 * createNamespaces on, so the program must take it for what it is: not its own.
 */
async function prepareWorkloads(): Promise<void> {
    await kubectlOk(["create", "namespace", WORKLOADS]);
    await kubectlOk(["-n", WORKLOADS, "create", "configmap", "keep-me", "--from-literal=data=precious"]);
    // admission wants the namespace's default ServiceAccount, which the controller manager adds a moment later
    for (let i = 0; i < 120 && (await kubectl(["-n", WORKLOADS, "get", "serviceaccount", "default"])).code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
    }
    await kubectlOk(["-n", WORKLOADS, "apply", "-f", "-"], JSON.stringify({
        apiVersion: "v1", kind: "Pod", metadata: { name: "keep-me" },
        spec: {
            nodeName: "live-node", hostNetwork: true, automountServiceAccountToken: false,
            containers: [{ name: "app", image: "registry.k8s.io/pause:3.10.2", imagePullPolicy: "Never" }],
        },
    }));
    for (let i = 0; i < 120 && !(await json(["-n", WORKLOADS, "get", "pod", "keep-me"])).status?.containerStatuses?.[0]?.state?.running; i++) {
        await new Promise((r) => setTimeout(r, 500));
    }
    const [ns, cm, pod] = await uidsOf();
    Object.assign(before, { ns, cm, pod });
    assert.ok((await json(["-n", WORKLOADS, "get", "pod", "keep-me"])).status?.containerStatuses?.[0]?.state?.running, "the pod runs");
    live.config.kubernetes.namespaces = [...live.config.kubernetes.namespaces, WORKLOADS];
}

/** The namespace that was there before, its ConfigMap and its pod: the same objects, none being deleted. */
async function workloadsIntact(when: string): Promise<void> {
    const [ns, cm, pod] = await uidsOf();
    assert.deepEqual({ ns, cm, pod }, before, `${when}: the namespace that existed before, or what runs in it, was replaced`);
    const p = await json(["-n", WORKLOADS, "get", "pod", "keep-me"]);
    assert.ok(p.status?.containerStatuses?.[0]?.state?.running, `${when}: the pod still runs`);
    assert.equal((await json(["-n", WORKLOADS, "get", "configmap", "keep-me"])).data?.data, "precious");
}

/**
 * What a cluster of a user who followed the recipe (and uses kind) holds before the first up, and a
 * namespace with workloads that the stack lists (added to the suite's namespaces here).
 */
export async function prepareCluster(): Promise<void> {
    const old = path.join(work, "recipe-dockerconfig.json");
    fs.writeFileSync(old, JSON.stringify({ auths: { [live.registry]: { auth: Buffer.from("admin:recipe-password").toString("base64") } } }));
    await kubectlOk(["create", "secret", "generic", "regcred", `--from-file=.dockerconfigjson=${old}`, "--type=kubernetes.io/dockerconfigjson"]);
    await kubectlOk(["patch", "serviceaccount", "default", "-p", JSON.stringify({ imagePullSecrets: [{ name: OTHER }] })]);
    await kubectlOk(["apply", "-f", "-"], JSON.stringify({
        apiVersion: "v1", kind: "ConfigMap", metadata: { name: "local-registry-hosting", namespace: "kube-public" },
        data: { "localRegistryHosting.v1": 'host: "localhost:5001"\nhelp: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n' },
    }));
    await kubectlOk(["create", "namespace", "no-secret"]);
    await prepareWorkloads();
}

/** A pod running a service image by its digest output on the kubelet's node; its image pull state. */
async function podPull(ns: string, name: string, image: string): Promise<string> {
    // the node's containerd trusts the registry through hosts.toml, as the program sets up containerd nodes
    const dir = path.join(K8S_DIR, "certs.d", live.registry);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "ca.crt"), state.caPem);
    fs.writeFileSync(path.join(dir, "hosts.toml"), `[host."https://${live.registry}"]\n  ca = "ca.crt"\n`);
    await kubectlOk(["-n", ns, "apply", "-f", "-"], JSON.stringify({
        apiVersion: "v1", kind: "Pod", metadata: { name },
        spec: {
            nodeName: "live-node", hostNetwork: true, restartPolicy: "Never", automountServiceAccountToken: false,
            containers: [{ name: "app", image, imagePullPolicy: "Always" }],
        },
    }));
    for (let i = 0; i < 120; i++) {
        const pod = await json(["-n", ns, "get", "pod", name]);
        const st = pod.status?.containerStatuses?.[0]?.state ?? {};
        // the service image prints its message and exits: wait for that, or for the pull to fail
        if (st.terminated) return `terminated:${st.terminated.exitCode}`;
        const reason = st.waiting?.reason;
        if (reason === "ImagePullBackOff" || reason === "ErrImagePull") return reason;
        await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail(`pod ${ns}/${name} neither ran to the end nor failed to pull within a minute`);
}

export function kubernetesChecks(): void {
    describe("live: the pull secret on a real Kubernetes", () => {
        it("a dockerconfigjson secret in each namespace that authenticates against the registry (the recipe's regcred taken over)", async () => {
            for (const ns of NAMESPACES) {
                const s = await json(["-n", ns, "get", "secret", "regcred"]);
                assert.equal(s.type, "kubernetes.io/dockerconfigjson");
                assert.equal(s.metadata.labels?.["app.kubernetes.io/managed-by"], "private-registry", ns);
                const authfile = path.join(work, `k8s-${ns}.json`);
                fs.writeFileSync(authfile, Buffer.from(s.data[".dockerconfigjson"], "base64"));
                const r = await skopeo(["inspect", "--cert-dir", state.client.certDir, "--authfile", authfile, "--format", "{{.Digest}}", `docker://${live.registry}/test/app:1`], env);
                assert.equal(r.stdout.trim(), state.pushedDigest, `${ns}: ${r.stderr}`);
            }
            assert.deepEqual(state.outputs.pullSecrets, Object.fromEntries(NAMESPACES.map((ns) => [ns, "regcred"])));
        });

        it("default ServiceAccounts list the secret beside what they listed before", async () => {
            assert.deepEqual(await pullSecretNames("default"), [OTHER, "regcred"]);
            assert.deepEqual(await pullSecretNames("apps"), ["regcred"]);
            assert.deepEqual(await pullSecretNames(WORKLOADS), ["regcred"]);
        });

        it("createNamespaces: apps is created and labelled; the namespace that was there before is left as it was", async () => {
            const label = async (ns: string) => (await json(["get", "namespace", ns])).metadata.labels?.["app.kubernetes.io/managed-by"];
            assert.equal(await label("apps"), "private-registry");
            assert.equal(await label(WORKLOADS), undefined);
            await workloadsIntact("after the first up");
        });

        it("dropping the namespace that was there before from the list removes the secret, not the namespace or its workloads", async () => {
            const k = live.config.kubernetes;
            await configure({ kubernetes: { ...k, namespaces: k.namespaces.filter((n: string) => n !== WORKLOADS) } });
            const o = await upOk();
            assert.ok(changed(o).includes(`delete registry-k8s-${WORKLOADS}`), changed(o).join(", "));
            await workloadsIntact("after it left the list");
            assert.notEqual((await kubectl(["-n", WORKLOADS, "get", "secret", "regcred"])).code, 0, "the program's own secret is removed");
            assert.deepEqual(await pullSecretNames(WORKLOADS), []);
            await configure();
            await upOk();
            assert.deepEqual(await pullSecretNames(WORKLOADS), ["regcred"]);
            await workloadsIntact("after it was listed again");
        });

        it("kind's local-registry-hosting ConfigMap is taken over and names this registry", async () => {
            const cm = await json(["-n", "kube-public", "get", "configmap", "local-registry-hosting"]);
            assert.match(cm.data["localRegistryHosting.v1"], new RegExp(`host: "${live.registry.replace(/\./g, "\\.")}"`));
        });

        it("a pod pulls a service image by its digest through the patched ServiceAccount; without the secret it cannot", async () => {
            const image = Object.values<string>(state.outputs.images)[0];
            assert.ok(image, "the stack has a service image");
            assert.equal(await podPull("apps", "pull-1", image), "terminated:0");
            assert.match(await podPull("no-secret", "pull-1", image), /^(ImagePullBackOff|ErrImagePull)$/);
            log(`kubelet pulled ${image} through the pull secret`);
        });
    });
}

/** After a password rotation: the secret changed in place (same object) and a new pod still pulls. */
export async function checkAfterRotation(uidBefore: string): Promise<void> {
    const s = await json(["-n", "apps", "get", "secret", "regcred"]);
    assert.equal(s.metadata.uid, uidBefore, "updated in place, never deleted");
    const cfg = JSON.parse(Buffer.from(s.data[".dockerconfigjson"], "base64").toString());
    assert.equal(Buffer.from(cfg.auths[live.registry].auth, "base64").toString(), `${state.pullUser}:${state.pullPassword}`);
    assert.equal(await podPull("apps", "pull-2", Object.values<string>(state.outputs.images)[0]), "terminated:0");
}

export async function secretUid(): Promise<string> {
    return (await json(["-n", "apps", "get", "secret", "regcred"])).metadata.uid;
}

/**
 * After destroy: ours gone, the other pull secret still listed, the namespace the program created
 * deleted, and the one that was there before still there with its workloads.
 */
export async function checkAfterDestroy(): Promise<void> {
    assert.deepEqual(await pullSecretNames("default"), [OTHER]);
    await workloadsIntact("after destroy");
    assert.deepEqual(await pullSecretNames(WORKLOADS), []);
    assert.notEqual((await kubectl(["-n", WORKLOADS, "get", "secret", "regcred"])).code, 0, "regcred deleted from it");
    assert.notEqual((await kubectl(["-n", "default", "get", "secret", "regcred"])).code, 0, "regcred deleted");
    assert.notEqual((await kubectl(["-n", "kube-public", "get", "configmap", "local-registry-hosting"])).code, 0, "the ConfigMap deleted");
    for (let i = 0; i < 60; i++) {
        if ((await kubectl(["get", "namespace", "apps"])).code !== 0) return;
        await new Promise((r) => setTimeout(r, 1000));
    }
    assert.fail("the namespace the program created is still there a minute after destroy");
}
