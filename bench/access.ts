// 6. Two logins: the front's cost. One 256 MiB layer of random bytes pushed and pulled through the program's
// registry as it deploys by default (access.pullOnly: nginx terminates TLS and passes each request, re-encrypted
// on a docker network, to a read-only registry or to the writer) and as it did before the front
// (access.pullOnly: false: the registry container publishes the port itself), side by side in every repetition.
import * as fs from "fs";
import * as path from "path";
import { randomImage } from "./throughput";
import { BenchStack, checkLine, Client, client, DEFAULT_LINE, docker, env, lineStack, log, must, pull, push, QUICK, removeVolume, rotate,
    scratch, seconds, stat, upOk, writeResult } from "./lib";

const REPS = QUICK ? 2 : 5;
const MIB = 256;
type Variant = "front" | "direct";
const VARIANTS: Variant[] = ["front", "direct"];
/**
 * Each variant is a stack of its own, both up for the whole run (the front's containers and the direct one
 * cannot share a name or a port), on 127.0.0.1 at ports away from the live suite's 5000 and 5001.
 */
const PORT: Record<Variant, number> = { front: 5780, direct: 5781 };
const ACCESS: Record<Variant, Record<string, unknown>> = { front: {}, direct: { pullOnly: false } };

async function main(): Promise<void> {
    const line = DEFAULT_LINE;
    const work = scratch("access");
    const stacks = new Map(VARIANTS.map((v) => [v, new BenchStack(`bench-${v}`)]));
    const volumes = new Map<Variant, string>();
    const frontImageId = (await docker("image", "inspect", "-f", "{{.Id}}", env.frontImage)).trim();
    let n = 0;

    /** The variant's stack with a fresh data volume (the engine replaces its registry containers), and its push login. */
    const deploy = async (v: Variant): Promise<Client> => {
        const e = stacks.get(v)!;
        const old = volumes.get(v);
        const volume = `bench-access-${v}-${n++}`;
        volumes.set(v, volume);
        const { outputs } = await upOk(e, lineStack(line, {
            port: String(PORT[v]), containerName: `bench-${v}`, dataVolume: volume, access: ACCESS[v],
        }));
        if (old) await removeVolume(old); // its containers are gone (replaced)
        await checkLine(e, line); // the registry (behind the front: the writer) runs the default line's image
        // what publishes the port: the front's nginx, or the registry itself
        const published = (await docker("container", "inspect", "-f", "{{.Image}}", `bench-${v}`)).trim();
        if ((published === frontImageId) !== (v === "front")) throw new Error(`bench-${v} runs ${published}, the front's image is ${frontImageId}`);
        return client(path.join(work, `client-${v}`), outputs);
    };

    try {
        const oci = path.join(work, "image");
        const { bytes } = await randomImage(oci, MIB);
        log(`access: ${(bytes / 2 ** 20).toFixed(1)} MiB layer, registry ${line}.x, ${REPS} repetitions of ${VARIANTS.join(", ")}`);

        const measure = async (v: Variant, rep: number) => {
            const c = await deploy(v);
            await must("sync", []); // no dirty pages of the previous run nor of the containers' start on the clock
            const pushS = await seconds(() => push(c, `${oci}:big`, "bench/big:1"));
            await must("sync", []);
            const dest = path.join(work, `pulled-${v}-${rep}`);
            const pullS = await seconds(() => pull(c, "bench/big:1", `${dest}:big`));
            fs.rmSync(dest, { recursive: true, force: true });
            if (v === "front") {
                // the push really went through nginx (its access log), not around it
                const logs = await docker("logs", "bench-front");
                if (!/"PUT \/v2\/bench\/big\/manifests\/1 /.test(logs)) throw new Error("the front logged no manifest PUT");
            }
            return { variant: v, rep, pushS, pullS, pushMBs: bytes / 1e6 / pushS, pullMBs: bytes / 1e6 / pullS };
        };

        for (const v of VARIANTS) await measure(v, -1); // warm-up (untimed): page cache, both images, container start paths
        const runs: Awaited<ReturnType<typeof measure>>[] = [];
        for (let rep = 0; rep < REPS; rep++) {
            for (const v of rotate(VARIANTS, rep)) {
                const m = await measure(v, rep);
                runs.push(m);
                log(`rep ${rep} ${v}: push ${m.pushS.toFixed(2)} s (${m.pushMBs.toFixed(0)} MB/s), pull ${m.pullS.toFixed(2)} s (${m.pullMBs.toFixed(0)} MB/s)`);
            }
        }

        const of = (v: Variant, rep: number) => runs.find((r) => r.variant === v && r.rep === rep)!;
        // throughput of a variant against the direct registry's in the same repetition: direct seconds / its seconds
        const pairs = Array.from({ length: REPS }, (_, rep) => ({
            rep, order: rotate(VARIANTS, rep),
            push: of("direct", rep).pushS / of("front", rep).pushS, pull: of("direct", rep).pullS / of("front", rep).pullS,
        }));
        const rows = VARIANTS.map((v) => {
            const mine = runs.filter((r) => r.variant === v);
            return {
                variant: v,
                pushS: stat(mine.map((r) => r.pushS)), pullS: stat(mine.map((r) => r.pullS)),
                pushMBs: stat(mine.map((r) => r.pushMBs)), pullMBs: stat(mine.map((r) => r.pullMBs)),
                pushVsDirect: stat(mine.map((r) => of("direct", r.rep).pushS / r.pushS)),
                pullVsDirect: stat(mine.map((r) => of("direct", r.rep).pullS / r.pullS)),
            };
        });
        await writeResult("access", { bytes, reps: REPS, lines: { [line]: env.registryImages[line] }, line, frontImage: env.frontImage, ports: PORT, rows, pairs, runs });
    } finally {
        for (const [v, e] of stacks) {
            await e.destroy().catch((err) => log(`destroy bench-${v}: ${err}`));
            // a failed or partial destroy leaves its containers: remove them by name (they are this bench's alone)
            for (const c of [`bench-${v}`, `bench-${v}-reader`, `bench-${v}-writer`]) await docker("rm", "-f", "-v", c).catch(() => undefined);
        }
        await docker("network", "rm", "bench-front-net").catch(() => undefined);
        for (const volume of volumes.values()) await removeVolume(volume);
        fs.rmSync(work, { recursive: true, force: true });
        for (const e of stacks.values()) fs.rmSync(e.stack.work, { recursive: true, force: true });
    }
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err);
        process.exit(1);
    });
}
