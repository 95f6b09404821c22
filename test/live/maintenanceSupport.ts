// What the maintenance live test needs around its stack: the fixture repositories (pushed with skopeo),
// the runner's on-demand command, and reads of the registry's store and of the window's state files.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { run, Stack } from "./cli";
import { Blob, OciLayout } from "./ociFixture";
import { clientFiles, LiveEnv, skopeo } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface Client { authfile: string; certDir: string }

export function clients(work: string, out: Record<string, any>): { push: Client; pull: Client } {
    return {
        push: clientFiles(work, "push", out.pushDockerConfigJson, out.caCertificatePem),
        pull: clientFiles(work, "pull", out.dockerConfigJson, out.caCertificatePem),
    };
}

/** `skopeo copy --all` from an OCI layout ref to `docker://<registry>/<dest>` with a login. */
export async function push(env: LiveEnv, c: Client, src: string, dest: string): Promise<{ code: number; stderr: string }> {
    return skopeo(["copy", "--all", "--dest-cert-dir", c.certDir, "--dest-authfile", c.authfile, src, `docker://${dest}`], env);
}

/** Every manifest and blob of `ref` read back and checked against its digest, into a throwaway layout. */
export async function pullAll(env: LiveEnv, c: Client, work: string, ref: string): Promise<{ code: number; stderr: string }> {
    const dir = path.join(work, "pulled", ref.replace(/[^a-z0-9]/gi, "_"));
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    return skopeo(["copy", "--all", "--src-cert-dir", c.certDir, "--src-authfile", c.authfile, `docker://${ref}`, `oci:${dir}:x`], env);
}

/** The fixture: what the "nothing lost" check needs, with every blob's size known. */
export function fixture(work: string) {
    const o = new OciLayout(path.join(work, "fixture"));
    const base = o.layer(64 * 1024);
    const shared = o.layer(32 * 1024); // t2's, and other/base's: stays when t2 goes
    const t = [o.image("t1", [base, o.layer()]), o.image("t2", [base, shared]), o.image("t3", [base, o.layer()]), o.image("t4", [base, o.layer()])];
    const sig = (label: string) => o.image(label, [o.layer(512)]);
    const arm = o.image("arm64, in both indexes", [o.layer()], "arm64");
    const mOld = o.index([{ manifest: o.image("old amd64", [o.layer()]), arch: "amd64" }, { manifest: arm, arch: "arm64" }]);
    const mNew = o.index([{ manifest: o.image("new amd64", [o.layer()]), arch: "amd64" }, { manifest: arm, arch: "arm64" }]);
    const other = o.image("other", [base, shared]);
    const many = Array.from({ length: 6 }, (_, i) => o.image(`many ${i}`, [o.layer(256)]));
    return { o, t, sig2: sig("sig of t2"), sig4: sig("sig of t4"), arm, mOld, mNew, other, many };
}
export type Fixture = ReturnType<typeof fixture>;

/** Pushes the fixture in push-time order (the planner ranks tags by when they were pushed; S3 keeps those times to the second). */
export async function pushFixture(env: LiveEnv, c: Client, host: string, f: Fixture, spacingMs = 20): Promise<void> {
    const steps: [string, Blob][] = [
        ["ret/app:t1", f.t[0]], ["ret/app:keep-me", f.t[0]], ["ret/app:t2", f.t[1]], ["ret/app:t3", f.t[2]], ["ret/app:t4", f.t[3]],
        [`ret/app:sha256-${f.t[1].digest.slice(7)}.sig`, f.sig2], [`ret/app:sha256-${f.t[3].digest.slice(7)}.sig`, f.sig4],
        ["ret/multi:m-old", f.mOld], ["ret/multi:m-new", f.mNew], ["other/base:1", f.other],
        ...f.many.map((m, i): [string, Blob] => [`ret/many:${i}`, m]),
    ];
    for (const [dest, blob] of steps) {
        const r = await push(env, c, f.o.ref(dest.replace(/[/:]/g, "_"), blob), `${host}/${dest}`);
        assert.equal(r.code, 0, `push ${dest}: ${r.stderr}`);
        await new Promise((res) => setTimeout(res, spacingMs));
    }
}

