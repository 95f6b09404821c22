// 3. Node fan-out: the program's NodeTrust on 1, 4 and 8 nodes, the commands running concurrently as the
// engine runs independent resources; a bare `ssh true` to the same nodes, the same way, is the floor.
// Checks one SSH session per node per change, none on an unchanged second up, and which daemons restarted.
import { LiveEngine } from "../test/live/engine";
import { env, log, QUICK, rotate, scratch, seconds, stackFile, stat, upOk, writeResult } from "./lib";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REPS = QUICK ? 2 : 5;
const SIZES = [1, 4, 8];

interface Node { name: string; host: string; port: number; user: string; runtime: string; hostKey: string; containerdRestartCommand?: string | null }
const nodes: Node[] = env.nodes; // a-d from the suite, f-i from LIVE_EXTRA_NODES=4
if (nodes.length < Math.max(...SIZES)) throw new Error(`need ${Math.max(...SIZES)} nodes, the environment has ${nodes.length}`);

/** The engine, recording when each SSH session starts and ends. */
class Timed extends LiveEngine {
    spans: { host: string; start: number; end: number }[] = [];
    override async ssh(name: string, inputs: any, command: string): Promise<{ stdout: string; stderr: string }> {
        const start = performance.now();
        try {
            return await super.ssh(name, inputs, command);
        } finally {
            this.spans.push({ host: inputs.connection.host, start, end: performance.now() });
        }
    }
}

/** The live suite's stack (docker.registry.com, /etc/hosts line on every node) with the given nodes. */
function stack(list: Node[]): Record<string, any> {
    const cfg = stackFile("test/live/Pulumi.live.yaml");
    delete cfg.services;
    return {
        ...cfg, dockerHost: env.dockerHost, image: env.registryImage, containerName: "bench-fanout", dataVolume: "bench-fanout-data",
        bindAddress: ["127.0.0.1", env.hostAddress], ipAddresses: [env.hostAddress],
        nodes: list.map((n) => ({
            name: n.name, host: n.host, port: n.port, user: n.user, runtime: n.runtime, hostKey: n.hostKey, privateKeyPath: env.sshKeyPath,
            hostsAddress: env.hostAddress, perDialTimeout: 5, dialErrorLimit: 2,
            ...(n.containerdRestartCommand ? { containerdRestartCommand: n.containerdRestartCommand } : {}),
        })),
    };
}

/** The fan-out sizes (the first 1, 4, 8 nodes), and each other kind of node alone, for its uncontended script time. */
const CASES: { name: string; nodes: Node[] }[] = [
    ...SIZES.map((k) => ({ name: String(k), nodes: nodes.slice(0, k) })),
    ...["b", "c", "d", "g"].map((n) => ({ name: `alone ${n}`, nodes: nodes.filter((x) => x.name === n) })),
];

