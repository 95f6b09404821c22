// 1. Auth cost: the registry checks the bcrypt hash on every request. Pushes and pulls the 23-layer test image
// through the registry the program deploys (engine run with bcryptCost = N, fresh volume each time) and,
// side by side, through the same container without REGISTRY_AUTH* (no-auth baseline), on each registry
// line (2.x and 3.x) in the same repetitions.
import * as fs from "fs";
import * as path from "path";
import { checkLine, Client, client, declaredContainer, DEFAULT_LINE, engine, env, getMs, Line, LINES, lineStack, log, must, pull, push, QUICK, removeContainer,
    removeVolume, requestCount, rotate, scratch, seconds, skopeo, startRegistry, stat, upOk, writeResult } from "./lib";

const REPS = QUICK ? 2 : 5;
const COSTS = QUICK ? [4, 6, 10] : [4, 5, 6, 8, 10, 12];
type Cost = "none" | number;
interface Variant { line: Line; cost: Cost }
/** GET /v2/ in a row, to time a single request's check: fewer where one check takes tens of ms. */
const gets = (c: Cost) => (c !== "none" && c >= 10 ? 10 : 50);
const name = (v: Variant) => `${v.line}.x ${v.cost === "none" ? "no auth" : `cost ${v.cost}`}`;
/** Every cost on every line, the two lines' runs of a cost next to each other. */
const VARIANTS: Variant[] = (["none", ...COSTS] as Cost[]).flatMap((cost) => LINES.map((line) => ({ line, cost })));

async function main(): Promise<void> {
    const e = engine();
    const work = scratch("auth");
    const oci = path.join(work, "layers");
    await skopeo("copy", "-q", `--src-daemon-host=${env.dockerHost}`, `docker-daemon:${env.layersImage}`, `oci:${oci}:app`);
    const layers = JSON.parse(fs.readFileSync(path.join(oci, "blobs", "sha256",
        JSON.parse(fs.readFileSync(path.join(oci, "index.json"), "utf8")).manifests[0].digest.slice(7)), "utf8")).layers.length;
    log(`auth: ${layers}-layer image, ${REPS} repetitions of no-auth and bcrypt costs ${COSTS.join(", ")} on registry lines ${LINES.join(", ")}`);

    let volume = "";
    let current: Client | undefined;
    let n = 0;
    /** The registry as the program makes it on `line`, with a fresh data volume (the container is replaced). */
    const deploy = async (line: Line, cost: number) => {
        const old = volume;
        volume = `bench-auth-${n++}`;
        const r = await upOk(e, lineStack(line, { bcryptCost: String(cost), dataVolume: volume, access: { pullOnly: false } }));
        if (old) await removeVolume(old); // its container is gone (replaced)
        const spec = await checkLine(e, line);
        const htpasswd = spec.uploads.find((u) => u.file === "/auth/htpasswd")!.content;
        if (!htpasswd.includes(`:$2y$${String(cost).padStart(2, "0")}$`)) throw new Error(`htpasswd is not cost ${cost}: ${htpasswd.slice(0, 12)}`);
        return (current = client(path.join(work, "client"), r.outputs));
    };

    /** One push and one pull, timed, with the requests each made. */
    const measure = async (v: Variant, rep: number) => {
        await must("sync", []); // no writeback of the previous run's blobs during this one
        let c: Client;
        let container = "bench-registry";
        const noauthVolume = `bench-noauth-${v.line}-${rep}`;
        if (v.cost === "none") {
            // the program's container (as last declared) on this line's image, minus REGISTRY_AUTH* and the
            // htpasswd, beside it on port 5001
            const spec = await declaredContainer(e);
            container = "bench-noauth";
            await startRegistry(container, 5001, noauthVolume, {
                image: env.registryImages[v.line], envs: spec.envs.filter((x) => !x.startsWith("REGISTRY_AUTH")),
                uploads: spec.uploads.filter((u) => u.file !== "/auth/htpasswd"),
            });
            c = { ...current!, registry: "127.0.0.1:5001" };
        } else {
            c = await deploy(v.line, v.cost);
        }
        const before = await requestCount(container);
        const pushS = await seconds(() => push(c, `${oci}:app`, "bench/layers:1"));
        const afterPush = await requestCount(container);
        const dest = path.join(work, `pulled-${v.line}-${v.cost}-${rep}`);
        const pullS = await seconds(() => pull(c, "bench/layers:1", `${dest}:app`));
        const afterPull = await requestCount(container);
        fs.rmSync(dest, { recursive: true, force: true });
        const requestMs = await getMs(c, gets(v.cost));
        if (v.cost === "none") await removeContainer(container, noauthVolume);
        return { line: v.line, variant: v.cost, rep, pushS, pullS, pushRequests: afterPush - before, pullRequests: afterPull - afterPush, requestMs };
    };

    // warm-up (untimed): page cache, container start paths, each line's image
    for (const line of LINES) {
        await measure({ line, cost: 4 }, -1);
        await measure({ line, cost: "none" }, -1);
    }

    const runs: Awaited<ReturnType<typeof measure>>[] = [];
    for (let rep = 0; rep < REPS; rep++) {
        for (const v of rotate(VARIANTS, rep)) {
            const m = await measure(v, rep);
            runs.push(m);
            log(`rep ${rep} ${name(v)}: push ${m.pushS.toFixed(2)} s (${m.pushRequests} req), pull ${m.pullS.toFixed(2)} s (${m.pullRequests} req), GET /v2/ ${m.requestMs.toFixed(1)} ms`);
        }
    }
    await e.destroy();
    await removeVolume(volume);
    fs.rmSync(work, { recursive: true, force: true });

    // every ratio is against the no-auth run of the same line in the same repetition
    const base = (line: Line, rep: number) => runs.find((r) => r.line === line && r.variant === "none" && r.rep === rep)!;
    const rows = VARIANTS.map((v) => {
        const mine = runs.filter((r) => r.line === v.line && r.variant === v.cost);
        return {
            line: v.line,
            variant: v.cost,
            pushS: stat(mine.map((r) => r.pushS)),
            pushRatio: stat(mine.map((r) => r.pushS / base(r.line, r.rep).pushS)),
            pushRequests: stat(mine.map((r) => r.pushRequests)),
            pullS: stat(mine.map((r) => r.pullS)),
            pullRatio: stat(mine.map((r) => r.pullS / base(r.line, r.rep).pullS)),
            pullRequests: stat(mine.map((r) => r.pullRequests)),
            requestMs: stat(mine.map((r) => r.requestMs)),
            // the bcrypt check: what one GET /v2/ costs more than without auth, paired within the repetition
            checkMs: stat(mine.map((r) => r.requestMs - base(r.line, r.rep).requestMs)),
        };
    });
    await writeResult("auth", { image: env.layersImage, layers, reps: REPS, lines: env.registryImages, defaultLine: DEFAULT_LINE, rows, runs });
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
