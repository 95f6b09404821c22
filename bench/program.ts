// 4. Program size: the time index.ts takes to declare its whole resource graph (plain mocks, fake outputs)
// for 1, 10, 100 and 500 nodes; it must grow no worse than linearly with the node count.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { realPki } from "../test/unit/mocks";
import { log, QUICK, rotate, stat, writeResult } from "./lib";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REPS = QUICK ? 3 : 9;
const SIZES = [1, 10, 100, 500];
const INDEX = require.resolve("../index");
const sshKey = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const RUNTIMES = ["docker", "containerd", "crio", "none"];

let registered = 0;
let target = Infinity;
let reached: () => void = () => undefined;

/** Fake provider outputs, except certificates: node scripts parse the CA they are given. */
function outputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
    switch (type) {
        case "tls:index/selfSignedCert:SelfSignedCert": return { certPem: realPki("bench").caCertPem, validityEndTime: "2036-01-01T00:00:00Z" };
        case "tls:index/locallySignedCert:LocallySignedCert": return { certPem: realPki("bench").certPem, validityEndTime: "2027-01-01T00:00:00Z" };
        case "tls:index/privateKey:PrivateKey": return { privateKeyPem: realPki("bench").keyPem, publicKeyPem: "" };
        case "random:index/randomPassword:RandomPassword": return { result: "p".repeat(inputs.length) };
        case "random:index/randomBytes:RandomBytes": return { base64: Buffer.alloc(inputs.length, 7).toString("base64") };
        case "command:remote:Command": return { stdout: "unchanged\n", stderr: "" };
        default: return { name };
    }
}

/** One run of index.ts with `count` nodes: ms until the last resource reached the (mock) engine. */
async function build(count: number): Promise<{ ms: number; resources: number }> {
    pulumi.runtime.setAllConfig({
        "private-registry:hostname": "docker.registry.com",
        "private-registry:nodes": JSON.stringify(Array.from({ length: count }, (_, i) => ({
            name: `n${i}`, host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, privateKey: sshKey,
            runtime: RUNTIMES[i % RUNTIMES.length], hostsAddress: "10.255.0.1",
        }))),
    }, ["private-registry:nodes"]);
    registered = 0;
    const done = new Promise<void>((r) => (reached = r));
    delete require.cache[INDEX];
    const t = performance.now();
    await pulumi.runtime.runInPulumiStack(async () => {
        require(INDEX); // eslint-disable-line @typescript-eslint/no-require-imports
        return undefined;
    });
    if (target !== Infinity) await done;
    const ms = performance.now() - t;
    // when calibrating, wait until no registration arrives for a while
    for (let last = -1; target === Infinity && last !== registered;) {
        last = registered;
        await new Promise((r) => setTimeout(r, 200));
    }
    return { ms, resources: registered };
}

async function main(): Promise<void> {
    await pulumi.runtime.setMocks({
        newResource: (a) => {
            if (++registered === target) reached();
            return { id: `${a.name}-id`, state: { ...a.inputs, ...outputs(a.type, a.name, a.inputs) } };
        },
        call: (a) => { throw new Error(`unexpected call ${a.token}`); },
    }, "private-registry", "bench", false);

    // calibrate: how many resources each size declares (also the warm-up)
    const expected = new Map<number, number>();
    for (const n of SIZES) {
        target = Infinity;
        expected.set(n, (await build(n)).resources);
    }
    log(`program: resources per size ${[...expected].map(([n, r]) => `${n} node(s): ${r}`).join(", ")}`);
    const runs: { count: number; rep: number; ms: number }[] = [];
    for (let rep = 0; rep < REPS; rep++) {
        for (const count of rotate(SIZES, rep)) {
            target = expected.get(count)!;
            const { ms, resources } = await build(count);
            if (resources !== target) throw new Error(`${count} nodes: ${resources} resources, expected ${target}`);
            runs.push({ count, rep, ms });
            await new Promise((r) => setTimeout(r, 100)); // let the run's last bookkeeping finish off the clock
        }
    }
    const ms = (n: number) => stat(runs.filter((r) => r.count === n).map((r) => r.ms));
    const rows = SIZES.map((count) => ({
        count,
        resources: expected.get(count)!,
        ms: ms(count),
        msPerNode: stat(runs.filter((r) => r.count === count).map((r) => r.ms / count)),
        // time per node over the step from the previous size (the marginal cost of a node)
        marginalMsPerNode: count === SIZES[0] ? undefined : (() => {
            const prev = SIZES[SIZES.indexOf(count) - 1];
            return (ms(count).median - ms(prev).median) / (count - prev);
        })(),
    }));
    for (const r of rows) log(`${r.count} node(s): ${r.ms.median.toFixed(0)} ms (${r.ms.min.toFixed(0)}-${r.ms.max.toFixed(0)}), ${r.resources} resources`);
    // growth exponent between 100 and 500 nodes: 1 is linear
    const exponent = Math.log(ms(500).median / ms(100).median) / Math.log(5);
    await writeResult("program", { reps: REPS, rows, exponent100to500: exponent, runs });
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
