// @ts-check
// Pure helpers around `registry garbage-collect` and the schedule.

/**
 * What a `registry garbage-collect --dry-run` printed would sweep: blobs (both lines) and per-repository
 * layer links (distribution 3).
 * @param {string} text
 * @returns {{ blobs: string[], links: { repo: string, digest: string }[] }}
 */
export function parseGcOutput(text) {
    const blobs = [];
    const links = [];
    for (const line of text.split("\n")) {
        const b = /blob eligible for deletion: (sha256:[0-9a-f]{64})/.exec(line);
        if (b) { blobs.push(b[1]); continue; }
        const l = /([^\s"]+): layer link eligible for deletion: (sha256:[0-9a-f]{64})/.exec(line);
        if (l) links.push({ repo: l[1], digest: l[2] });
    }
    return { blobs, links };
}

/**
 * The dry run checked against what the remaining manifests reference: anything of that set listed for
 * deletion stops the run before the sweep (a writer that did not stop, or a GC that marks wrongly).
 * @param {{ blobs: string[], links: { repo: string, digest: string }[] }} gc
 * @param {Map<string, Map<string, number>>} refs repo -> referenced digests
 * @returns {string[]} the problems, empty when the sweep may go on
 */
export function guardProblems(gc, refs) {
    const all = new Set();
    for (const m of refs.values()) for (const d of m.keys()) all.add(d);
    return [
        ...gc.blobs.filter((d) => all.has(d)).map((d) => `GC would delete blob ${d}, which a remaining manifest references`),
        ...gc.links.filter((l) => refs.get(l.repo)?.has(l.digest)).map((l) => `GC would delete ${l.repo}'s link to ${l.digest}, which a remaining manifest references`),
    ];
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/**
 * `maintenance.schedule`: "HH:MM" every day or "<day> HH:MM" (sun … sat) once a week, in UTC; "" none.
 * @param {string} s
 * @returns {{ day?: number, minute: number } | undefined | string} the schedule, undefined for none, or a problem
 */
export function parseSchedule(s) {
    if (s.trim() === "") return undefined;
    const m = /^(?:(sun|mon|tue|wed|thu|fri|sat) )?([01]\d|2[0-3]):([0-5]\d)$/.exec(s.trim().toLowerCase());
    if (!m) return `"${s}" is not "HH:MM" or "<day> HH:MM" (day: ${DAYS.join(", ")}; UTC)`;
    return { ...(m[1] ? { day: DAYS.indexOf(m[1]) } : {}), minute: Number(m[2]) * 60 + Number(m[3]) };
}

/**
 * The first time at or after `from` (ms, UTC) the schedule names.
 * @param {{ day?: number, minute: number }} s
 * @param {number} from
 */
export function nextRun(s, from) {
    const d = new Date(from);
    d.setUTCSeconds(0, 0);
    const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) + s.minute * 60_000;
    for (let i = 0; i <= 7; i++) {
        const t = start + i * 86_400_000;
        if (t >= from && (s.day === undefined || new Date(t).getUTCDay() === s.day)) return t;
    }
    throw new Error("unreachable: a weekly schedule recurs within 8 days");
}
