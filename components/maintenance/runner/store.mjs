// @ts-check
// What only the storage knows, read from distribution's filesystem layout while nothing writes: when a
// tag was last pushed (its current link is rewritten on every push), the untagged revisions and their
// push times, blob sizes, abandoned uploads.
import * as fs from "node:fs";
import * as path from "node:path";

export const ROOT = process.env.MAINT_ROOT ?? "/var/lib/registry";
const V2 = () => path.join(ROOT, "docker/registry/v2");

const mtime = (p) => { try { return fs.statSync(p).mtimeMs; } catch { return undefined; } };
const hexOf = (d) => d.replace(/^sha256:/, "");

/** When `repo:tag` was last pushed (ms). */
export function tagPushedAt(repo, tag) {
    return mtime(path.join(V2(), "repositories", repo, "_manifests/tags", tag, "current/link")) ?? 0;
}

/** Every manifest revision of `repo`, with when it was first pushed. */
export function revisions(repo) {
    const dir = path.join(V2(), "repositories", repo, "_manifests/revisions/sha256");
    let names = [];
    try { names = fs.readdirSync(dir); } catch { return []; }
    return names.filter((h) => /^[0-9a-f]{64}$/.test(h))
        .map((h) => ({ digest: `sha256:${h}`, pushedAt: mtime(path.join(dir, h, "link")) }))
        .filter((r) => r.pushedAt !== undefined).map((r) => ({ digest: r.digest, pushedAt: /** @type {number} */ (r.pushedAt) }));
}

/** The size of a blob's data, or undefined when it is not stored. */
export function blobSize(digest) {
    const h = hexOf(digest);
    try { return fs.statSync(path.join(V2(), "blobs/sha256", h.slice(0, 2), h, "data")).size; } catch { return undefined; }
}

/** Every `_uploads` folder under the repositories, with its repository (repositories that never got a manifest too). */
function uploadDirs(dir = path.join(V2(), "repositories"), repo = "") {
    /** @type {{ repo: string, dir: string }[]} */
    const out = [];
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return out; }
    for (const e of entries) {
        if (!e.isDirectory() || e.name === "_manifests" || e.name === "_layers") continue;
        if (e.name === "_uploads") out.push({ repo, dir: path.join(dir, e.name) });
        else out.push(...uploadDirs(path.join(dir, e.name), repo ? `${repo}/${e.name}` : e.name));
    }
    return out;
}

/**
 * Uploads started more than `hours` ago (their `startedat`, RFC 3339), removed; returns them.
 * @param {number} hours
 * @param {boolean} dryRun
 */
export function purgeUploads(hours, dryRun) {
    const purged = [];
    for (const { repo, dir } of uploadDirs()) {
        for (const id of fs.readdirSync(dir)) {
            let started;
            try { started = Date.parse(fs.readFileSync(path.join(dir, id, "startedat"), "utf8").trim()); } catch { started = mtime(path.join(dir, id)); }
            if (started === undefined || Number.isNaN(started) || Date.now() - started < hours * 3_600_000) continue;
            if (!dryRun) fs.rmSync(path.join(dir, id), { recursive: true, force: true });
            purged.push(`${repo}/${id}`);
        }
    }
    return purged;
}

/** Free bytes on the store's filesystem. */
export function freeBytes() {
    const s = fs.statfsSync(ROOT);
    return s.bavail * s.bsize;
}

/** The filesystem store with the interface storeS3.mjs has (async, per repository). */
export const fsStore = {
    /** @param {string} repo */
    async tagTimes(repo) {
        const dir = path.join(V2(), "repositories", repo, "_manifests/tags");
        let tags = [];
        try { tags = fs.readdirSync(dir); } catch { return new Map(); }
        return new Map(tags.map((t) => [t, tagPushedAt(repo, t)]));
    },
    /** @param {string} repo */
    revisions: async (repo) => revisions(repo),
    /** @param {string} d */
    blobSize: async (d) => blobSize(d),
    /** @param {number} hours @param {boolean} dryRun */
    purgeUploads: async (hours, dryRun) => purgeUploads(hours, dryRun),
    freeBytes: () => freeBytes(),
};
