// Turns bench/results/*.json into the tables of docs/BENCHMARKS.md (between its `<!-- bench:NAME -->` and
// `<!-- /bench:NAME -->` markers; the prose around them is written by hand). With --quick it reads
// bench/results/quick/ and only prints the tables. test/unit/benchmarks.test.ts checks that the
// committed document holds exactly what this makes of the committed results.
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_BCRYPT_COST } from "../components/config/config";
import { SCHEMA } from "../components/config/configSchema";

/* eslint-disable @typescript-eslint/no-explicit-any */
const ROOT = path.resolve(__dirname, "..");
export const RESULTS_DIR = path.join(ROOT, "bench", "results");
export const DOC = path.join(ROOT, "docs", "BENCHMARKS.md");
const AUTH_GOAL = 1.3;
/** On the default registry line: TLS + htpasswd against the same image with plain HTTP and no auth. */
const THROUGHPUT_GOAL = 0.95;
/** The front (access.pullOnly, the default) against the registry publishing its port itself: at most 10 % cost. */
const ACCESS_GOAL = 0.9;
const ENGINE_NOOP_GOAL = 1.5;
const ENGINE_NODES_GOAL = 3;

interface Stat { median: number; min: number; max: number }
const f = (x: number, d: number) => x.toFixed(d);
/** `median (min–max)` */
const s = (x: Stat | undefined, d = 2, unit = "") => x ? `${f(x.median, d)}${unit} (${f(x.min, d)}–${f(x.max, d)})` : "–";
const n = (x: Stat) => x.min === x.max ? String(x.median) : `${x.median} (${x.min}–${x.max})`;
const table = (head: string[], rows: string[][]) =>
    [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
const load = (dir: string, name: string): any => {
    const file = path.join(dir, `${name}.json`);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined;
};
const runInfo = (r: any) => `_${r.mode} run of ${r.date.slice(0, 16).replace("T", " ")} UTC, ${r.reps} repetitions${r.load ? `, load average ${f(r.load.start, 1)} at the start` : ""}; median (min–max)._`;

function machine(results: any[]): string {
    const latest = [...results].sort((a, b) => b.date.localeCompare(a.date))[0];
    const label: Record<string, string> = { "cpu": "nproc × CPU", "registry 2": "registry, 2.x line", "registry 3": "registry, 3.x line" };
    return table(["", "version / size"], Object.entries<string>(latest.machine).map(([k, v]) => [label[k] ?? k, `\`${v}\``]));
}

/** The registry line (major version) the program's default image is on. */
const DEFAULT_LINE = /registry:(\d+)/.exec(SCHEMA.image.default)?.[1];
/** A line's name in the tables: the version its image was built from, the default marked. */
const lineName = (r: any, line: string, mark = true) => {
    const version = /:(\d+\.\d+\.\d+)/.exec(r.lines?.[line] ?? "")?.[1] ?? `${line}.x`;
    return mark && line === DEFAULT_LINE ? `${version} (default)` : version;
};
/** The other lines' figures, for comparison with the default's. */
const others = (r: any, text: (line: string) => string) => {
    const lines = Object.keys(r.lines).filter((l) => l !== DEFAULT_LINE);
    return lines.length ? ` For comparison, ${lines.map((l) => `registry ${lineName(r, l)}: ${text(l)}`).join("; ")}.` : "";
};

function auth(r: any): string {
    const rows = r.rows.map((x: any) => [
        lineName(r, x.line),
        x.variant === "none" ? "no auth" : `bcrypt ${x.variant}${x.variant === DEFAULT_BCRYPT_COST ? " (default)" : ""}`,
        s(x.pushS), s(x.pushRatio, 2, "x"), n(x.pushRequests), s(x.pullS), s(x.pullRatio, 2, "x"), n(x.pullRequests),
        s(x.requestMs, 1), x.variant === "none" ? "–" : s(x.checkMs, 1),
    ]);
    const at = (line: string) => r.rows.find((x: any) => x.line === line && x.variant === DEFAULT_BCRYPT_COST);
    const figures = (x: any) => `push ${f(x.pushRatio.median, 2)}x, pull ${f(x.pullRatio.median, 2)}x`;
    const met = (x: any) => x.pushRatio.median <= AUTH_GOAL && x.pullRatio.median <= AUTH_GOAL;
    const def = DEFAULT_LINE ? at(DEFAULT_LINE) : undefined;
    const verdict = def
        ? `Goal: auth at most ${AUTH_GOAL}x of no-auth at the default cost ${DEFAULT_BCRYPT_COST}, on the default registry ${lineName(r, DEFAULT_LINE!, false)}: `
            + `${figures(def)}: ${met(def) ? "**met**" : "**not met**"}.`
            + others(r, (l) => (at(l) ? `${figures(at(l))} (${met(at(l)) ? "within" : "beyond"} ${AUTH_GOAL}x)` : "not measured"))
        : `The default cost ${DEFAULT_BCRYPT_COST} on the default registry line was not measured in this run.`;
    return [
        `${r.layers}-layer image (\`${r.image}\`), skopeo push from an \`oci:\` layout, then pull to a fresh \`oci:\` dir; fresh registry storage for every push. `
            + `Every ratio is against the no-auth registry of the same line in the same repetition. ${runInfo(r)}`,
        "",
        table(["registry", "auth", "push s", "push vs no auth", "push requests", "pull s", "pull vs no auth", "pull requests", "GET /v2/ ms", "check ms (vs no auth)"], rows),
        "",
        verdict,
    ].join("\n");
}

function throughput(r: any): string {
    const label: Record<string, string> = { ours: "as configured (TLS + htpasswd)", plain: "same image, plain HTTP, no auth", cp: "`cp` + `sync` (same disk)" };
    const rows = r.rows.map((x: any) => [x.line ? lineName(r, x.line) : "–", label[x.variant], s(x.pushMBs, 0), s(x.pullMBs, 0),
        s(x.pushVsPlain, 2, "x"), s(x.pullVsPlain, 2, "x"), s(x.pushVsCp, 2, "x")]);
    const ours = (line: string) => r.rows.find((x: any) => x.line === line && x.variant === "ours");
    const ok = (x: any, k: string) => (x[k].median >= THROUGHPUT_GOAL ? "met" : "**missed**");
    const figures = (x: any) => `push ${s(x.pushVsPlain, 2, "x")}: ${ok(x, "pushVsPlain")}, pull ${s(x.pullVsPlain, 2, "x")}: ${ok(x, "pullVsPlain")}`;
    const def = DEFAULT_LINE ? ours(DEFAULT_LINE) : undefined;
    return [
        `One layer of ${f(r.bytes / 2 ** 20, 1)} MiB of random bytes; MB/s = 10^6 bytes per second as the client sees it; every ratio is between runs of the same repetition. ${runInfo(r)}`,
        "",
        table(["registry", "path", "push (write) MB/s", "pull MB/s", "push vs plain", "pull vs plain", "write vs cp+sync"], rows),
        "",
        def
            ? `Goal: on the default registry ${lineName(r, DEFAULT_LINE!, false)}, TLS + htpasswd at least ${THROUGHPUT_GOAL}x of the same registry's plain-HTTP, no-auth throughput: `
                + `${figures(def)}.${others(r, (l) => (ours(l) ? figures(ours(l)).replace(/\*\*/g, "") : "not measured"))}`
            : "The default registry line was not measured in this run.",
    ].join("\n");
}

function access(r: any): string {
    const label: Record<string, string> = {
        front: "front (default): nginx, then reader or writer", direct: "direct (`access.pullOnly: false`): the registry publishes the port",
    };
    const rows = r.rows.map((x: any) => [lineName(r, r.line), label[x.variant], s(x.pushMBs, 0), s(x.pullMBs, 0), s(x.pushVsDirect, 2, "x"), s(x.pullVsDirect, 2, "x")]);
    const front = r.rows.find((x: any) => x.variant === "front");
    const ok = (k: string) => (front[k].median >= ACCESS_GOAL ? "met" : "**missed**");
    return [
        `One layer of ${f(r.bytes / 2 ** 20, 1)} MiB of random bytes pushed, then pulled, with the push login; MB/s = 10^6 bytes per second as the client sees it; `
            + `"vs direct" is the direct registry's time over this one's in the same repetition (above 1: faster). ${runInfo(r)}`,
        "",
        table(["registry", "path", "push MB/s", "pull MB/s", "push vs direct", "pull vs direct"], rows),
        "",
        `Goal: through the front at least ${f(ACCESS_GOAL, 2)}x of the direct registry's throughput (at most ${f(100 * (1 - ACCESS_GOAL), 0)} % cost): `
            + `push ${s(front.pushVsDirect, 2, "x")}: ${ok("pushVsDirect")}, pull ${s(front.pullVsDirect, 2, "x")}: ${ok("pullVsDirect")}. `
            + `Each repetition, front vs direct (push / pull): ${r.pairs.map((p: any) => `${f(p.push, 2)} / ${f(p.pull, 2)}`).join("; ")}.`
            + (r.mode === "quick" ? " A quick run: too few repetitions to judge the goal." : ""),
    ].join("\n");
}

function engine(r: any): string {
    const ratio = (a: Stat, b: Stat) => a.median / b.median;
    const noop = ratio(r.noopUp, r.emptyUp);
    const grow = ratio(r.preview["100"], r.preview["1"]);
    return [
        `The real CLI and plugins, whole \`pulumi\` runs timed from outside. ${runInfo(r)}`,
        "",
        table(["what", "seconds", "vs", "ratio", "goal"], [
            ["no-op `up` of the dev stack", s(r.noopUp), `\`up\` of an empty program: ${s(r.emptyUp)}`, `${f(noop, 2)}x`, `≤ ${ENGINE_NOOP_GOAL}x: ${noop <= ENGINE_NOOP_GOAL ? "met" : "**missed**"}`],
            ["`preview`, 100 nodes", s(r.preview["100"]), `1 node: ${s(r.preview["1"])}; 10 nodes: ${s(r.preview["10"])}`, `${f(grow, 2)}x`, `≤ ${ENGINE_NODES_GOAL}x: ${grow <= ENGINE_NODES_GOAL ? "met" : "**missed**"}`],
            ["cold `up` of the dev stack", s(r.coldUp), `the recipe by hand: ${s(r.recipe)}`, `${f(ratio(r.coldUp, r.recipe), 2)}x`, "–"],
        ]),
        "",
        `Changes reported by the ${r.reps} no-op \`up\`s: ${r.noopChanges} (the dev stack has no nodes, so no SSH session either).`,
    ].join("\n");
}

function program(r: any): string {
    const rows = r.rows.map((x: any) => [String(x.count), String(x.resources), s(x.ms, 0), s(x.msPerNode, 2),
        x.marginalMsPerNode === undefined ? "–" : f(x.marginalMsPerNode, 2)]);
    return [
        `\`index.ts\` under \`pulumi.runtime.setMocks\` (fake outputs), from \`require\` to the last resource registered. ${runInfo(r)}`,
        "",
        table(["nodes", "resources", "ms", "ms per node", "marginal ms per added node"], rows),
        "",
        `Growth from 100 to 500 nodes: time ∝ nodes^${f(r.exponent100to500, 2)} (1 is linear): ${r.exponent100to500 <= 1.1 ? "**no worse than linear**" : "**worse than linear**"}.`,
    ].join("\n");
}

function cluster(r: any): string {
    const label: Record<string, string> = { single: "single host, its volume", "cluster-1": "cluster mode, S3, 1 replica", "cluster-2": "cluster mode, S3, 2 replicas" };
    const rows = r.rows.map((x: any) => [label[x.mode], f(x.coldUpS, 1), s(x.pushMBs, 0), s(x.pullMBs, 0), s(x.layersS, 2),
        `${s(x.pushVsSingle)}x`, `${s(x.pullVsSingle)}x`, `${s(x.layersVsSingle)}x`]);
    return [
        `One layer of ${f(r.bytes / 2 ** 20, 1)} MiB of random bytes pushed and pulled, then the 23-layer image pushed, through each registry in turn; ` +
        `ratios are to the single-host registry in the same repetition (above 1: faster). ${runInfo(r)}`,
        "",
        table(["registry", "cold `up` s", "push MB/s", "pull MB/s", "23 layers push s", "push vs single", "pull vs single", "23 layers vs single"], rows),
        "",
        `A rolling rotation of the 2 replicas (\`tls.rotation\` bumped: a new leaf key and certificate, the pods replaced one by one): \`up\` took ${f(r.rotationS, 1)} s.`,
    ].join("\n");
}

function maintenance(r: any): string {
    const rows = r.runs.map((x: any, i: number) => [String(i + 1), f(x.dryMs / 1000, 2), f(x.runMs / 1000, 2), f(x.windowMs / 1000, 2), String(x.deletedTags),
        String(x.deletedManifests), String(x.blobsSwept), f(x.bytesFreed / 2 ** 20, 1), `${x.verified.tags} / ${x.verified.manifests} / ${x.verified.blobs}`]);
    return [
        `${r.repositories} repositories × ${r.tagsPerRepository} tags (${r.repositories * r.tagsPerRepository} tags; a shared 1 MiB base layer, a unique 64 KiB layer and a config each), `
            + `retention \`keepLast: ${r.keepLast}\`, registry ${r.line}.x on a docker host; times as the runner reports them. ${runInfo(r)}`,
        "",
        table(["run", "dry run s", "run s", "window s", "tags deleted", "manifests deleted", "blobs swept", "MiB freed", "verified tags / manifests / blobs"], rows),
        "",
        `Median: dry run ${s(r.dryRunS)} s, run ${s(r.runS)} s, pushes refused for ${s(r.windowS)} s.`,
    ].join("\n");
}

const sections: Record<string, (r: any) => string> = { auth, throughput, access, engine, program, cluster, maintenance };

/** Section name → the text that belongs between its markers, from the results in `dir`. */
export function reportBlocks(dir = RESULTS_DIR): Map<string, string> {
    const results = Object.keys(sections).map((name) => load(dir, name)).filter(Boolean);
    if (results.length === 0) throw new Error(`no results under ${path.relative(ROOT, dir)}`);
    const blocks = new Map<string, string>([["machine", machine(results)]]);
    for (const r of results) blocks.set(r.bench, sections[r.bench](r));
    return blocks;
}

/** `doc` with each block put between its markers; a missing section is an error, not a silent skip. */
export function withBlocks(doc: string, blocks: Map<string, string>): string {
    for (const [name, text] of blocks) {
        const re = new RegExp(`(<!-- bench:${name} -->)[\\s\\S]*?(<!-- /bench:${name} -->)`);
        if (!re.test(doc)) throw new Error(`${path.relative(ROOT, DOC)} has no <!-- bench:${name} --> section`);
        doc = doc.replace(re, (_m, a, b) => `${a}\n${text}\n${b}`);
    }
    return doc;
}

if (require.main === module) {
    if (process.argv.includes("--quick")) {
        for (const [name, text] of reportBlocks(path.join(RESULTS_DIR, "quick"))) console.log(`\n## ${name}\n\n${text}`);
    } else {
        const blocks = reportBlocks();
        fs.writeFileSync(DOC, withBlocks(fs.readFileSync(DOC, "utf8"), blocks));
        console.log(`updated ${path.relative(ROOT, DOC)}: ${[...blocks.keys()].join(", ")}`);
    }
}
