// Garbage collection and retention on the registry line of the stack file the suite runs (3.1 with
// Pulumi.live.yaml, 2.8 with Pulumi.live-alt.yaml): a stack with `maintenance`, a fixture of shared and
// unique layers, an index child shared by a kept and an expired index, attachments, an image the stack
// built; on-demand runs through `npm run maintenance`, pulls and pushes while they run.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { run, Stack } from "./cli";
import { assertTraffic, blobPath, Client, clients, dataFile, expected, Fixture, fixture, maintenance, pullAll, push, pushFixture, trafficDuring } from "./maintenanceSupport";
import { readStackFile } from "./stackConfig";
import { httpsGet, loadEnv, registryImageFor } from "./support";
import { SCHEMA } from "../../components/config/configSchema";

/* eslint-disable @typescript-eslint/no-explicit-any */
const env = loadEnv();
const file = process.env.LIVE_STACK_FILE ?? path.join(__dirname, "Pulumi.live.yaml");
const plain = readStackFile(file).plain;
const image = registryImageFor(env, plain.image ?? SCHEMA.image.default);
const line = image === env.registryImages["2"] ? "2.8" : "3";
const work = fs.mkdtempSync(path.join(env.liveDir, "maintenance-"));
const PORT = 5630;
const NAME = "maint";
const onHostPath = plain.dataHostPath !== undefined;
const DATA = path.join(env.liveDir, "maint-data");
const cfg = {
    hostname: env.hostAddress, port: PORT, bindAddress: [env.hostAddress, "127.0.0.1"], dockerHost: env.dockerHost, image,
    containerName: NAME, ...(onHostPath ? { dataHostPath: DATA } : { dataVolume: `${NAME}-data` }),
    tls: { minVersion: plain.tls?.minVersion ?? "tls1.2" }, access: { frontImage: env.frontImage },
    services: [{ name: "ret/svc", context: path.resolve(__dirname, "fixtures", "data-service"), tag: "built" }],
    maintenance: {
        nodeImage: env.nodeImage, windowMinutes: 1, untaggedGraceHours: 0,
        retention: [{ repositories: ["ret/**"], keepLast: 1, keepTags: ["^keep-"] }],
    },
};
const stack = new Stack(work, "maint");
const host = `${env.hostAddress}:${PORT}`;
let out: Record<string, any>;
let c: { push: Client; pull: Client };
let f: Fixture;
let ca = "";
const docker = (...args: string[]) => run("docker", ["-H", env.dockerHost, ...args]);
const api = (p: string, method = "GET", login: "pull" | "push" = "pull") => httpsGet({ host: env.hostAddress, port: PORT, servername: env.hostAddress, ca, path: p, method,
    auth: login === "pull" ? `${out.username}:${out.password}` : `${out.pushUsername}:${out.pushPassword}`,
    headers: { Accept: ["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json"].join(", ") } });

before(async () => {
    await stack.init();
    await stack.configure(cfg);
    const o = await stack.up();
    assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
    out = (await stack.outputs()).values;
    ca = out.caCertificatePem;
    c = clients(work, out);
    f = fixture(work);
    await pushFixture(env, c.push, host, f);
    // a newer tag in the service's repository: keepLast 1 alone would expire the image the stack built
    assert.equal((await push(env, c.push, f.o.ref("svc-newer", f.many[0]), `${host}/ret/svc:newer`)).code, 0);
});

after(async () => {
    await stack.destroy();
    if (onHostPath) fs.rmSync(DATA, { recursive: true, force: true });
    else await docker("volume", "rm", `${NAME}-data`);
});

