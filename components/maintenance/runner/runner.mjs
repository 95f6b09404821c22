// @ts-check
// The maintenance runner: `node runner.mjs serve` keeps the schedule; `node runner.mjs run [--dry-run]
// [--force]` runs one maintenance now. One run: take the lock, open the read-only window and wait until
// every writer has stopped, plan the retention through a private delete-capable instance, delete,
// check GC's dry run against what the remaining manifests reference, sweep (never --delete-untagged),
// verify every remaining tag, manifest and blob through a private read-only instance, close the window
// and wait until every writer serves again. Its last stdout line is the JSON report.
import * as fs from "node:fs";
import * as path from "node:path";
import { guardProblems, nextRun, parseGcOutput, parseSchedule } from "./gc.mjs";
import { plan, referenced } from "./plan.mjs";
import * as reg from "./registry.mjs";
import { s3FromEnv } from "./s3.mjs";
import { fsStore, ROOT } from "./store.mjs";
import { s3Store } from "./storeS3.mjs";

/** Cluster mode: the window is served to the writers over HTTP on this port (httpWindow.mjs), not kept in files. */
const PORT = Number(process.env.MAINT_WINDOW_PORT ?? 0);
const win = PORT ? await import("./httpWindow.mjs") : await import("./window.mjs");
/** Where the last run's report is kept: beside the data, or (cluster mode) in the runner's own folder. */
const STATE_DIR = process.env.MAINT_STATE_DIR ?? path.join(ROOT, ".maintenance");

const CONFIG = process.env.MAINT_CONFIG ?? "/maint/config.json";
const log = (msg) => console.error(`${new Date().toISOString()} maintenance: ${msg}`);
/** @type {{ writers: string[], windowSeconds: number, schedule: string, purgeUploadsAfterHours: number,
 *  policy: import("./plan.mjs").Policy }} */
const cfg = JSON.parse(fs.readFileSync(CONFIG, "utf8"));
const s3 = s3FromEnv();
/** Where push times, revisions, blob sizes and uploads are read: the data folder, or the S3 bucket (cluster mode). */
const store = s3 ? s3Store(s3) : fsStore;
/** The window this process holds open, closed on SIGTERM so writers resume at once. */
let active;
process.on("SIGTERM", () => { if (active) { active.close(); win.unlock(); } process.exit(143); });

/** What the registry holds, through the private instance and the store. */
async function inventory() {
    /** @type {import("./plan.mjs").Repo[]} */
    const repos = [];
    for (const name of await reg.catalog()) {
        /** @type {import("./plan.mjs").Repo} */
        const repo = { name, tags: [], revisions: await store.revisions(name), manifests: {} };
        const times = await store.tagTimes(name);
        const load = async (ref) => {
            const m = await reg.manifest(name, ref);
            if (!m) return undefined;
            if (!repo.manifests[m.digest]) {
                repo.manifests[m.digest] = { mediaType: m.mediaType, children: m.children, blobs: m.blobs };
                for (const c of m.children) await load(c);
            }
            return m.digest;
        };
        for (const tag of await reg.tags(name)) {
            const digest = await load(tag);
            if (digest) repo.tags.push({ tag, digest, pushedAt: times.get(tag) ?? 0 });
        }
        for (const r of repo.revisions) if (!repo.manifests[r.digest]) await load(r.digest);
        repos.push(repo);
    }
    return repos;
}

async function run(dryRun, force) {
    const t0 = Date.now();
    const report = { ok: false, dryRun, startedAt: new Date(t0).toISOString(), durationMs: 0, windowMs: 0,
        deletedTags: /** @type {string[]} */ ([]), deletedManifests: /** @type {string[]} */ ([]), untaggedTags: /** @type {string[]} */ ([]),
        blobsSwept: 0, bytesFreed: 0, freeBytesBefore: store.freeBytes(), freeBytesAfter: /** @type {number | null} */ (null), uploadsPurged: /** @type {string[]} */ ([]),
        kept: /** @type {import("./plan.mjs").Kept[]} */ ([]), tripped: /** @type {unknown[]} */ ([]), verified: { tags: 0, manifests: 0, blobs: 0 },
        error: /** @type {string | undefined} */ (undefined), recovered: false };
    const held = win.lock(cfg.windowSeconds);
    if ("held" in held) return { ...report, error: held.held };
    report.recovered = held.recovered;
    let window;
    let instance;
    try {
        if (!dryRun) {
            window = win.open(cfg.windowSeconds);
            active = window;
            log(`window open until writers resume; waiting for ${cfg.writers.join(", ")} to stop`);
            const late = await win.waitFor(cfg.writers, "stopped", window.openedAt, 120);
            if (late.length) throw new Error(`writers did not stop within 120 s: ${late.join(", ")}; nothing was deleted`);
        }
        instance = await reg.startInstance(dryRun ? "read" : "delete");
        const repos = await inventory();
        const major = await reg.majorVersion();
        const p = plan(repos, cfg.policy, { now: Date.now(), tagDelete: major >= 3 });
        report.kept = p.kept;
        report.tripped = p.tripped;
        for (const rp of p.repos) {
            report.untaggedTags.push(...rp.untag.map((t) => `${rp.name}:${t}`));
            report.deletedTags.push(...rp.expiredTags.filter((t) => !rp.untag.includes(t) && !rp.keptShared.includes(t)).map((t) => `${rp.name}:${t}`));
            report.deletedManifests.push(...rp.delete.map((d) => `${rp.name}@${d}`));
        }
        if (p.tripped.length && !force) {
            throw new Error(`circuit breaker: ${p.tripped.map((t) => `${t.repo} would lose ${t.tags} tags (${Math.round(t.fraction * 100)}%)`).join("; ")}` +
                ` > maxDeleteFraction ${cfg.policy.maxDeleteFraction}; nothing was deleted (--force overrides)`);
        }
        report.uploadsPurged = await store.purgeUploads(cfg.purgeUploadsAfterHours, dryRun);
        if (dryRun) { report.ok = true; return report; }
        for (const rp of p.repos) {
            for (const t of rp.untag) await reg.remove(rp.name, t);
            for (const d of rp.delete) await reg.remove(rp.name, d);
        }
        const refs = referenced(await inventory());
        await instance.stop();
        instance = undefined;
        const dry = await reg.garbageCollect(true);
        if (dry.code !== 0) throw new Error(`garbage-collect --dry-run failed: ${dry.out.slice(-2000)}`);
        const gc = parseGcOutput(dry.out);
        const problems = guardProblems(gc, refs);
        if (problems.length) throw new Error(`GC dry run refused, nothing swept: ${problems.join("; ")}`);
        const sizes = new Map();
        for (const d of gc.blobs) sizes.set(d, (await store.blobSize(d)) ?? 0);
        const real = await reg.garbageCollect(false);
        if (real.code !== 0) throw new Error(`garbage-collect failed: ${real.out.slice(-2000)}`);
        for (const [d, size] of sizes) if ((await store.blobSize(d)) === undefined) { report.blobsSwept++; report.bytesFreed += size; }
        instance = await reg.startInstance("read");
        report.verified = await verify(refs, repos);
        report.ok = true;
    } catch (e) {
        report.error = e instanceof Error ? e.message : String(e);
    } finally {
        await instance?.stop();
        if (window) {
            const closedAt = window.close();
            active = undefined;
            report.windowMs = Date.now() - t0;
            const late = await win.waitFor(cfg.writers, "rw", closedAt, 120);
            if (late.length) { report.ok = false; report.error = `${report.error ? `${report.error}; ` : ""}writers not serving again: ${late.join(", ")}`; }
        }
        win.unlock();
        report.freeBytesAfter = store.freeBytes();
        report.durationMs = Date.now() - t0;
    }
    return report;
}

