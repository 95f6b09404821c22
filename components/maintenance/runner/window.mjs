// @ts-check
// The read-only window, through files beside the registry's data (never inside docker/registry/v2):
// `.maintenance/readonly-until` holds an epoch (s); while it lies ahead, each writer's supervisor keeps
// its registry stopped and says so in `.maintenance/state/<writer>` ("stopped <epoch>" or "rw <epoch>").
// The runner extends the deadline while it lives; if it dies, the deadline passes and the writers
// come back by themselves. `.maintenance/lock` keeps two runs (schedule, on demand) apart.
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "./store.mjs";

const DIR = () => path.join(ROOT, ".maintenance");
const FLAG = () => path.join(DIR(), "readonly-until");
const LOCK = () => path.join(DIR(), "lock");
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Takes the lock, or says who holds it; a lock whose deadline passed is a dead run's and is taken over. */
export function lock(windowSeconds) {
    fs.mkdirSync(path.join(DIR(), "state"), { recursive: true });
    const body = `${process.pid} ${now() + windowSeconds}\n`;
    try { fs.writeFileSync(LOCK(), body, { flag: "wx" }); return { recovered: false }; } catch { /* held */ }
    const [, until] = fs.readFileSync(LOCK(), "utf8").trim().split(" ");
    if (Number(until) > now()) return { held: `another run holds ${LOCK()} until ${new Date(Number(until) * 1000).toISOString()}` };
    fs.writeFileSync(LOCK(), body);
    return { recovered: true };
}
export const unlock = () => fs.rmSync(LOCK(), { force: true });

/** A lock or flag left by a run that died, cleared once its deadline has passed. */
export function recover() {
    let cleared = false;
    for (const f of [LOCK(), FLAG()]) {
        let text = "";
        try { text = fs.readFileSync(f, "utf8").trim(); } catch { continue; }
        if (Number(text.split(" ").pop()) <= now()) { fs.rmSync(f, { force: true }); cleared = true; }
    }
    return cleared;
}

/** Opens the window and keeps its deadline `windowSeconds` ahead until closed. */
export function open(windowSeconds) {
    const write = () => {
        fs.writeFileSync(`${FLAG()}.tmp`, `${now() + windowSeconds}\n`);
        fs.renameSync(`${FLAG()}.tmp`, FLAG());
        fs.writeFileSync(LOCK(), `${process.pid} ${now() + windowSeconds}\n`);
    };
    write();
    const openedAt = now();
    const beat = setInterval(write, Math.min(20, Math.max(1, Math.floor(windowSeconds / 3))) * 1000);
    return {
        openedAt,
        close: () => { clearInterval(beat); fs.rmSync(FLAG(), { force: true }); return now(); },
    };
}

/** The state each writer reported: mode and when. */
function state(writer) {
    try {
        const [mode, at] = fs.readFileSync(path.join(DIR(), "state", writer), "utf8").trim().split(" ");
        return { mode, at: Number(at) };
    } catch { return undefined; }
}

/**
 * Waits until every writer reports `mode` at or after `since`; returns the ones that did not.
 * @param {string[]} writers
 * @param {"stopped" | "rw"} mode
 */
export async function waitFor(writers, mode, since, seconds) {
    const end = Date.now() + seconds * 1000;
    for (;;) {
        const late = writers.filter((w) => { const s = state(w); return !s || s.mode !== mode || s.at < since; });
        if (late.length === 0 || Date.now() > end) return late;
        await sleep(250);
    }
}
