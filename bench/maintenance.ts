// 7. Maintenance on a registry of a few hundred tags: 30 repositories of 10 tags each (a shared 1 MiB base
// layer, a unique 64 KiB layer and a config per tag), retention `keepLast: 3` everywhere, so each run deletes
// 7 of every 10 tags. Per repetition a fresh volume and a fresh push; the dry run (plan only) and the run
// (window, deletes, GC dry run and guard, sweep, verification) are timed by the runner itself, and the
// report's counts are kept.
import * as crypto from "crypto";
import * as zlib from "zlib";
import { httpsGet } from "../test/live/support";
import { run } from "../test/live/cli";
import { BenchStack, DEFAULT_LINE, env, lineStack, log, QUICK, removeVolume, stat, upOk, writeResult } from "./lib";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REPS = QUICK ? 1 : 3;
const REPOS = 30;
const TAGS = 10;
const PORT = 5782;

interface Login { host: string; port: number; ca: string; auth: string }
const sha = (b: Buffer) => `sha256:${crypto.createHash("sha256").update(b).digest("hex")}`;

async function putBlob(l: Login, repo: string, data: Buffer): Promise<string> {
    const digest = sha(data);
    const req = (p: string, method: string, body?: Buffer, headers: Record<string, string> = {}) =>
        httpsGet({ host: l.host, port: l.port, servername: l.host, ca: l.ca, auth: l.auth, path: p, method, headers, body: body as unknown as string });
    if ((await req(`/v2/${repo}/blobs/${digest}`, "HEAD")).status === 200) return digest;
    const start = await req(`/v2/${repo}/blobs/uploads/`, "POST");
    if (start.status !== 202) throw new Error(`POST upload ${repo}: ${start.status} ${start.body}`);
    const loc = new URL(String(start.headers!.location), `https://${l.host}:${l.port}`);
    loc.searchParams.set("digest", digest);
    const put = await req(`${loc.pathname}${loc.search}`, "PUT", data, { "Content-Type": "application/octet-stream", "Content-Length": String(data.length) });
    if (put.status !== 201) throw new Error(`PUT blob ${repo}: ${put.status} ${put.body}`);
    return digest;
}

/** 30 × 10 tags through the front with the push login, oldest first. */
async function fill(l: Login): Promise<void> {
    const base = zlib.gzipSync(crypto.randomBytes(1 << 20));
    for (let r = 0; r < REPOS; r++) {
        const repo = `bench/svc-${r}`;
        const baseDigest = await putBlob(l, repo, base);
        for (let t = 0; t < TAGS; t++) {
            const layer = zlib.gzipSync(crypto.randomBytes(64 << 10));
            const layerDigest = await putBlob(l, repo, layer);
            const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: { Labels: { tag: String(t) } } }));
            const configDigest = await putBlob(l, repo, config);
            const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: baseDigest, size: base.length },
                    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layer.length }] });
            const put = await httpsGet({ host: l.host, port: l.port, servername: l.host, ca: l.ca, auth: l.auth, path: `/v2/${repo}/manifests/${t}`, method: "PUT",
                body: manifest, headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } });
            if (put.status !== 201) throw new Error(`PUT manifest ${repo}:${t}: ${put.status} ${put.body}`);
        }
    }
}

async function maintenance(e: BenchStack, flags: string[]): Promise<any> {
    const r = await run("npm", ["run", "-s", "maintenance", "--", "--stack", e.stack.name, ...flags], { env: e.stack.env, cwd: e.stack.project, timeoutMs: 20 * 60_000 });
    const report = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
    if (r.code !== 0 || !report.ok) throw new Error(`maintenance ${flags.join(" ")}: ${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    return report;
}

async function main(): Promise<void> {
    const e = new BenchStack("bench-maint");
    const runs: any[] = [];
    let volume = "";
    try {
        for (let rep = 0; rep < REPS; rep++) {
            const old = volume;
            volume = `bench-maint-${rep}-${Date.now()}`;
            const { outputs } = await upOk(e, lineStack(DEFAULT_LINE, {
                port: String(PORT), containerName: "bench-maint", dataVolume: volume,
                maintenance: { nodeImage: env.nodeImage, untaggedGraceHours: 0, retention: [{ repositories: ["bench/**"], keepLast: 3 }] },
            }));
            if (old) await removeVolume(old);
            const l = { host: "127.0.0.1", port: PORT, ca: outputs.caCertificatePem, auth: `${outputs.pushUsername}:${outputs.pushPassword}` };
            const t0 = Date.now();
            await fill(l);
            log(`maintenance: pushed ${REPOS * TAGS} tags in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
            const dry = await maintenance(e, ["--dry-run"]);
            const real = await maintenance(e, []);
            log(`maintenance: dry run ${dry.durationMs} ms, run ${real.durationMs} ms (window ${real.windowMs} ms), ${real.deletedManifests.length} manifests, ${real.blobsSwept} blobs, ${real.bytesFreed} bytes`);
            runs.push({ dryMs: dry.durationMs, runMs: real.durationMs, windowMs: real.windowMs, deletedTags: real.deletedTags.length,
                deletedManifests: real.deletedManifests.length, blobsSwept: real.blobsSwept, bytesFreed: real.bytesFreed, verified: real.verified });
        }
        await writeResult("maintenance", {
            line: DEFAULT_LINE, repositories: REPOS, tagsPerRepository: TAGS, keepLast: 3, reps: REPS, runs,
            dryRunS: stat(runs.map((r) => r.dryMs / 1000)), runS: stat(runs.map((r) => r.runMs / 1000)), windowS: stat(runs.map((r) => r.windowMs / 1000)),
        });
    } finally {
        await e.destroy();
        if (volume) await removeVolume(volume);
    }
}

main().catch((err) => { console.error(err); process.exit(1); });
