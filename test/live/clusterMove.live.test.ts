// Moving a single-host stack with images to cluster mode (docs/CLUSTER.md "Moving a single-host stack
// over"): the volume copied into the bucket with components/cluster/scripts/copy-volume-to-s3.sh, the stack switched
// to cluster mode in one up, and the images pull by digest from the Deployment.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { run, Stack } from "./cli";
import { CLUSTER_HOST, clusterInfo, clusterStack, inspect, kubectl, kubectlOk, mapClusterHost, push, registryPods, stackClient } from "./clusterSupport";
import { loadEnv } from "./support";

const env = loadEnv();
const { cluster, s3 } = clusterInfo();
const work = fs.mkdtempSync(path.join(env.liveDir, "cluster-move-"));
const NS = "registry-move";
const stack = new Stack(work, "move");
const VOLUME = "registry-move-data";
const SCRIPT = path.join(__dirname, "../../components/cluster/scripts/copy-volume-to-s3.sh");
const digests: Record<string, string> = {};

before(async () => {
    mapClusterHost(env, cluster.nodeIp);
    if ((await kubectl(["get", "namespace", NS])).code !== 0) await kubectlOk(["create", "namespace", NS]);
});
after(async () => {
    await stack.destroy();
    await run("docker", ["-H", env.dockerHost, "volume", "rm", VOLUME]);
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("live: a single-host stack moved to cluster mode", () => {
    it("single host first: two images pushed to its volume", async () => {
        await stack.init();
        // the name resolves to the docker host first, then to the node
        await stack.configure({ hostname: CLUSTER_HOST, ipAddresses: [env.hostAddress], port: 5740, bindAddress: [env.hostAddress], dockerHost: env.dockerHost,
            image: env.registryImages["3"], containerName: "registry-move", dataVolume: VOLUME }, { password: "move-password-1" });
        const o = await stack.up();
        assert.equal(o.code, 0, o.stderr.slice(-3000));
        const c = await stackClient(stack, work, "single");
        // the name is the docker host's while the registry runs there
        mapClusterHost(env, env.hostAddress);
        const at = `${CLUSTER_HOST}:5740`;
        digests.app = await push(env, c, `${at}/move/app:1`, work);
        digests.layers = await push(env, c, `${at}/move/layers:1`, work, env.layersImage);
    });

    it("the volume copied into the bucket, the stack switched to cluster mode: the images pull by digest", async () => {
        const rootDirectory = "/private-registry-move";
        const copy = await run("bash", [SCRIPT, VOLUME, s3.endpoint, s3.bucket, rootDirectory], {
            env: { ...process.env, DOCKER_HOST: env.dockerHost, IMAGE: env.registryImages["3"], S3_ACCESS_KEY: s3.accessKey, S3_SECRET_KEY: s3.secretKey,
                S3_REGION: s3.region, S3_CA_FILE: s3.caFile ?? "" },
        });
        assert.equal(copy.code, 0, copy.stderr);
        assert.match(copy.stdout, /^copied \d+ files/);
        mapClusterHost(env, cluster.nodeIp);
        const cfg = clusterStack(env, s3, { name: "registry-move", port: 30530, namespace: NS });
        // cluster mode's default root directory is /<project>-<stack>: the one the copy used
        const clusterCfg = JSON.parse(JSON.stringify(cfg.config));
        delete clusterCfg.cluster.s3.rootDirectory;
        await stack.configure(clusterCfg, { ...cfg.secrets, password: "move-password-1" });
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        assert.equal((await run("docker", ["-H", env.dockerHost, "inspect", "registry-move"])).code, 1, "the container is gone");
        assert.equal((await run("docker", ["-H", env.dockerHost, "volume", "inspect", VOLUME])).code, 0, "its volume stays");
        assert.equal((await registryPods(NS, "registry-move")).filter((p) => p.ready).length, 2);
        const c = await stackClient(stack, work, "cluster");
        for (const [name, d] of Object.entries(digests)) {
            const r = await inspect(env, c, `${CLUSTER_HOST}:30530/move/${name}@${d}`);
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.digest, d);
        }
    });
});
