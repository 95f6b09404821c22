// @ts-check
// The retention planner, pure: from what the registry holds (tags with their push times, untagged
// revisions, each manifest's children) and the rules, what to untag and delete, and why everything else
// stays. Nothing here touches the registry; runner.mjs carries the plan out.

/**
 * @typedef {{ repositories: string[], keepLast?: number, keepDays?: number, keepTags?: string[] }} Rule
 * @typedef {{ rules: Rule[], untaggedGraceHours: number, maxDeleteFraction: number, protect: string[] }} Policy
 * @typedef {{ tag: string, digest: string, pushedAt: number }} Tag
 * @typedef {{ digest: string, pushedAt: number }} Revision
 * @typedef {{ mediaType: string, children: string[], blobs: { digest: string, size: number }[] }} Manifest
 * @typedef {{ name: string, tags: Tag[], revisions: Revision[], manifests: Record<string, Manifest> }} Repo
 * @typedef {{ name: string, untag: string[], delete: string[], keptShared: string[], expiredTags: string[], tagCount: number }} RepoPlan
 * @typedef {{ ref: string, why: string }} Kept
 * @typedef {{ repos: RepoPlan[], kept: Kept[], tripped: { repo: string, fraction: number, tags: number }[] }} Plan
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Signature, attestation and SBOM tags of the cosign/notation tag scheme: `sha256-<hex>[.<kind>]`. */
const ATTACHMENT = /^sha256-([0-9a-f]{64})(\..+)?$/;

/**
 * A repository glob: `*` any run of characters but `/`, `**` any run including `/`, `?` one character.
 * @param {string} glob
 */
export function globToRegExp(glob) {
    let re = "";
    for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === "*" && glob[i + 1] === "*") { re += ".*"; i++; if (glob[i + 1] === "/") { re += "/?"; i++; } }
        else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
    return new RegExp(`^${re}$`);
}

/** The subject digest of an attachment tag, or undefined. @param {string} tag */
export function attachmentSubject(tag) {
    const m = ATTACHMENT.exec(tag);
    return m ? `sha256:${m[1]}` : undefined;
}

/**
 * The plan for every repository. A tag stays when any rule whose `repositories` match keeps it (OR of
 * rules, as Harbor's); a repository no rule matches is left alone.
 * @param {Repo[]} repos
 * @param {Policy} policy
 * @param {{ now: number, tagDelete: boolean }} o tagDelete: the registry untags by tag (distribution 3)
 * @returns {Plan}
 */
