// @ts-check
// The read-only window of window.mjs where the writers share no folder with the runner (cluster mode, on
// S3): the runner's `serve` process holds it in memory and answers each writer's poll,
// `GET /window?writer=<pod>&state=<stopped|rw|starting>`, with the deadline (epoch seconds, 0 for none).
// The writers are whoever polled in the last 15 s. `GET /run[?dryRun=1][&force=1]` runs one maintenance
// in this process and answers with its report, so one process owns the window and its lock.
import * as http from "node:http";

const now = () => Math.floor(Date.now() / 1000);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
let deadline = 0;
let locked = false;
/** @type {Map<string, { mode: string, at: number, seen: number }>} */
const writers = new Map();

export function lock() {
    if (locked) return { held: "another run is in progress" };
    locked = true;
    return { recovered: false };
}
export const unlock = () => { locked = false; };
export const recover = () => false;

/** @param {number} windowSeconds */
export function open(windowSeconds) {
    deadline = now() + windowSeconds;
    const openedAt = now();
    const beat = setInterval(() => { deadline = now() + windowSeconds; }, 5000);
    return { openedAt, close: () => { clearInterval(beat); deadline = 0; return now(); } };
}

/**
 * Waits until every writer that polled in the last 15 s reports `mode` in a poll at or after `since`.
 * @param {string[]} _names unused: in a cluster the writers are the pods that poll
 * @param {"stopped" | "rw"} mode
 * @param {number} since
 * @param {number} seconds
 */
export async function waitFor(_names, mode, since, seconds) {
    const end = Date.now() + seconds * 1000;
    for (;;) {
        const live = [...writers].filter(([, w]) => w.seen > now() - 15);
        const late = live.filter(([, w]) => w.mode !== mode || w.at < since).map(([n]) => n);
        if (live.length === 0) late.push("(no writer has polled in 15 s)");
        if (late.length === 0 || Date.now() > end) return late;
        await sleep(250);
    }
}

/**
 * The writers' poll and the on-demand trigger.
 * @param {number} port
 * @param {(dryRun: boolean, force: boolean) => Promise<unknown>} run
 */
export function serveWindow(port, run) {
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x");
        if (url.pathname === "/window") {
            const name = url.searchParams.get("writer") ?? "";
            const mode = url.searchParams.get("state") ?? "";
            if (name) writers.set(name, { mode, at: now(), seen: now() });
            res.end(String(deadline));
        } else if (url.pathname === "/run") {
            run(url.searchParams.has("dryRun"), url.searchParams.has("force")).then((report) => res.end(`${JSON.stringify(report)}\n`),
                (e) => { res.statusCode = 500; res.end(`${JSON.stringify({ ok: false, error: String(e) })}\n`); });
        } else {
            res.statusCode = 404;
            res.end();
        }
    });
    server.requestTimeout = 0;
    server.listen(port);
    return server;
}
