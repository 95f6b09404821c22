// Live section: the pull-through mirror. The stack's mirror caches the suite's stand-in for Docker Hub
// (test/live/env/upstream.sh: a registry with a login, holding library/lt-mirror:1, whose blobs no node has),
// and every node pulls that image by its Docker Hub name: containerd 1.6 and 2.x through ctr and the
// CRI, the docker node through its own dockerd, the crio node with skopeo. Nothing outside this machine
// is reachable from the nodes, so a pull that succeeds came through the mirror.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { run } from "./cli";
import { env, live, state } from "./context";
import { criPull, LiveNode, nodeExec } from "./support";

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
export const upstreamSh = path.join(__dirname, "env", "upstream.sh");
export const upstreamEnv = { ...process.env, LIVE_DIR: env.liveDir, HOST_IP: env.hostAddress, REGISTRY_IMAGE: "-", DOCKER_HOST: env.dockerHost };
const node = (name: string): LiveNode => env.nodes.find((n) => n.name === name)!;
const mirrorName = (): string => live.config.mirror?.containerName ?? `${live.config.containerName}-mirror`;

/** Pulls the upstream's image by its Docker Hub name on a node, through whatever that node was pointed at; returns the digest. */
async function pullThroughMirror(n: LiveNode, how: "ctr" | "cri" | "dockerd" | "skopeo"): Promise<string> {
    const ref = env.upstream.image;
    const copyDir = path.join(n.nodeDir, "mirror-copy");
    if (how === "cri") {
        const imageRef = await criPull(n.containerdSocket!, ref, "", "");
        const r = await nodeExec(env, n.name, `${q(n.ctr!)} -a ${q(n.containerdSocket!)} -n k8s.io images ls | awk -v r=${q(ref)} '$1==r{print $3}'`);
        assert.match(imageRef, /^sha256:[0-9a-f]{64}$/);
        return r.stdout.trim();
    }
    const cmd = {
        ctr: () => `${q(n.ctr!)} -a ${q(n.containerdSocket!)} -n mirror images pull --hosts-dir /etc/containerd/certs.d ${q(ref)} >/dev/null && ` +
            `${q(n.ctr!)} -a ${q(n.containerdSocket!)} -n mirror images ls | awk -v r=${q(ref)} '$1==r{print $3}'`,
        dockerd: () => `DOCKER_HOST=unix://${n.dockerSocket} docker pull -q ${q(ref)} >/dev/null && ` +
            `DOCKER_HOST=unix://${n.dockerSocket} docker image inspect --format '{{index .RepoDigests 0}}' ${q(ref)} | sed 's/.*@//'`,
        // a copy fetches every blob, as a pull does; registries.conf.d is read per run
        skopeo: () => `rm -rf ${q(copyDir)} && skopeo copy -q ${q(`docker://${ref}`)} ${q(`dir:${copyDir}`)} >/dev/null && ` +
            `skopeo inspect --format '{{.Digest}}' ${q(`dir:${copyDir}`)}`,
    }[how]();
    const r = await nodeExec(env, n.name, cmd);
    assert.equal(r.code, 0, `${how} on node ${n.name}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
}

/** The blobs the mirror's volume holds (its cache), by digest. */
export function cachedBlobs(): string[] {
    const vol = live.config.mirror?.dataVolume ?? `${mirrorName()}-data`;
    const dir = path.join(env.liveDir, "docker", "data", "volumes", vol, "_data", "docker", "registry", "v2", "blobs", "sha256");
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).flatMap((p) => fs.readdirSync(path.join(dir, p))).filter((d) => fs.existsSync(path.join(dir, d.slice(0, 2), d, "data")));
}

export function mirrorChecks(): void {
    describe("live: the pull-through mirror, and every node pulling through it", () => {
        after(async () => {
            // the upstream back for later sections (a mirror that restarts needs it)
            await run("bash", [upstreamSh, "resume"], { env: upstreamEnv });
        });

        it("outputs: the mirror's address, and per node where it was configured", () => {
            const m = state.outputs.mirrorHost as string;
            assert.equal(m, `${live.hostname}:${live.config.mirror?.port ?? live.port + 1}`);
            const where = state.outputs.nodeMirrors as Record<string, string[]>;
            const expect: Record<string, RegExp> = {
                a: /^docker\.io through https:\/\/.+: registry-mirrors in \/etc\/docker\/daemon\.json$/,
                b: /^docker\.io through .+: \/etc\/containerd\/certs\.d\/docker\.io\/hosts\.toml$/,
                c: /^docker\.io through .+: \/etc\/containers\/registries\.conf\.d\/50-private-registry-live-mirror\.conf$/,
                d: /^docker\.io through .+: \/etc\/containerd\/certs\.d\/docker\.io\/hosts\.toml$/,
                ctd2: /^docker\.io through .+: \/etc\/containerd\/certs\.d\/docker\.io\/hosts\.toml$/,
            };
            for (const [name, re] of Object.entries(expect)) {
                assert.equal(where[name]?.length, 1, `node ${name}: ${JSON.stringify(where[name])}`);
                assert.match(where[name][0], re);
                assert.ok(where[name][0].includes(m), `node ${name} points at ${m}`);
            }
        });

        it("the mirror has no login and is published only where the registry is", async () => {
            const r = await run("docker", ["-H", env.dockerHost, "ps", "--filter", `name=^${mirrorName()}`, "--format", "{{.Ports}}"]);
            const bound = r.stdout.trim().split(/[\n,]\s*/).filter(Boolean).map((p) => p.split(":")[0]).sort();
            assert.deepEqual(bound, [...live.config.bindAddress].sort(), r.stdout);
            const inspect = await run("docker", ["-H", env.dockerHost, "inspect", "--format", "{{json .Config.Env}}", mirrorName()]);
            const envs = JSON.parse(inspect.stdout) as string[];
            assert.ok(envs.includes(`REGISTRY_PROXY_REMOTEURL=${live.config.mirror.remoteUrl}`));
            assert.equal(envs.some((e) => e.startsWith("REGISTRY_PROXY_USERNAME=")), live.config.mirror.username !== undefined);
            assert.ok(!envs.some((e) => e.startsWith("REGISTRY_AUTH")), "no login on the mirror");
        });

        it("docker node: registry-mirrors took effect by a reload (SIGHUP), dockerd kept running", async () => {
            const a = node("a");
            assert.match(state.outputs.nodeReports.a as string, /^reloaded: the runtime's mirror settings/m);
            assert.doesNotMatch(state.outputs.nodeReports.a as string, /restarted: docker/);
            const pid = fs.readFileSync(a.dockerPidFile!, "utf8").trim();
            assert.equal(fs.readFileSync(path.join(a.nodeDir, "dockerd", "dockerd.started.pid"), "utf8").trim(), pid, "the dockerd up.sh started");
            const info = await run("docker", ["-H", `unix://${a.dockerSocket}`, "info", "--format", "{{json .RegistryConfig.Mirrors}}"]);
            assert.deepEqual(JSON.parse(info.stdout), [`https://${state.outputs.mirrorHost}/`]);
        });

        it("crio node: the drop-in asked for one reload of CRI-O", async () => {
            const reloads = fs.readFileSync(path.join(node("c").nodeDir, "reloads.log"), "utf8").trim().split("\n");
            assert.deepEqual(reloads, ["reload"]);
        });

        it("containerd 1.6: ctr pulls the Docker Hub name through the mirror, which then holds the blobs", async () => {
            assert.deepEqual(cachedBlobs(), [], "the cache starts empty");
            assert.equal(await pullThroughMirror(node("b"), "ctr"), env.upstream.digest);
            // the mirror finishes writing a blob to its cache just after serving it
            let blobs = cachedBlobs();
            for (let i = 0; i < 100 && blobs.length < 3; i++) {
                await new Promise((r) => setTimeout(r, 100));
                blobs = cachedBlobs();
            }
            assert.ok(blobs.includes(env.upstream.digest.replace("sha256:", "")), `the manifest is cached: ${blobs.join(", ")}`);
            assert.equal(blobs.length, 3, `manifest, config and the layer cached: ${blobs.join(", ")}`);
        });

        it("with the upstream stopped, the other nodes still pull from the cache: CRI (1.6 and 2.x), ctr 2.x, dockerd, skopeo", async () => {
            const stop = await run("bash", [upstreamSh, "stop"], { env: upstreamEnv });
            assert.equal(stop.code, 0, stop.stderr);
            const down = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `${live.config.mirror.remoteUrl}/v2/`]);
            assert.equal(down.stdout, "000", "the upstream is down");
            assert.equal(await pullThroughMirror(node("ctd2"), "cri"), env.upstream.digest);
            assert.equal(await pullThroughMirror(node("ctd2"), "ctr"), env.upstream.digest);
            assert.equal(await pullThroughMirror(node("d"), "cri"), env.upstream.digest);
            assert.equal(await pullThroughMirror(node("a"), "dockerd"), env.upstream.digest);
            assert.equal(await pullThroughMirror(node("c"), "skopeo"), env.upstream.digest);
        });
    });
}
