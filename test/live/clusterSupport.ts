// What the cluster-mode live tests share: the cluster (k8s-up.sh's cluster.json), the S3 store (s3-up.sh's
// JSON), a stack configured for cluster mode, and the registry's pods.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { run, Stack } from "./cli";
import { clientFiles, LiveEnv, skopeo } from "./support";

export interface ClusterInfo { nodeIp: string; podCidr: string; nodeName: string; containerdSocket: string; ctr: string }
export interface S3Info { endpoint: string; region: string; bucket: string; accessKey: string; secretKey: string; caPem: string; caFile?: string }

export const KUBECONFIG = process.env.LIVE_KUBECONFIG ?? "";
export const CLUSTER_HOST = "cluster.registry.test";

/** The cluster and the store the suite started; a missing one is a failure with what to run. */
export function clusterInfo(): { cluster: ClusterInfo; s3: S3Info } {
    const k8sDir = process.env.K8S_DIR ?? "/tmp/pr-live-k8s";
    const clusterFile = path.join(k8sDir, "cluster.json");
    assert.ok(KUBECONFIG && fs.existsSync(clusterFile), `the live cluster is missing (LIVE_KUBECONFIG, ${clusterFile}): test/live/run.sh starts it with env/k8s-up.sh`);
    const s3File = process.env.S3_ENV ?? "";
    assert.ok(s3File && fs.existsSync(s3File), `the live S3 store is missing (S3_ENV=${s3File}): test/live/run.sh starts it with env/s3-up.sh`);
    return { cluster: JSON.parse(fs.readFileSync(clusterFile, "utf8")), s3: JSON.parse(fs.readFileSync(s3File, "utf8")) };
}

/** The registry's name resolves to the node (the suite's /etc/hosts, which the node's containerd reads too). */
export function mapClusterHost(env: LiveEnv, nodeIp: string): void {
    const hosts = path.join(env.liveDir, "hosts");
    const lines = fs.readFileSync(hosts, "utf8").split("\n").filter((l) => !l.split(/\s+/).slice(1).includes(CLUSTER_HOST));
    fs.writeFileSync(hosts, `${lines.filter(Boolean).join("\n")}\n${nodeIp} ${CLUSTER_HOST}\n`);
}

export const kubectl = (args: string[], input?: string) => run("kubectl", ["--kubeconfig", KUBECONFIG, ...args], { input });
export async function kubectlOk(args: string[], input?: string): Promise<string> {
    const r = await kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
}

/** A stack's config for cluster mode on the suite's cluster and store (name: the Deployment's). */
export function clusterStack(env: LiveEnv, s3: S3Info, opts: { name: string; port: number; namespace: string; replicas?: number; extra?: Record<string, unknown>; cluster?: Record<string, unknown>; s3?: Partial<S3Info> }) {
    const store = { ...s3, ...opts.s3 };
    return {
        config: {
            hostname: CLUSTER_HOST, port: opts.port, image: env.registryImages["3"], dockerHost: env.dockerHost,
            kubernetes: { namespaces: [opts.namespace], secretName: "regcred" },
            cluster: {
                namespace: opts.namespace, name: opts.name, replicas: opts.replicas ?? 2, drainSeconds: 10,
                s3: { endpoint: store.endpoint, region: store.region, bucket: store.bucket, caPem: store.caPem, rootDirectory: `/${opts.name}` },
                ...opts.cluster,
            },
            ...opts.extra,
        },
        secrets: { "kubernetes.kubeconfig": KUBECONFIG, "cluster.s3.accessKey": store.accessKey, "cluster.s3.secretKey": store.secretKey },
    };
}

export interface RegistryPod { name: string; ip: string; ready: boolean; restarts: number; uid: string; deleting: boolean }
export async function registryPods(namespace: string, name: string): Promise<RegistryPod[]> {
    const doc = JSON.parse(await kubectlOk(["-n", namespace, "get", "pods", "-l", `app.kubernetes.io/instance=${name}`, "-o", "json"]));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return doc.items.map((p: any) => ({
        name: p.metadata.name, ip: p.status.podIP ?? "", uid: p.metadata.uid, deleting: !!p.metadata.deletionTimestamp,
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        ready: (p.status.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"),
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        restarts: (p.status.containerStatuses ?? []).reduce((n: number, c: any) => n + c.restartCount, 0),
    }));
}

/** Until `test` holds for the pods (or the time is up: the last pods, for the assertion's message). */
export async function waitPods(namespace: string, name: string, test: (pods: RegistryPod[]) => boolean, seconds: number): Promise<RegistryPod[]> {
    let pods: RegistryPod[] = [];
    for (const end = Date.now() + seconds * 1000; Date.now() < end;) {
        pods = await registryPods(namespace, name);
        if (test(pods)) return pods;
        await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail(`pods of ${name} did not get there in ${seconds} s: ${JSON.stringify(pods)}`);
}

/** The stack's client files (CA and login), as a consumer of its outputs sets them up. */
export async function stackClient(stack: Stack, work: string, label: string) {
    const out = JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
    return { out, ...clientFiles(work, label, out.pushDockerConfigJson, out.caCertificatePem) };
}

/** Pushes the suite's test image (or `image`) as `ref`; returns its digest. */
export async function push(env: LiveEnv, c: { certDir: string; authfile: string }, ref: string, work: string, image = env.testImage): Promise<string> {
    const digestFile = path.join(work, `digest-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const r = await skopeo(["copy", "--retry-times", "3", "--digestfile", digestFile, "--src-daemon-host", env.dockerHost, "--dest-cert-dir", c.certDir,
        "--authfile", c.authfile, `docker-daemon:${image}`, `docker://${ref}`], env);
    assert.equal(r.code, 0, r.stderr);
    return fs.readFileSync(digestFile, "utf8").trim();
}

/** The digest `ref` resolves to (code and stderr when it does not). */
export async function inspect(env: LiveEnv, c: { certDir: string; authfile: string }, ref: string) {
    const r = await skopeo(["inspect", "--cert-dir", c.certDir, "--authfile", c.authfile, "--format", "{{.Digest}}", `docker://${ref}`], env);
    return { code: r.code, digest: r.stdout.trim(), stderr: r.stderr };
}
