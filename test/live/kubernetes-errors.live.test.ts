// Kubernetes settings that cannot work fail the up at once with an error naming the config key: a
// namespace that does not exist (and is not to be created), and a cluster that does not answer.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { Stack } from "./cli";
import { loadEnv } from "./support";

const env = loadEnv();
const kubeconfigFile = process.env.LIVE_KUBECONFIG ?? "";
const work = fs.mkdtempSync(path.join(env.liveDir, "k8s-errors-"));
const stack = new Stack(work, "k8s-errors");
const registry = { hostname: env.hostAddress, port: 5603, bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImage, containerName: "live-k8s-errors" };

after(async () => {
    await stack.destroy();
});

describe("live: Kubernetes settings that cannot work", { skip: !kubeconfigFile && process.env.CI !== "true" ? "no LIVE_KUBECONFIG" : false }, () => {
    it("a namespace that does not exist: a clear error naming private-registry:kubernetes.namespaces", async () => {
        assert.ok(kubeconfigFile, "LIVE_KUBECONFIG names the suite's cluster");
        await stack.init();
        await stack.configure({ ...registry, kubernetes: { namespaces: ["default", "missing-ns"] } },
            { "kubernetes.kubeconfig": fs.readFileSync(kubeconfigFile, "utf8") });
        const o = await stack.up();
        assert.notEqual(o.code, 0);
        const msg = o.errors.map((e) => e.message).join("\n");
        assert.match(msg, /private-registry:kubernetes\.namespaces: namespace "missing-ns" does not exist/);
        assert.ok(o.ms < 60_000, `${o.ms} ms`);
    });

    it("a cluster that does not answer: a clear error naming the cluster setting", async () => {
        const dead = fs.readFileSync(kubeconfigFile, "utf8").replace(/server: *"?https:\/\/127\.0\.0\.1:\d+"?/, 'server: "https://127.0.0.1:6999"');
        assert.match(dead, /127\.0\.0\.1:6999/);
        await stack.configure({ ...registry, kubernetes: { namespaces: ["default"] } }, { "kubernetes.kubeconfig": dead });
        const o = await stack.up();
        assert.notEqual(o.code, 0);
        assert.match(o.errors.map((e) => e.message).join("\n"), /private-registry:kubernetes\.kubeconfig\/kubernetes\.context: cannot reach the cluster/);
    });
});
