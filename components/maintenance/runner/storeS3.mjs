// @ts-check
// store.mjs for a registry on S3 (cluster mode): the same answers from object listings, whose
// LastModified plays the part of a file's mtime (a tag's current/link is rewritten on every push).
import { getText, keyOf, list, remove } from "./s3.mjs";

/** @typedef {import("./s3.mjs").S3} S3 */
const V2 = "/docker/registry/v2";

/** @param {S3} s */
export function s3Store(s) {
    return {
        /** When each tag of `repo` was last pushed (ms). @param {string} repo */
        async tagTimes(repo) {
            const prefix = keyOf(s, `${V2}/repositories/${repo}/_manifests/tags/`);
            const times = new Map();
            for (const o of await list(s, prefix)) {
                const m = /^([^/]+)\/current\/link$/.exec(o.key.slice(prefix.length));
                if (m) times.set(m[1], o.lastModified);
            }
            return times;
        },
        /** Every manifest revision of `repo`, with when it was first pushed. @param {string} repo */
        async revisions(repo) {
            const prefix = keyOf(s, `${V2}/repositories/${repo}/_manifests/revisions/sha256/`);
            return (await list(s, prefix)).flatMap((o) => {
                const m = /^([0-9a-f]{64})\/link$/.exec(o.key.slice(prefix.length));
                return m ? [{ digest: `sha256:${m[1]}`, pushedAt: o.lastModified }] : [];
            });
        },
        /** The size of a blob's data, or undefined when it is not stored. @param {string} digest */
        async blobSize(digest) {
            const h = digest.replace(/^sha256:/, "");
            const key = keyOf(s, `${V2}/blobs/sha256/${h.slice(0, 2)}/${h}/data`);
            return (await list(s, key)).find((o) => o.key === key)?.size;
        },
        /** Uploads started more than `hours` ago, removed. @param {number} hours @param {boolean} dryRun */
        async purgeUploads(hours, dryRun) {
            const prefix = keyOf(s, `${V2}/repositories/`);
            const objects = await list(s, prefix);
            const purged = [];
            for (const o of objects) {
                const m = /^(.+)\/_uploads\/([^/]+)\/startedat$/.exec(o.key.slice(prefix.length));
                if (!m) continue;
                const started = Date.parse((await getText(s, o.key))?.trim() ?? "");
                if (Number.isNaN(started) || Date.now() - started < hours * 3_600_000) continue;
                const dir = o.key.slice(0, -"startedat".length);
                if (!dryRun) for (const x of objects.filter((y) => y.key.startsWith(dir))) await remove(s, x.key);
                purged.push(`${m[1]}/${m[2]}`);
            }
            return purged;
        },
        /** An object store has no free space to report. */
        freeBytes: () => null,
    };
}
