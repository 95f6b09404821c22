// Live section: the mirror's cache expires. With delete off (as it was) distribution's proxy scheduler
// fails every expiry and the cache grows forever; now a blob older than mirror.ttl leaves the mirror's
// volume, and the next pull fetches it from the upstream again. registry:3 only (2.8 has a fixed 168h).
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { run } from "./cli";
import { configure, env, live, log, state, upOk, work } from "./context";
import { cachedBlobs, upstreamEnv, upstreamSh } from "./mirror.live";
import { skopeo } from "./support";

const TTL_S = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new image in the upstream (one random layer, so the mirror has none of it); its layer's digest. */
async function freshUpstreamImage(repo: string): Promise<string> {
    const dir = fs.mkdtempSync(path.join(work, "ttl-image-"));
    fs.writeFileSync(path.join(dir, "stamp"), crypto.randomBytes(32768));
    fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM scratch\nCOPY stamp /stamp\n");
    const b = await run("docker", ["-H", env.dockerHost, "build", "-q", "-t", "localhost/lt-ttl:1", dir], { env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    assert.equal(b.code, 0, b.stderr);
    const creds = `${env.upstream.username}:${fs.readFileSync(env.upstream.passwordFile, "utf8")}`;
    const host = env.upstream.url.replace(/^https?:\/\//, "");
    const p = await skopeo(["copy", "-q", "--dest-tls-verify=false", "--dest-creds", creds, "--src-daemon-host", env.dockerHost,
        "docker-daemon:localhost/lt-ttl:1", `docker://${host}/${repo}`], env);
    assert.equal(p.code, 0, p.stderr);
    const m = await skopeo(["inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/${repo}`], env);
    assert.equal(m.code, 0, m.stderr);
    return JSON.parse(m.stdout).layers[0].digest.replace("sha256:", "");
}

/** GETs of a blob the upstream has answered with 200 so far (its access log). */
async function upstreamBlobGets(digest: string): Promise<number> {
    const logs = await run("docker", ["-H", env.dockerHost, "logs", "live-upstream"]);
    const get = new RegExp(`"GET /v2/[^"]*/blobs/sha256:${digest} HTTP/[0-9.]+" 200 `);
    return (logs.stdout + logs.stderr).split("\n").filter((l) => get.test(l)).length;
}

export function mirrorExpiryChecks(): void {
    describe("live: the mirror's cache expires (mirror.ttl)", { skip: live.config.image === env.registryImages["3"] ? false : "registry:2 expires after a fixed 168h" }, () => {
        it("an expired blob leaves the mirror's volume, and the next pull fetches it from the upstream again", async () => {
            const resume = await run("bash", [upstreamSh, "resume"], { env: upstreamEnv });
            assert.equal(resume.code, 0, resume.stderr);
            const saved = live.config.mirror;
            live.config.mirror = { ...saved, ttl: `${TTL_S}s` };
            await configure();
            await upOk();
            const layer = await freshUpstreamImage("library/lt-ttl:1");
            const mirror = state.outputs.mirrorHost;
            assert.ok(mirror, "the stack has a mirror");
            const pull = async () => {
                const r = await skopeo(["copy", "-q", "--src-cert-dir", state.client.certDir, `docker://${mirror}/library/lt-ttl:1`,
                    `dir:${fs.mkdtempSync(path.join(work, "ttl-pull-"))}`], env);
                assert.equal(r.code, 0, r.stderr);
            };
            const gets0 = await upstreamBlobGets(layer);
            await pull();
            for (let i = 0; i < 50 && !cachedBlobs().includes(layer); i++) await sleep(100);
            assert.ok(cachedBlobs().includes(layer), "the mirror cached the layer");
            const gets1 = await upstreamBlobGets(layer);
            assert.ok(gets1 > gets0, "fetched from the upstream");
            const t = Date.now();
            while (cachedBlobs().includes(layer) && Date.now() - t < (TTL_S + 40) * 1000) await sleep(500);
            assert.ok(!cachedBlobs().includes(layer), `the layer left the mirror's volume within ${TTL_S + 40} s of its TTL`);
            log(`mirror.ttl ${TTL_S}s: the layer left the cache ${Math.round((Date.now() - t) / 1000)} s after the pull`);
            await pull();
            assert.ok(await upstreamBlobGets(layer) > gets1, "the pull after expiry fetched it from the upstream again");
            for (let i = 0; i < 50 && !cachedBlobs().includes(layer); i++) await sleep(100);
            assert.ok(cachedBlobs().includes(layer), "and cached it anew");
            live.config.mirror = saved;
            await configure();
            await upOk();
        });
    });
}