/** `npm run maintenance -- --stack <name> …`: its exit code, its lines, and the report (its last stdout line). */
export async function maintenance(stack: Stack, flags: string[] = []): Promise<{ code: number; report: any; stderr: string }> {
    const r = await run("npm", ["run", "-s", "maintenance", "--", "--stack", stack.name, ...flags], { env: stack.env, cwd: stack.project, timeoutMs: 10 * 60_000 });
    const last = r.stdout.trim().split("\n").pop() ?? "";
    let report: any;
    try { report = JSON.parse(last); } catch { assert.fail(`no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`); }
    return { code: r.code, report, stderr: r.stderr };
}

/** A file under the registry's data, read through the read-only reader container. */
export async function dataFile(env: LiveEnv, reader: string, rel: string): Promise<string | undefined> {
    const r = await run("docker", ["-H", env.dockerHost, "exec", reader, "cat", `/var/lib/registry/${rel}`]);
    return r.code === 0 ? r.stdout : undefined;
}
export const blobPath = (digest: string) => `docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

/** A request through the registry's address with one of the stack's logins. */
export type Api = (p: string, method?: string, login?: "pull" | "push") => Promise<{ status: number; body: string }>;
export interface Traffic { requests: number; failures: string[]; writes: Map<number, number>; unavailable: string }

/**
 * Three reads of a kept image with the pull login and an upload start with the push login, over and over
 * while `during` runs: what each got.
 */
export async function trafficDuring<T>(api: Api, f: Fixture, during: () => Promise<T>): Promise<{ result: T; traffic: Traffic }> {
    const traffic: Traffic = { requests: 0, failures: [], writes: new Map(), unavailable: "" };
    const config = [...f.o.closure(f.t[3]).keys()][1]; // t4's config
    let stop = false;
    const loop = (async () => {
        while (!stop) {
            for (const p of ["/v2/ret/app/manifests/t4", `/v2/ret/app/blobs/${config}`, "/v2/other/base/manifests/1"]) {
                traffic.requests++;
                const r = await api(p).catch((e) => ({ status: 0, body: String(e) }));
                if (r.status !== 200) traffic.failures.push(`${p}: ${r.status} ${r.body.slice(0, 200)}`);
            }
            const w = await api("/v2/ret/probe/blobs/uploads/", "POST", "push").catch((e) => ({ status: 0, body: String(e) }));
            traffic.writes.set(w.status, (traffic.writes.get(w.status) ?? 0) + 1);
            if (w.status === 503) traffic.unavailable = w.body;
        }
    })();
    try {
        return { result: await during(), traffic };
    } finally {
        stop = true;
        await loop;
    }
}

/** Pulls never failed, uploads got 202 or 503, and at least one 503 `UNAVAILABLE` came inside the window. */
export function assertTraffic(t: Traffic): void {
    assert.ok(t.requests > 20, `only ${t.requests} pulls`);
    assert.deepEqual(t.failures, []);
    assert.deepEqual([...t.writes.keys()].filter((s) => s !== 202 && s !== 503), [], JSON.stringify([...t.writes]));
    assert.ok((t.writes.get(503) ?? 0) > 0, `no push was refused during the window: ${JSON.stringify([...t.writes])}`);
    assert.match(t.unavailable, /"code":"UNAVAILABLE"/);
}

type Ref = readonly [repo: string, manifest: Blob];
/**
 * What a run with keepLast 1 and keepTags ^keep- keeps of the fixture and what it deletes, and the blobs
 * only the deleted manifests reach (with their sizes): what GC must sweep and bytesFreed must add up to.
 */
export function expected(f: Fixture, alsoKept: Ref[] = []): { kept: Ref[]; gone: Ref[]; keptBlobs: Set<string>; unique: Map<string, number> } {
    const kept: Ref[] = [["ret/app", f.t[3]], ["ret/app", f.t[0]], ["ret/app", f.sig4], ["ret/multi", f.mNew], ["ret/multi", f.arm],
        ["other/base", f.other], ["ret/many", f.many[5]], ...alsoKept];
    const gone: Ref[] = [["ret/app", f.t[1]], ["ret/app", f.t[2]], ["ret/app", f.sig2], ["ret/multi", f.mOld], ...f.many.slice(0, 5).map((m): Ref => ["ret/many", m])];
    const keptBlobs = new Set(kept.flatMap(([, m]) => [...f.o.closure(m).keys()]));
    const unique = new Map<string, number>();
    for (const [, m] of gone) for (const [d, s] of f.o.closure(m)) if (!keptBlobs.has(d)) unique.set(d, s);
    return { kept, gone, keptBlobs, unique };
}
