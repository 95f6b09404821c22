// Two stacks (two environments, two registries) trusted by the same nodes: a docker node with its own
// dockerd and a containerd 1.6 node whose config_path one of them had to enable, both pulling Docker
// Hub images through each stack's mirror (one shared docker.io/hosts.toml). Destroying one leaves the
// other working through the CRI and dockerd; destroying the second gives the nodes back byte for byte.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { run, Stack } from "./cli";
import { clientFiles, criPull, diffSnapshots, LiveNode, loadEnv, nodeExec, skopeo, snapshot } from "./support";

const env = loadEnv();
const work = fs.mkdtempSync(path.join(env.liveDir, "two-stacks-"));
const nodeA = env.nodes.find((n) => n.name === "a")!;
const nodeD = env.nodes.find((n) => n.name === "d")!;
// /etc/ca-certificates' Java hook rewrites a keystore with fresh timestamps on every run; it is not ours
const NOT_OURS = [/java\/cacerts$/];
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A stack of its own registry and mirror, trusted by nodes a and d. */
function pair(name: string, port: number) {
    const stack = new Stack(work, name);
    const config = {
        hostname: env.hostAddress, port, bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImage,
        mirror: { port: port + 10, remoteUrl: env.upstream.anonymousUrl },
        nodes: [nodeA, nodeD].map((n) => ({
            name: n.name, host: n.host, port: n.port, user: n.user, runtime: n.runtime, privateKeyPath: env.sshKeyPath, hostKey: n.hostKey,
            perDialTimeout: 5, dialErrorLimit: 2,
            ...(n.containerdRestartCommand ? { containerdRestartCommand: n.containerdRestartCommand } : {}),
            ...(n.reloadCommand ? { mirrorReloadCommand: n.reloadCommand } : {}),
        })),
    };
    return { stack, config, registry: `${env.hostAddress}:${port}`, password: `${name}-password-0123`, digest: "" };
}
const first = pair("pair-staging", 5606);
const second = pair("pair-prod", 5607);

async function must(o: Promise<{ code: number; stderr: string; errors: { message: string }[] }>): Promise<void> {
    const r = await o;
    assert.equal(r.code, 0, `${r.errors.map((e) => e.message).join("\n")}\n${r.stderr.slice(-3000)}`);
}

/** The stack's registry serves an image it was given, pulled on node d through the CRI and on node a through its dockerd. */
async function pullsOnBoth(p: ReturnType<typeof pair>): Promise<void> {
    const ref = `${p.registry}/pair/app:1`;
    const imageRef = await criPull(nodeD.containerdSocket!, ref, "admin", p.password);
    assert.match(imageRef, /^sha256:[0-9a-f]{64}$/, `CRI pull of ${ref} on node d`);
    const dockerCfg = path.join(nodeA.nodeDir, `docker-client-${p.stack.name}`);
    const r = await nodeExec(env, "a", `export DOCKER_HOST=unix://${q(nodeA.dockerSocket!)} DOCKER_CONFIG=${q(dockerCfg)}; ` +
        `docker login -u admin --password-stdin ${q(p.registry)} >/dev/null && docker pull -q ${q(ref)} >/dev/null && ` +
        `docker image inspect --format '{{index .RepoDigests 0}}' ${q(ref)} | sed 's/.*@//'`, p.password);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.stdout.trim(), p.digest, `dockerd on node a pulls ${ref}`);
}

let before: Map<string, Map<string, string>>;
after(async () => {
    for (const p of [first, second]) await p.stack.destroy();
    await run("docker", ["-H", env.dockerHost, "volume", "rm", "registry-pair-staging-data", "registry-pair-staging-mirror-data",
        "registry-pair-prod-data", "registry-pair-prod-mirror-data"]);
});

describe("live: two stacks on the same nodes", () => {
    it("both stacks up, each with an image: both pull on both nodes", async () => {
        before = new Map([[nodeA.name, await snapshot(env, nodeA.name)], [nodeD.name, await snapshot(env, nodeD.name)]]);
        const cfg = await nodeExec(env, "d", "cat /etc/containerd/config.toml");
        assert.doesNotMatch(cfg.stdout, /config_path\s*=\s*"\/etc/, "node d starts without config_path: the first stack enables it");
        for (const p of [first, second]) {
            await p.stack.init();
            await p.stack.configure(p.config, { password: p.password });
            await must(p.stack.up());
            const out = JSON.parse((await p.stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
            const client = clientFiles(work, p.stack.name, out.pushDockerConfigJson, out.caCertificatePem);
            const digestFile = path.join(work, `${p.stack.name}.digest`);
            const r = await skopeo(["copy", "--digestfile", digestFile, "--src-daemon-host", env.dockerHost, "--dest-cert-dir", client.certDir,
                "--authfile", client.authfile, `docker-daemon:${env.testImage}`, `docker://${p.registry}/pair/app:1`], env);
            assert.equal(r.code, 0, r.stderr);
            p.digest = fs.readFileSync(digestFile, "utf8").trim();
        }
        for (const p of [first, second]) await pullsOnBoth(p);
    });

    it("destroying the first: the second still pulls through the CRI and dockerd, its mirror still configured", async () => {
        await must(first.stack.destroy());
        const cfg = await nodeExec(env, "d", "cat /etc/containerd/config.toml");
        assert.match(cfg.stdout, /config_path\s*=\s*"\/etc\/containerd\/certs\.d"/, "config_path stays while a stack relies on it");
        const hub = await nodeExec(env, "d", "cat /etc/containerd/certs.d/docker.io/hosts.toml");
        assert.match(hub.stdout, new RegExp(`https://${second.registry.split(":")[0].replace(/\./g, "\\.")}:5617`), "the second stack's mirror stays");
        assert.doesNotMatch(hub.stdout, /:5616/, "the first stack's mirror is gone");
        const daemon = await nodeExec(env, "a", "cat /etc/docker/daemon.json");
        assert.match(daemon.stdout, /:5617/);
        assert.doesNotMatch(daemon.stdout, /:5616/);
        await pullsOnBoth(second);
    });

    it("destroying the second: both nodes byte-equal to before the first up", async () => {
        await must(second.stack.destroy());
        for (const n of [nodeA, nodeD] as LiveNode[]) {
            assert.deepEqual(diffSnapshots(before.get(n.name)!, await snapshot(env, n.name), NOT_OURS), [], `node ${n.name}`);
        }
    });
});