async function main(): Promise<void> {
    const e = new Timed(scratch("engine"), (l) => log(l));
    await upOk(e, stack([])); // the registry and certificates, so the timed ups only touch nodes
    const runtimeOf = new Map(nodes.map((n) => [n.host, n.user === "root" ? n.runtime : `${n.runtime} via sudo`]));
    const nameOf = new Map(nodes.map((n) => [n.host, n.name]));
    const wall = (spans: Timed["spans"]) => (Math.max(...spans.map((s) => s.end)) - Math.min(...spans.map((s) => s.start))) / 1000;
    const restarted = (out: string) => out.split("\n").filter((l) => l.startsWith("restarted:")).map((l) => l.replace(/^restarted: (\S+).*/, "$1"));

    const measure = async (c: (typeof CASES)[number], rep: number) => {
        // trust: one up that adds the nodes
        e.spans = [];
        const ranBefore = e.commandRuns.length;
        const upS = await seconds(() => upOk(e, stack(c.nodes)));
        const runs = e.commandRuns.slice(ranBefore);
        const trustWallS = wall(e.spans);
        const sessions = c.nodes.map((n) => runs.filter((r) => r.host === n.host).length);
        const restarts = runs.flatMap((r) => restarted(r.stdout).map((d) => `${nameOf.get(r.host)}: ${d}`));
        // per runtime; a run that had to restart its runtime's daemon counted apart
        const scripts = runs.map((r) => ({ runtime: `${runtimeOf.get(r.host)}${restarted(r.stdout).length ? " + restart" : ""}`, ms: r.ms }));
        // an unchanged second up: no session at all
        const again = e.commandRuns.length;
        const second = await upOk(e, stack(c.nodes));
        const secondSessions = e.commandRuns.length - again;
        const secondChanged = [...second.actions].filter(([, a]) => a !== "same").map(([n]) => n);
        // the floor: `ssh true` to the same nodes, the same way, all at once
        const conns = [...e.state.values()].filter((x) => x.type === "command:remote:Command").map((x) => x.inputs);
        e.spans = [];
        await Promise.all(conns.map((inputs) => e.ssh("floor", { connection: inputs.connection }, "true")));
        const floorWallS = wall(e.spans);
        e.commandRuns.splice(again); // the floor is not part of the program's runs
        // undo (the nodes' deletes), so the next repetition starts from untouched nodes
        await upOk(e, stack([]));
        return { case: c.name, rep, upS, trustWallS, floorWallS, sessions: stat(sessions), secondSessions, secondChanged, restarts, scripts };
    };

    await measure(CASES[0], -1); // warm-up (untimed)
    const runs: Awaited<ReturnType<typeof measure>>[] = [];
    for (let rep = 0; rep < REPS; rep++) {
        for (const c of rotate(CASES, rep)) {
            const m = await measure(c, rep);
            runs.push(m);
            log(`rep ${rep} ${c.name} node(s): trust ${m.trustWallS.toFixed(2)} s (up ${m.upS.toFixed(2)} s), ssh true ${m.floorWallS.toFixed(2)} s, `
                + `sessions/node ${m.sessions.min}-${m.sessions.max}, second up ${m.secondSessions} sessions${m.restarts.length ? `; restarted ${m.restarts.join(", ")}` : ""}`);
        }
    }
    await e.destroy();
    e.cleanup();

    const scriptMs = (cases: string[]) => {
        const byRuntime = new Map<string, number[]>();
        for (const s of runs.filter((r) => cases.includes(r.case)).flatMap((r) => r.scripts)) byRuntime.set(s.runtime, [...(byRuntime.get(s.runtime) ?? []), s.ms]);
        return Object.fromEntries([...byRuntime].map(([rt, ms]) => [rt, stat(ms)]));
    };
    const rows = CASES.map((c) => {
        const mine = runs.filter((r) => r.case === c.name);
        return {
            case: c.name,
            count: c.nodes.length,
            nodes: c.nodes.map((n) => `${n.name}:${runtimeOf.get(n.host)}`),
            trustWallS: stat(mine.map((r) => r.trustWallS)),
            upS: stat(mine.map((r) => r.upS)),
            floorWallS: stat(mine.map((r) => r.floorWallS)),
            vsFloor: stat(mine.map((r) => r.trustWallS / r.floorWallS)),
            sessionsPerNode: { min: Math.min(...mine.map((r) => r.sessions.min)), max: Math.max(...mine.map((r) => r.sessions.max)) },
            secondUpSessions: Math.max(...mine.map((r) => r.secondSessions)),
            secondUpChanged: [...new Set(mine.flatMap((r) => r.secondChanged))],
            restarts: [...new Set(mine.flatMap((r) => r.restarts))],
            scriptMs: scriptMs([c.name]),
        };
    });
    // each runtime's script alone (the 1-node case and the "alone" cases), and within the 4- and 8-node fan-outs
    const scripts = { alone: scriptMs(CASES.filter((c) => c.nodes.length === 1).map((c) => c.name)), "4": scriptMs(["4"]), "8": scriptMs(["8"]) };
    await writeResult("fanout", { reps: REPS, rows, scripts, runs });
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