export function plan(repos, policy, o) {
    /** @type {Kept[]} */
    const kept = [];
    /** @type {RepoPlan[]} */
    const out = [];
    /** @type {Plan["tripped"]} */
    const tripped = [];
    for (const repo of repos) {
        const rules = policy.rules.filter((r) => r.repositories.some((g) => globToRegExp(g).test(repo.name)));
        // newest first; a tie (S3 keeps times to the second) ranks the later name as the newer
        const normal = repo.tags.filter((t) => !attachmentSubject(t.tag)).sort((a, b) => b.pushedAt - a.pushedAt || b.tag.localeCompare(a.tag));
        /** @type {RepoPlan} */
        const rp = { name: repo.name, untag: [], delete: [], keptShared: [], expiredTags: [], tagCount: normal.length };
        out.push(rp);
        if (rules.length === 0) continue;
        /** @type {Map<string, string>} digest -> why */
        const roots = new Map();
        const keep = (/** @type {string} */ d, /** @type {string} */ why) => { if (!roots.has(d)) roots.set(d, why); };
        /** @type {Set<string>} */
        const keptTags = new Set();
        const protectedHere = new Set(policy.protect.filter((p) => p.split("@")[0] === repo.name).map((p) => p.split("@")[1]));
        normal.forEach((t, rank) => {
            const why = protectedHere.has(t.digest) ? "points at a protected manifest (the stack's images or maintenance.protect)"
                : rules.map((r) => whyKept(r, t, rank, o.now)).find((w) => w !== undefined);
            if (why) { keptTags.add(t.tag); keep(t.digest, `tag ${t.tag}: ${why}`); kept.push({ ref: `${repo.name}:${t.tag}`, why }); }
        });
        for (const digest of protectedHere) keep(digest, "protected (the stack's images or maintenance.protect)");
        const tagged = new Set(repo.tags.map((t) => t.digest));
        for (const r of repo.revisions) {
            if (tagged.has(r.digest)) continue;
            if (policy.untaggedGraceHours < 0) keep(r.digest, "untagged, untaggedGraceHours < 0 keeps them");
            else if (o.now - r.pushedAt < policy.untaggedGraceHours * HOUR) keep(r.digest, `untagged, within ${policy.untaggedGraceHours} h`);
        }
        const closure = closeOver(repo, roots);
        // attachments follow their subject; what they point at is kept with them
        for (const t of repo.tags) {
            const subject = attachmentSubject(t.tag);
            if (!subject) continue;
            if (closure.has(subject)) {
                keptTags.add(t.tag);
                for (const [d, why] of closeOver(repo, new Map([[t.digest, `attachment of ${subject}`]]))) if (!closure.has(d)) closure.set(d, why);
            }
        }
        for (const [d, why] of closure) if (!roots.has(d) || why.startsWith("child")) kept.push({ ref: `${repo.name}@${d}`, why });
        for (const [d, why] of roots) if (!why.startsWith("tag ")) kept.push({ ref: `${repo.name}@${d}`, why });
        /** @type {Set<string>} */
        const doomed = new Set();
        for (const t of repo.tags) {
            if (keptTags.has(t.tag)) continue;
            if (!attachmentSubject(t.tag)) rp.expiredTags.push(t.tag);
            if (closure.has(t.digest)) {
                if (o.tagDelete) rp.untag.push(t.tag);
                else { rp.keptShared.push(t.tag); kept.push({ ref: `${repo.name}:${t.tag}`, why: `expired, but shares ${t.digest} with what stays (this registry cannot untag)` }); }
            } else doomed.add(t.digest);
        }
        for (const r of repo.revisions) if (!closure.has(r.digest) && !tagged.has(r.digest)) doomed.add(r.digest);
        // indexes before what they list, so no index ever points at a deleted child
        rp.delete = [...doomed].sort((a, b) => depth(repo, b) - depth(repo, a) || a.localeCompare(b));
        const gone = rp.expiredTags.length - rp.keptShared.length;
        if (normal.length > 0 && gone / normal.length > policy.maxDeleteFraction) tripped.push({ repo: repo.name, fraction: gone / normal.length, tags: gone });
    }
    return { repos: out, kept, tripped };
}

/** @returns {string | undefined} why rule `r` keeps tag `t` (ranked `rank` by push time, newest 0) */
function whyKept(/** @type {Rule} */ r, /** @type {Tag} */ t, /** @type {number} */ rank, /** @type {number} */ now) {
    const pattern = (r.keepTags ?? []).find((p) => new RegExp(p).test(t.tag));
    if (pattern !== undefined) return `matches keepTags ${pattern}`;
    if (r.keepLast !== undefined && rank < r.keepLast) return `among the ${r.keepLast} most recently pushed`;
    if (r.keepDays !== undefined && now - t.pushedAt < r.keepDays * DAY) return `pushed within ${r.keepDays} days`;
    return undefined;
}

/** The roots and every manifest they list, recursively. @returns {Map<string, string>} */
function closeOver(/** @type {Repo} */ repo, /** @type {Map<string, string>} */ roots) {
    const out = new Map(roots);
    const todo = [...roots.keys()];
    while (todo.length) {
        const d = /** @type {string} */ (todo.pop());
        for (const c of repo.manifests[d]?.children ?? []) if (!out.has(c)) { out.set(c, `child of ${d}`); todo.push(c); }
    }
    return out;
}

/**
 * How many index levels sit below a manifest (0 for an image manifest).
 * @param {Repo} repo
 * @param {string} d
 * @returns {number}
 */
function depth(repo, d, seen = new Set()) {
    if (seen.has(d)) return 0;
    seen.add(d);
    const children = repo.manifests[d]?.children ?? [];
    return children.length ? 1 + Math.max(...children.map((/** @type {string} */ c) => depth(repo, c, seen))) : 0;
}

/**
 * Everything the remaining manifests reference, per repository (manifests, configs, layers): what GC
 * must not list for deletion and what the verification reads back.
 * @param {Repo[]} repos after the deletes
 * @returns {Map<string, Map<string, number>>} repo -> digest -> size (-1 for a manifest)
 */
export function referenced(repos) {
    const out = new Map();
    for (const repo of repos) {
        const m = new Map();
        for (const [d, man] of Object.entries(repo.manifests)) {
            m.set(d, -1);
            for (const b of man.blobs) m.set(b.digest, b.size);
        }
        out.set(repo.name, m);
    }
    return out;
}
