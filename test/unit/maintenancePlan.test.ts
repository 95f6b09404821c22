// The maintenance runner's pure parts: the retention planner, the GC dry-run guard and the schedule.
// Real runs against both registry lines: test/live/maintenance.live.ts.
import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";

/* eslint-disable @typescript-eslint/no-explicit-any */
let planMod: typeof import("../../components/maintenance/runner/plan.mjs");
let gcMod: typeof import("../../components/maintenance/runner/gc.mjs");
before(async () => {
    planMod = await import("../../components/maintenance/runner/plan.mjs");
    gcMod = await import("../../components/maintenance/runner/gc.mjs");
});

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const H = 3_600_000;
const d = (c: string) => `sha256:${c.repeat(64).slice(0, 64)}`;
const img = (...blobs: string[]) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", children: [], blobs: blobs.map((b) => ({ digest: d(b), size: 10 })) });
const index = (...children: string[]) => ({ mediaType: "application/vnd.oci.image.index.v1+json", children: children.map(d), blobs: [] });
const policy = (rules: any[], extra: Partial<{ untaggedGraceHours: number; maxDeleteFraction: number; protect: string[] }> = {}) =>
    ({ rules, untaggedGraceHours: 0, maxDeleteFraction: 1, protect: [], ...extra });

/** repo `ret/app`: t1..t4 pushed an hour apart (t4 newest), keep-me on t1's digest, signatures of t2 and t4. */
function app(): any {
    const tags = [["t1", "1"], ["t2", "2"], ["t3", "3"], ["t4", "4"]].map(([t, c], i) => ({ tag: t, digest: d(c), pushedAt: NOW - (10 - i) * H }));
    tags.push({ tag: "keep-me", digest: d("1"), pushedAt: NOW - 30 * H });
    tags.push({ tag: `sha256-${"2".repeat(64)}.sig`, digest: d("5"), pushedAt: NOW - 5 * H });
    tags.push({ tag: `sha256-${"4".repeat(64)}.sig`, digest: d("6"), pushedAt: NOW - 5 * H });
    const manifests = { [d("1")]: img("a", "b"), [d("2")]: img("a", "c"), [d("3")]: img("a", "e"), [d("4")]: img("a", "f"), [d("5")]: img("7"), [d("6")]: img("8") };
    return { name: "ret/app", tags, revisions: Object.keys(manifests).map((x) => ({ digest: x, pushedAt: NOW - 30 * H })), manifests };
}

/** repo `ret/multi`: index m-new (children 9, b shared) and older m-old (children c, b shared). */
function multi(): any {
    return {
        name: "ret/multi",
        tags: [{ tag: "m-new", digest: d("9a"), pushedAt: NOW - H }, { tag: "m-old", digest: d("9b"), pushedAt: NOW - 2 * H }],
        revisions: ["9a", "9b", "9", "b", "c"].map((x) => ({ digest: d(x), pushedAt: NOW - 3 * H })),
        manifests: { [d("9a")]: index("9", "b"), [d("9b")]: index("c", "b"), [d("9")]: img("x"), [d("b")]: img("y"), [d("c")]: img("z") },
    };
}