describe(`live: maintenance on registry ${line}`, () => {
    it("the runner and the supervised writer run; the output names the runner", async () => {
        assert.deepEqual(out.maintenance, { dockerHost: env.dockerHost, container: `${NAME}-maintenance` });
        const ps = await docker("ps", "--format", "{{.Names}} {{.Command}}", "--filter", `name=${NAME}-`);
        assert.match(ps.stdout, new RegExp(`${NAME}-writer "/bin/sh /maint/supe`), ps.stdout);
        assert.match(ps.stdout, new RegExp(`${NAME}-maintenance `), ps.stdout);
        assert.match((await dataFile(env, `${NAME}-reader`, `.maintenance/state/${NAME}-writer`)) ?? "", /^rw \d+/);
        // the writer purges abandoned uploads itself too, on both lines (set explicitly: the images' defaults differ)
        const logs = await docker("logs", `${NAME}-writer`);
        assert.match(logs.stdout + logs.stderr, /Starting upload purge in/);
    });

    it("the circuit breaker stops a run that would delete most of a repository's tags; --dry-run deletes nothing", async () => {
        const tagsBefore = (await api("/v2/ret/many/tags/list")).body;
        const tripped = await maintenance(stack);
        assert.notEqual(tripped.code, 0);
        assert.match(tripped.report.error, /circuit breaker: ret\/many would lose 5 tags \(83%\)/, tripped.report.error);
        assert.equal(tripped.report.ok, false);
        const dry = await maintenance(stack, ["--dry-run", "--force"]);
        assert.equal(dry.code, 0, JSON.stringify(dry.report));
        assert.equal(dry.report.dryRun, true);
        assert.ok(dry.report.deletedManifests.includes(`ret/app@${f.t[2].digest}`), JSON.stringify(dry.report.deletedManifests));
        for (const ref of ["ret/app:t2", "ret/app:t3", "ret/multi:m-old", "ret/many:0"]) {
            const [repo, tag] = ref.split(":");
            assert.equal((await api(`/v2/${repo}/manifests/${tag}`)).status, 200, `${ref} is still there`);
        }
        assert.equal((await api("/v2/ret/many/tags/list")).body, tagsBefore);
    });

    let report: any;
    it("a forced run, with pulls and pushes going on: 0 pull failures, pushes answered 503 during the window", async () => {
        const { result: r, traffic } = await trafficDuring(api, f, () => maintenance(stack, ["--force"]));
        report = r.report;
        fs.writeFileSync(path.join(work, "report.json"), JSON.stringify(report, null, 2));
        assert.equal(r.code, 0, `${JSON.stringify(report)}\n${r.stderr}`);
        assertTraffic(traffic);
        // writes are back
        assert.equal((await api("/v2/ret/probe/blobs/uploads/", "POST", "push")).status, 202);
    });

    it("nothing lost: every kept image pulls whole by digest; what expired is gone, and so are its unique blobs; the bytes freed match", async () => {
        // the service's repository got a tag of the fixture too
        const { kept, gone, keptBlobs, unique } = expected(f, [["ret/svc", f.many[0]]]);
        for (const [repo, m] of kept) {
            const r = await pullAll(env, c.pull, work, `${host}/${repo}@${m.digest}`);
            assert.equal(r.code, 0, `${repo}@${m.digest}: ${r.stderr}`);
        }
        for (const [repo, m] of gone) assert.equal((await api(`/v2/${repo}/manifests/${m.digest}`)).status, 404, `${repo}@${m.digest}`);
        for (const tag of ["t2", "t3", `sha256-${f.t[1].digest.slice(7)}.sig`]) assert.equal((await api(`/v2/ret/app/manifests/${tag}`)).status, 404, tag);
        assert.equal((await api("/v2/ret/multi/manifests/m-old")).status, 404);
        // t1 shares its digest with keep-me: distribution 3 untags it, 2.8 cannot and keeps it
        assert.equal((await api("/v2/ret/app/manifests/t1")).status, line === "3" ? 404 : 200);
        // the blobs only expired manifests reached
        const svc = (out.images["ret/svc"] as string).split("@")[1];
        assert.ok(unique.size > 10);
        for (const d of unique.keys()) assert.equal(await dataFile(env, `${NAME}-reader`, blobPath(d)), undefined, `${d} is still stored`);
        for (const d of keptBlobs.keys()) assert.notEqual(await dataFile(env, `${NAME}-reader`, blobPath(d)), undefined, `${d} was swept`);
        const bytes = [...unique.values()].reduce((a, b) => a + b, 0);
        assert.equal(report.bytesFreed, bytes, `report ${report.bytesFreed} bytes, the expired images' unique blobs ${bytes}`);
        assert.equal(report.blobsSwept, unique.size);
        assert.ok(report.kept.some((k: any) => k.ref === `ret/svc:built` || k.ref.includes(svc)), "the stack's image is listed as kept");
        assert.ok(report.verified.blobs > 0 && report.verified.tags > 0, JSON.stringify(report.verified));
    });

    it("the stack's own images survive any rule: the service's tag and digest pull", async () => {
        const ref = out.images["ret/svc"] as string;
        assert.equal((await pullAll(env, c.pull, work, ref)).code, 0);
        assert.equal((await api("/v2/ret/svc/manifests/built")).status, 200);
        assert.equal((await api("/v2/ret/svc/manifests/newer")).status, 200);
    });

    it("a push after GC of a layer GC removed uploads it again; the image then pulls", async () => {
        const layer = [...f.o.closure(f.t[2]).keys()].find((d) => !f.o.closure(f.t[3]).has(d) && d !== f.t[2].digest && (f.o.closure(f.t[2]).get(d) ?? 0) > 1000)!;
        assert.equal(await dataFile(env, `${NAME}-reader`, blobPath(layer)), undefined, "t3's own layer was swept");
        const r = await push(env, c.push, f.o.ref("t3-again", f.t[2]), `${host}/ret/app:t3-again`);
        assert.equal(r.code, 0, r.stderr);
        assert.notEqual(await dataFile(env, `${NAME}-reader`, blobPath(layer)), undefined, "the layer was uploaded again");
        assert.equal((await pullAll(env, c.pull, work, `${host}/ret/app@${f.t[2].digest}`)).code, 0);
    });

    it("an abandoned upload older than uploadAgeHours is removed; a fresh one stays", async () => {
        const start = async () => {
            const r = await api("/v2/ret/abandoned/blobs/uploads/", "POST", "push");
            assert.equal(r.status, 202, r.body);
            return String(r.headers?.["docker-upload-uuid"]);
        };
        const [old, fresh] = [await start(), await start()];
        const dir = (id: string) => `/var/lib/registry/docker/registry/v2/repositories/ret/abandoned/_uploads/${id}`;
        const back = await docker("exec", `${NAME}-writer`, "sh", "-c", `echo 2020-01-01T00:00:00Z > ${dir(old)}/startedat`);
        assert.equal(back.code, 0, back.stderr);
        const r = await maintenance(stack, ["--force"]);
        assert.equal(r.code, 0, JSON.stringify(r.report));
        assert.deepEqual(r.report.uploadsPurged, [`ret/abandoned/${old}`]);
        assert.notEqual((await docker("exec", `${NAME}-reader`, "test", "-d", dir(old))).code, 0);
        assert.equal((await docker("exec", `${NAME}-reader`, "test", "-d", dir(fresh))).code, 0);
    });

    it("a push running when the window opens completes before it, or fails and succeeds when retried; the image is whole", async (t) => {
        const big = f.o.image("big", [f.o.layer(24 * 1024 * 1024)]);
        const src = f.o.ref("big", big);
        const pushing = push(env, c.push, src, `${host}/ret/big:1`);
        await new Promise((res) => setTimeout(res, 300));
        const m = await maintenance(stack, ["--force"]);
        assert.equal(m.code, 0, JSON.stringify(m.report));
        const first = await pushing;
        t.diagnostic(first.code === 0 ? "the push completed before the window" : `the push failed in the window and was retried: ${first.stderr.trim().split("\n").pop()}`);
        if (first.code !== 0) {
            assert.match(first.stderr, /503|UNAVAILABLE|unavailable|maintenance/i, first.stderr);
            const again = await push(env, c.push, src, `${host}/ret/big:1`);
            assert.equal(again.code, 0, again.stderr);
        }
        assert.equal((await pullAll(env, c.pull, work, `${host}/ret/big@${big.digest}`)).code, 0);
    });

    it("the runner killed inside the window: the writer serves again by the deadline, and the next run completes", async () => {
        const state = async () => (await dataFile(env, `${NAME}-reader`, `.maintenance/state/${NAME}-writer`)) ?? "";
        const running = maintenance(stack, ["--force"]).catch((e) => ({ code: -1, report: undefined, stderr: String(e) }));
        for (let i = 0; i < 100 && !(await state()).startsWith("stopped"); i++) await new Promise((res) => setTimeout(res, 100));
        assert.match(await state(), /^stopped/);
        assert.equal((await docker("kill", `${NAME}-maintenance`)).code, 0);
        const killedAt = Date.now();
        await running;
        assert.equal((await api("/v2/ret/probe/blobs/uploads/", "POST", "push")).status, 503, "the window stays until its deadline");
        while (!(await state()).startsWith("rw") && Date.now() - killedAt < 75_000) await new Promise((res) => setTimeout(res, 500));
        assert.match(await state(), /^rw/, "the writer serves again within the window's deadline (windowMinutes 1)");
        assert.equal((await api("/v2/ret/probe/blobs/uploads/", "POST", "push")).status, 202);
        assert.equal((await docker("start", `${NAME}-maintenance`)).code, 0);
        const r = await maintenance(stack, ["--force"]);
        assert.equal(r.code, 0, JSON.stringify(r.report));
        const logs = await docker("logs", `${NAME}-maintenance`);
        assert.match(logs.stderr + logs.stdout, /recovered/);
    });

    it("on its schedule, with nobody running pulumi", async () => {
        // the next whole minute at least 45 s ahead (the up that sets it replaces the runner first)
        const at = new Date(Math.ceil((Date.now() + 45_000) / 60_000) * 60_000);
        const hhmm = at.toISOString().slice(11, 16);
        await stack.configure({ ...cfg, maintenance: { ...cfg.maintenance, schedule: hhmm } });
        const o = await stack.up();
        assert.equal(o.code, 0, o.stderr.slice(-2000));
        const logs = await docker("logs", `${NAME}-maintenance`);
        assert.match(logs.stderr, new RegExp(`next run ${at.toISOString().slice(0, 16)}`), logs.stderr);
        let last: any;
        for (const end = at.getTime() + 90_000; Date.now() < end; await new Promise((res) => setTimeout(res, 2000))) {
            last = JSON.parse((await dataFile(env, `${NAME}-reader`, ".maintenance/last-run.json")) ?? "{}");
            if (Date.parse(last.startedAt ?? "") >= at.getTime()) break;
        }
        assert.ok(Date.parse(last.startedAt) >= at.getTime(), `no run at ${hhmm}: last ${JSON.stringify(last).slice(0, 300)}`);
        assert.equal(last.ok, true, JSON.stringify(last));
    });

    it("a second run deletes nothing", async () => {
        const r = await maintenance(stack, ["--force"]);
        assert.equal(r.code, 0, JSON.stringify(r.report));
        assert.deepEqual([r.report.deletedManifests, r.report.blobsSwept], [[], 0]);
    });
});
