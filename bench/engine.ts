// 5. The real engine: a no-op `pulumi up` of the dev stack against `pulumi up` of an empty program (the
// engine's floor), `pulumi preview` with 1, 10 and 100 nodes, and a cold `up` of the dev stack against
// the seed recipe's steps scripted by hand (bench/recipe.sh) on the same dockerd.
import * as fs from "fs";
import * as path from "path";
import { changed, Stack } from "../test/live/cli";
import { env, log, must, QUICK, removeContainer, removeVolume, rotate, scratch, seconds, stackFile, stat, writeResult } from "./lib";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REPS = QUICK ? 3 : 7;
const NODE_COUNTS = [1, 10, 100];

/** The dev stack (Pulumi.dev.yaml) on the live dockerd, with the locally built registry image. */
const devConfig = (extra: Record<string, any> = {}) => ({
    ...stackFile("Pulumi.dev.yaml"), dockerHost: env.dockerHost, image: env.registryImage, containerName: "bench-dev", dataVolume: "bench-dev-data", ...extra,
});

/** A program that declares nothing: what every `pulumi up` costs. */
function emptyProgram(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: empty\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    fs.writeFileSync(path.join(dir, "index.ts"), "export const nothing = 0;\n");
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", skipLibCheck: true }, files: ["index.ts"] }));
    return dir;
}

function nodes(n: number): any[] {
    // preview runs no command, so these are never dialled; loopback addresses all the same
    return Array.from({ length: n }, (_, i) => ({
        name: `n${i}`, host: `127.1.0.${i + 1}`, runtime: ["docker", "containerd", "crio"][i % 3], privateKeyPath: env.sshKeyPath,
    }));
}

async function main(): Promise<void> {
    const work = scratch("engine");
    // 1. no-op up vs an empty program
    const dev = new Stack(work, "dev");
    await dev.init();
    await dev.configure(devConfig());
    const first = await dev.up();
    if (first.code !== 0) throw new Error(`${first.stderr}\n${first.stdout.slice(-3000)}`);
    const empty = new Stack(work, "empty", emptyProgram(path.join(work, "src", "empty")));
    await empty.init();
    await empty.up();
    const noop: number[] = [];
    const floor: number[] = [];
    let changes = 0;
    for (let rep = 0; rep < REPS; rep++) {
        for (const which of rotate(["dev", "empty"], rep)) {
            const o = await (which === "dev" ? dev : empty).up();
            if (o.code !== 0) throw new Error(`${o.stderr}\n${o.stdout.slice(-3000)}`);
            (which === "dev" ? noop : floor).push(o.ms / 1000);
            if (which === "dev") changes += changed(o).length;
        }
    }
    log(`no-op up ${stat(noop).median.toFixed(2)} s, empty program ${stat(floor).median.toFixed(2)} s, changes ${changes}`);

    // 2. preview with 1, 10, 100 nodes (a stack each, never deployed)
    const preview: Record<number, number[]> = {};
    const stacks = new Map<number, Stack>();
    for (const n of NODE_COUNTS) {
        const s = new Stack(work, `nodes-${n}`);
        await s.init();
        await s.configure(devConfig({ nodes: nodes(n), containerName: `bench-n${n}` }));
        stacks.set(n, s);
        preview[n] = [];
    }
    for (let rep = 0; rep < REPS; rep++) {
        for (const n of rotate(NODE_COUNTS, rep)) {
            const p = await stacks.get(n)!.preview();
            if (p.code !== 0) throw new Error(`${p.stderr}\n${p.stdout.slice(-3000)}`);
            preview[n].push(p.ms / 1000);
        }
    }
    log(`preview: ${NODE_COUNTS.map((n) => `${n} nodes ${stat(preview[n]).median.toFixed(2)} s`).join(", ")}`);

    // 3. cold up of the dev stack vs the recipe by hand
    const cold: number[] = [];
    const recipe: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
        for (const which of rotate(["up", "recipe"], rep)) {
            if (which === "up") {
                const d = await dev.destroy();
                if (d.code !== 0) throw new Error(`${d.stderr}\n${d.stdout.slice(-3000)}`);
                await removeVolume("bench-dev-data");
                const o = await dev.up();
                if (o.code !== 0) throw new Error(`${o.stderr}\n${o.stdout.slice(-3000)}`);
                cold.push(o.ms / 1000);
            } else {
                const dir = fs.mkdtempSync(path.join(work, "recipe-"));
                recipe.push(await seconds(() => must("bash", [path.join(__dirname, "recipe.sh"), dir, env.registryImage],
                    { env: { ...process.env, DOCKER_HOST: env.dockerHost } })));
                await removeContainer("bench-recipe", "bench-recipe-data");
            }
        }
    }
    log(`cold up ${stat(cold).median.toFixed(2)} s, recipe by hand ${stat(recipe).median.toFixed(2)} s`);
    await dev.destroy();
    await removeVolume("bench-dev-data");
    await writeResult("engine", {
        reps: REPS, noopUp: stat(noop), emptyUp: stat(floor), noopChanges: changes,
        preview: Object.fromEntries(NODE_COUNTS.map((n) => [n, stat(preview[n])])),
        coldUp: stat(cold), recipe: stat(recipe),
    });
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