/** Every remaining tag resolves to what it did, every manifest and referenced blob reads back whole. */
async function verify(refs, before) {
    const out = { tags: 0, manifests: 0, blobs: 0 };
    const was = new Map(before.flatMap((r) => r.tags.map((t) => [`${r.name}:${t.tag}`, t.digest])));
    for (const [repo, digests] of refs) {
        for (const tag of await reg.tags(repo)) {
            const m = await reg.manifest(repo, tag);
            if (!m || m.digest !== was.get(`${repo}:${tag}`)) throw new Error(`verify: ${repo}:${tag} is ${m?.digest ?? "missing"}, was ${was.get(`${repo}:${tag}`)}`);
            out.tags++;
        }
        for (const [d, size] of digests) {
            if (size === -1 && (await reg.manifestStatus(repo, d)) === 200) { out.manifests++; continue; }
            if (size === -1) throw new Error(`verify: manifest ${repo}@${d} does not read back`);
            const got = await reg.blobHead(repo, d);
            if (got === undefined || got !== size) throw new Error(`verify: blob ${d} of ${repo}: ${got === undefined ? "missing" : `${got} bytes, not ${size}`}`);
            out.blobs++;
        }
    }
    return out;
}

async function once(dryRun, force) {
    const report = await run(dryRun, force);
    if (!dryRun) fs.writeFileSync(path.join(STATE_DIR, "last-run.json"), JSON.stringify(report, null, 2));
    log(report.ok ? `done in ${report.durationMs} ms: ${report.deletedManifests.length} manifests deleted, ${report.bytesFreed} bytes freed` : `FAILED: ${report.error}`);
    console.log(JSON.stringify(report));
    return report;
}

async function serve() {
    fs.mkdirSync(path.join(STATE_DIR, "state"), { recursive: true });
    if (win.recover()) log("recovered: cleared the lock and window of a run that died");
    if (PORT) { win.serveWindow(PORT, once); log(`window served on :${PORT}`); }
    const schedule = parseSchedule(cfg.schedule);
    if (typeof schedule === "string") throw new Error(`schedule: ${schedule}`);
    if (!schedule) { log("no schedule: runs on demand only"); setInterval(() => undefined, 1 << 30); return; }
    for (;;) {
        const at = nextRun(schedule, Date.now() + 1000);
        log(`next run ${new Date(at).toISOString()}`);
        while (Date.now() < at) await new Promise((r) => setTimeout(r, Math.min(at - Date.now(), 60_000)));
        await once(false, false);
    }
}

const [cmd, ...flags] = process.argv.slice(2);
if (cmd === "run" && PORT) {
    // the serve process owns the window: it runs this one and answers with the report
    const q = [flags.includes("--dry-run") ? "dryRun=1" : "", flags.includes("--force") ? "force=1" : ""].filter(Boolean).join("&");
    // node:http, which waits as long as the run takes (fetch gives up on headers after 5 minutes)
    const http = await import("node:http");
    http.get(`http://127.0.0.1:${PORT}/run?${q}`, (res) => {
        let body = "";
        res.on("data", (d) => { body += d; });
        res.on("end", () => { process.stdout.write(body); process.exit(JSON.parse(body).ok ? 0 : 1); });
    }).on("error", (e) => { log(String(e)); process.exit(1); });
} else if (cmd === "run") {
    once(flags.includes("--dry-run"), flags.includes("--force")).then((r) => process.exit(r.ok ? 0 : 1), (e) => { log(String(e)); process.exit(1); });
} else if (cmd === "serve" || cmd === undefined) {
    serve().catch((e) => { log(String(e)); process.exit(1); });
} else {
    log(`unknown command ${cmd}: serve | run [--dry-run] [--force]`);
    process.exit(2);
}