describe("retention planner", () => {
    it("keepLast by push time, keepTags by pattern; a digest a kept tag shares stays (distribution 3 untags, 2.8 keeps the tag)", () => {
        const rules = [{ repositories: ["ret/**"], keepLast: 2, keepTags: ["^keep-"] }];
        const p3 = planMod.plan([app()], policy(rules), { now: NOW, tagDelete: true });
        const r = p3.repos[0];
        assert.deepEqual(r.expiredTags.sort(), ["t1", "t2"]);
        assert.deepEqual(r.untag, ["t1"], "t1's digest stays with keep-me: only the tag goes");
        assert.deepEqual(r.delete.sort(), [d("2"), d("5")].sort(), "t2 and its signature go");
        assert.ok(p3.kept.some((k) => k.ref === `ret/app:sha256-${"4".repeat(64)}.sig` || k.ref === `ret/app@${d("6")}`), JSON.stringify(p3.kept));
        const p2 = planMod.plan([app()], policy(rules), { now: NOW, tagDelete: false });
        assert.deepEqual(p2.repos[0].untag, []);
        assert.deepEqual(p2.repos[0].keptShared, ["t1"]);
        assert.deepEqual(p2.repos[0].delete.sort(), [d("2"), d("5")].sort());
    });

    it("an index child shared with a kept index stays; the expired index and its own child go, index first", () => {
        const p = planMod.plan([multi()], policy([{ repositories: ["**"], keepLast: 1 }]), { now: NOW, tagDelete: true });
        assert.deepEqual(p.repos[0].delete, [d("9b"), d("c")]);
        assert.ok(p.kept.some((k) => k.ref === `ret/multi@${d("b")}` && k.why.startsWith("child of")));
    });

    it("keepDays; rules OR; a repository no rule matches is untouched; globs stop at /", () => {
        const rules = [{ repositories: ["ret/*"], keepDays: 0 }, { repositories: ["ret/app"], keepLast: 0, keepTags: ["^t3$"] }];
        const p = planMod.plan([app(), { ...multi(), name: "other/multi" }], policy(rules), { now: NOW, tagDelete: true });
        assert.deepEqual(p.repos[1], { name: "other/multi", untag: [], delete: [], keptShared: [], expiredTags: [], tagCount: 2 });
        assert.deepEqual(p.repos[0].expiredTags.sort(), ["keep-me", "t1", "t2", "t4"]);
        const days = planMod.plan([app()], policy([{ repositories: ["ret/app"], keepDays: 1 }]), { now: NOW, tagDelete: true });
        assert.deepEqual(days.repos[0].expiredTags, ["keep-me"], "t1..t4 are within a day, keep-me is not, but it shares t1's digest");
        assert.deepEqual(days.repos[0].untag, ["keep-me"]);
        assert.equal(planMod.globToRegExp("ret/*").test("ret/a/b"), false);
        assert.equal(planMod.globToRegExp("ret/**").test("ret/a/b"), true);
        assert.equal(planMod.globToRegExp("**").test("x"), true);
    });

    it("protected digests stay whatever the rules say; untagged revisions follow the grace", () => {
        const a = app();
        a.revisions.push({ digest: d("e1"), pushedAt: NOW - H }, { digest: d("e2"), pushedAt: NOW - 48 * H });
        a.manifests[d("e1")] = img("q");
        a.manifests[d("e2")] = img("r");
        const p = planMod.plan([a], policy([{ repositories: ["**"], keepLast: 1 }], { untaggedGraceHours: 24, protect: [`ret/app@${d("2")}`] }), { now: NOW, tagDelete: true });
        const del = p.repos[0].delete;
        assert.ok(!del.includes(d("2")), "protected");
        assert.ok(!del.includes(d("5")), "the protected digest's signature stays with it");
        assert.ok(!del.includes(d("e1")), "untagged within the grace");
        assert.ok(del.includes(d("e2")), "untagged past the grace");
        const never = planMod.plan([a], policy([{ repositories: ["**"], keepLast: 1 }], { untaggedGraceHours: -1 }), { now: NOW, tagDelete: true });
        assert.ok(!never.repos[0].delete.includes(d("e2")));
    });

    it("the circuit breaker trips past maxDeleteFraction of a repository's tags (attachments not counted)", () => {
        const p = planMod.plan([app()], policy([{ repositories: ["**"], keepLast: 1 }], { maxDeleteFraction: 0.5 }), { now: NOW, tagDelete: true });
        assert.deepEqual(p.tripped.map((t) => [t.repo, t.tags]), [["ret/app", 4]]);
        const ok = planMod.plan([app()], policy([{ repositories: ["**"], keepLast: 3 }], { maxDeleteFraction: 0.5 }), { now: NOW, tagDelete: true });
        assert.deepEqual(ok.tripped, []);
    });

    it("the referenced set names every remaining manifest and blob per repository", () => {
        const refs = planMod.referenced([multi()]);
        assert.equal(refs.get("ret/multi")!.get(d("9a")), -1);
        assert.equal(refs.get("ret/multi")!.get(d("x")), 10);
    });
});

describe("GC dry-run guard", () => {
    const out3 = [
        "ret/app",
        `ret/app: marking manifest ${d("4")} `,
        `blob eligible for deletion: ${d("c")}`,
        `ret/app: layer link eligible for deletion: ${d("c")}`,
        `time="2026-12-03T12:00:00Z" level=info msg="Deleting blob: /docker/registry/v2/blobs/sha256/cc/${"c".repeat(64)}"`,
    ].join("\n");
    it("reads blobs and layer links (distribution 3) and blobs (2.8)", () => {
        assert.deepEqual(gcMod.parseGcOutput(out3), { blobs: [d("c")], links: [{ repo: "ret/app", digest: d("c") }] });
        assert.deepEqual(gcMod.parseGcOutput(`blob eligible for deletion: ${d("c")}\n`).blobs, [d("c")]);
    });
    it("passes when nothing referenced is listed; refuses a referenced blob or link", () => {
        const refs = new Map([["ret/app", new Map([[d("a"), 10]])]]);
        assert.deepEqual(gcMod.guardProblems(gcMod.parseGcOutput(out3), refs), []);
        const bad = gcMod.parseGcOutput(`${out3}\nblob eligible for deletion: ${d("a")}\nret/app: layer link eligible for deletion: ${d("a")}`);
        assert.equal(gcMod.guardProblems(bad, refs).length, 2);
    });
});

describe("schedule", () => {
    it("daily and weekly times in UTC, and what is refused", () => {
        const daily = gcMod.parseSchedule("03:30") as any;
        assert.equal(gcMod.nextRun(daily, NOW), Date.UTC(2026, 11, 4, 3, 30));
        assert.equal(gcMod.nextRun(gcMod.parseSchedule("13:00") as any, NOW), Date.UTC(2026, 11, 3, 13, 0));
        // 2026-12-03 is a Thursday: the next Sunday is the 6th
        assert.equal(gcMod.nextRun(gcMod.parseSchedule("sun 03:30") as any, NOW), Date.UTC(2026, 11, 6, 3, 30));
        assert.equal(gcMod.parseSchedule(""), undefined);
        for (const bad of ["3:30", "24:00", "sunday 03:30", "03:30 sun"]) assert.equal(typeof gcMod.parseSchedule(bad), "string", bad);
    });
});
