// 2. Throughput: one 256 MiB layer of random bytes, pushed and pulled through the registry as the program
// configures it (TLS + htpasswd), through the same image with plain HTTP and no auth, on each registry
// line (2.x and 3.x), and copied with cp + sync on the same disk, side by side in every repetition.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { spawn } from "child_process";
import { pipeline } from "stream/promises";
import * as zlib from "zlib";
import { checkLine, Client, client, declaredContainer, DEFAULT_LINE, engine, env, Line, LINES, lineStack, log, must, pull, push, QUICK, removeContainer,
    removeVolume, rotate, scratch, seconds, startRegistry, stat, upOk, writeResult } from "./lib";

const REPS = QUICK ? 2 : 5;
const MIB = 256;
type Path = "ours" | "plain" | "cp";
interface Variant { line?: Line; variant: Path }
/** Each line's program registry and its plain twin next to each other, then cp + sync (no line). */
const VARIANTS: Variant[] = [...LINES.flatMap((line) => (["ours", "plain"] as const).map((variant) => ({ line, variant }))), { variant: "cp" }];
const name = (v: Variant) => (v.line ? `${v.line}.x ${v.variant}` : v.variant);

/** An OCI layout holding one image whose single layer is a tar of `mib` MiB of random bytes (gzip, stored). */
export async function randomImage(dir: string, mib: number): Promise<{ layer: string; bytes: number }> {
    const blobs = path.join(dir, "blobs", "sha256");
    fs.mkdirSync(blobs, { recursive: true });
    const put = (content: string) => {
        const digest = crypto.createHash("sha256").update(content).digest("hex");
        fs.writeFileSync(path.join(blobs, digest), content);
        return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
    };
    const src = path.join(dir, "src");
    fs.mkdirSync(src);
    const out = fs.openSync(path.join(src, "data.bin"), "w");
    for (let i = 0; i < mib; i++) fs.writeSync(out, crypto.randomBytes(1 << 20));
    fs.closeSync(out);
    // gzip level 0 (stored blocks): random bytes do not compress, and skopeo ships a gzip layer as it is
    const tar = spawn("tar", ["-C", src, "--owner=0", "--group=0", "-cf", "-", "data.bin"]);
    const diffId = crypto.createHash("sha256");
    const digest = crypto.createHash("sha256");
    const gz = zlib.createGzip({ level: 0 });
    tar.stdout.on("data", (d) => diffId.update(d));
    gz.on("data", (d) => digest.update(d));
    const tmp = path.join(dir, "layer.tmp");
    await pipeline(tar.stdout, gz, fs.createWriteStream(tmp));
    fs.rmSync(src, { recursive: true });
    const layerDigest = digest.digest("hex");
    const layer = path.join(blobs, layerDigest);
    fs.renameSync(tmp, layer);
    const bytes = fs.statSync(layer).size;
    const config = put(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${diffId.digest("hex")}`] } }));
    const manifest = put(JSON.stringify({
        schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${layerDigest}`, size: bytes }],
    }));
    fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "big" },
    }] }));
    fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    return { layer, bytes };
}

async function main(): Promise<void> {
    const e = engine();
    const work = scratch("throughput");
    const oci = path.join(work, "image");
    const { layer, bytes } = await randomImage(oci, MIB);
    log(`throughput: ${(bytes / 2 ** 20).toFixed(1)} MiB layer, ${REPS} repetitions of ${VARIANTS.map(name).join(", ")}`);

    let volume = "";
    let n = 0;
    let ours: Client | undefined;
    const measure = async (v: Variant, rep: number) => {
        await must("sync", []); // start every run with no dirty pages left by the one before
        const dest = path.join(work, `pulled-${name(v).replace(/\W+/g, "-")}-${rep}`);
        if (!v.line) {
            const s = await seconds(async () => { await must("cp", [layer, dest]); await must("sync", []); });
            fs.rmSync(dest, { force: true });
            return { ...v, rep, pushS: s, pullS: NaN };
        }
        let c: Client;
        let tls = true;
        const plainVolume = `bench-plain-${v.line}-${rep}`;
        if (v.variant === "ours") {
            const old = volume;
            volume = `bench-tp-${n++}`;
            // the registry container publishing the port itself, as before the front (access.ts measures the front)
            c = ours = client(path.join(work, "client"), (await upOk(e, lineStack(v.line, { dataVolume: volume, access: { pullOnly: false } }))).outputs);
            if (old) await removeVolume(old);
            await checkLine(e, v.line);
        } else {
            // the same image and settings, minus TLS and auth: what `docker run registry:N` gives
            const spec = await declaredContainer(e);
            await startRegistry("bench-plain", 5001, plainVolume, {
                image: env.registryImages[v.line], envs: spec.envs.filter((x) => !/^REGISTRY_(AUTH|HTTP_TLS)/.test(x)), uploads: [],
            });
            c = { ...ours!, registry: "127.0.0.1:5001" };
            tls = false;
        }
        await must("sync", []); // the container's start wrote a little; flush it before the clock starts
        const pushS = await seconds(() => push(c, `${oci}:big`, "bench/big:1", tls));
        await must("sync", []);
        const pullS = await seconds(() => pull(c, "bench/big:1", `${dest}:big`, tls));
        fs.rmSync(dest, { recursive: true, force: true });
        if (v.variant === "plain") await removeContainer("bench-plain", plainVolume);
        return { ...v, rep, pushS, pullS };
    };

    for (const line of LINES) { // warm-up (untimed): page cache, container start paths, each line's image
        await measure({ line, variant: "ours" }, -1);
        await measure({ line, variant: "plain" }, -1);
    }
    const runs: Awaited<ReturnType<typeof measure>>[] = [];
    for (let rep = 0; rep < REPS; rep++) {
        for (const v of rotate(VARIANTS, rep)) {
            const m = await measure(v, rep);
            runs.push(m);
            log(`rep ${rep} ${name(v)}: ${v.line ? "push" : "cp+sync"} ${m.pushS.toFixed(2)} s${v.line ? `, pull ${m.pullS.toFixed(2)} s` : ""}`);
        }
    }
    await e.destroy();
    await removeVolume(volume);
    fs.rmSync(work, { recursive: true, force: true });

    const mbs = (s: number) => bytes / 1e6 / s;
    const of = (v: Variant, rep: number) => runs.find((r) => r.line === v.line && r.variant === v.variant && r.rep === rep)!;
    const rows = VARIANTS.map((v) => {
        const mine = runs.filter((r) => r.line === v.line && r.variant === v.variant);
        // ours and plain against the plain registry of the same line in the same repetition; cp against itself
        const plain = (r: (typeof runs)[number]) => of({ line: v.line, variant: "plain" }, r.rep);
        return {
            ...v,
            pushMBs: stat(mine.map((r) => mbs(r.pushS))),
            pullMBs: v.line ? stat(mine.map((r) => mbs(r.pullS))) : undefined,
            pushVsPlain: v.line ? stat(mine.map((r) => plain(r).pushS / r.pushS)) : undefined,
            pullVsPlain: v.line ? stat(mine.map((r) => plain(r).pullS / r.pullS)) : undefined,
            pushVsCp: stat(mine.map((r) => of({ variant: "cp" }, r.rep).pushS / r.pushS)),
        };
    });
    await writeResult("throughput", { bytes, reps: REPS, lines: env.registryImages, defaultLine: DEFAULT_LINE, rows, runs });
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err);
        process.exit(1);
    });
}
