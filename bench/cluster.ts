// 5. Cluster mode: the single-host registry on its volume against cluster mode on S3 with 1 and 2 replicas,
// side by side in every repetition: push and pull of one 256 MiB layer, a push of the 23-layer image, the
// cold `up` of each, and how long a rolling rotation (a new leaf key and certificate) takes in cluster mode.
// Needs the cluster (test/live/env/k8s-up.sh: LIVE_KUBECONFIG, K8S_DIR) and the store (s3-up.sh: S3_ENV).
import * as fs from "fs";
import * as path from "path";
import { Stack } from "../test/live/cli";
import { CLUSTER_HOST, clusterInfo, clusterStack, kubectl, mapClusterHost } from "../test/live/clusterSupport";
import { client, Client, env, log, must, pull, push, QUICK, rotate, scratch, seconds, skopeo, stat, writeResult } from "./lib";
import { randomImage } from "./throughput";

const REPS = QUICK ? 2 : 4;
const MIB = QUICK ? 64 : 256;
const NS = "registry-bench";
type Mode = "single" | "cluster-1" | "cluster-2";
const MODES: Mode[] = ["single", "cluster-1", "cluster-2"];

async function main(): Promise<void> {
    const { cluster, s3 } = clusterInfo();
    const work = scratch("cluster");
    const oci = path.join(work, "image");
    const { bytes } = await randomImage(oci, MIB);
    mapClusterHost(env, cluster.nodeIp);
    if ((await kubectl(["get", "namespace", NS])).code !== 0) await must("kubectl", ["--kubeconfig", process.env.LIVE_KUBECONFIG!, "create", "namespace", NS]);
    const stacks = new Map<Mode, Stack>();
    const clients = new Map<Mode, Client>();
    const coldUp: Record<string, number> = {};
    const port = { single: 5760, "cluster-1": 30550, "cluster-2": 30551 };
    const config = (mode: Mode, extra: Record<string, unknown> = {}) => mode === "single"
        // the single-host registry answers on the host address under the same name, through its own SAN
        ? { config: { hostname: "bench-single.registry.test", port: port.single, bindAddress: [env.hostAddress], dockerHost: env.dockerHost,
            image: env.registryImages["3"], containerName: "bench-single", dataVolume: "bench-single-data", ...extra }, secrets: {} as Record<string, string> }
        : clusterStack(env, s3, { name: `bench-${mode}`, port: port[mode], namespace: NS, replicas: mode === "cluster-1" ? 1 : 2, extra });
    fs.appendFileSync(path.join(env.liveDir, "hosts"), `${env.hostAddress} bench-single.registry.test\n`);
    for (const mode of MODES) {
        const s = new Stack(work, `bench-${mode}`);
        await s.init();
        const c = config(mode);
        await s.configure(c.config, { ...c.secrets, password: "bench-password-1" });
        const o = await s.up();
        if (o.code !== 0) throw new Error(`${mode}: up failed: ${o.stderr.slice(-2000)}`);
        coldUp[mode] = o.ms / 1000;
        log(`${mode}: cold up ${coldUp[mode].toFixed(1)} s`);
        stacks.set(mode, s);
        clients.set(mode, client(path.join(work, `client-${mode}`), (await s.outputs()).values));
    }
    const runs: { mode: Mode; rep: number; pushS: number; pullS: number; layersS: number }[] = [];
    for (let rep = -1; rep < REPS; rep++) { // rep -1: the warm-up, untimed
        for (const mode of rotate(MODES, Math.max(rep, 0))) {
            const c = clients.get(mode)!;
            const repo = `bench/big-${rep + 1}:1`;
            await must("sync", []);
            const pushS = await seconds(() => push(c, `${oci}:big`, repo));
            const dest = path.join(work, `pulled-${mode}-${rep}`);
            const pullS = await seconds(() => pull(c, repo, `${dest}:big`));
            fs.rmSync(dest, { recursive: true, force: true });
            const layersS = await seconds(() => skopeo("copy", "-q", `--dest-cert-dir=${c.certDir}`, `--authfile=${c.authfile}`,
                "--src-daemon-host", env.dockerHost, `docker-daemon:${env.layersImage}`, `docker://${c.registry}/bench/layers-${rep + 1}:1`));
            if (rep >= 0) runs.push({ mode, rep, pushS, pullS, layersS });
            log(`rep ${rep} ${mode}: push ${pushS.toFixed(2)} s, pull ${pullS.toFixed(2)} s, 23 layers ${layersS.toFixed(2)} s`);
        }
    }
    // a rolling rotation of the 2-replica Deployment: new leaf key and certificate, the pods replaced one by one
    const two = config("cluster-2", { tls: { rotation: 1 } });
    await stacks.get("cluster-2")!.configure(two.config, { ...two.secrets, password: "bench-password-1" });
    const r = await stacks.get("cluster-2")!.up();
    if (r.code !== 0) throw new Error(`rotation failed: ${r.stderr.slice(-2000)}`);
    const rotationS = r.ms / 1000;
    log(`rolling rotation of 2 replicas: ${rotationS.toFixed(1)} s`);
    for (const s of stacks.values()) await s.destroy();
    await must("docker", ["-H", env.dockerHost, "volume", "rm", "bench-single-data"]);
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
    fs.rmSync(work, { recursive: true, force: true });

    const mbs = (sec: number) => bytes / 1e6 / sec;
    const single = (rep: number) => runs.find((x) => x.mode === "single" && x.rep === rep)!;
    const rows = MODES.map((mode) => {
        const mine = runs.filter((x) => x.mode === mode);
        return {
            mode, coldUpS: coldUp[mode],
            pushMBs: stat(mine.map((x) => mbs(x.pushS))), pullMBs: stat(mine.map((x) => mbs(x.pullS))), layersS: stat(mine.map((x) => x.layersS)),
            pushVsSingle: stat(mine.map((x) => single(x.rep).pushS / x.pushS)), pullVsSingle: stat(mine.map((x) => single(x.rep).pullS / x.pullS)),
            layersVsSingle: stat(mine.map((x) => single(x.rep).layersS / x.layersS)),
        };
    });
    await writeResult("cluster", { bytes, reps: REPS, host: CLUSTER_HOST, rows, rotationS, runs });
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err);
        process.exit(1);
    });
}
