// Maintenance (config `maintenance`), with Pulumi mocks: the config's checks and defaults, and the graph:
// the writer under the supervisor, the reader without a blob cache, the runner image and container (no
// port, no network, no socket) with its schedule, rules and protected digests. The planner, the GC
// guard and the schedule: maintenancePlan.test.ts; real runs: test/live/maintenance.live.test.ts.
import * as assert from "node:assert/strict";
import { before, beforeEach, describe, it } from "node:test";
import { configProblems } from "../support/configProblems";
import { byType, captureOptions, reset, settle, setupMocks, valueOf } from "./mocks";

/* eslint-disable @typescript-eslint/no-explicit-any */
let config: typeof import("../../components/config/config");
let reg: typeof import("../../components/PrivateRegistry");
before(async () => {
    await setupMocks(false);
    config = await import("../../components/config/config");
    reg = await import("../../components/PrivateRegistry");
});
beforeEach(reset);

const base = { hostname: "reg.example", port: 5443, password: "push-password-1", services: [{ name: "team/api", context: "." }] };

async function registry(raw: Record<string, unknown>) {
    const s = config.parseSettings({ ...base, ...raw }, "test");
    const r = new reg.PrivateRegistry("registry", { settings: config.withSecrets(s), id: "private-registry-test" }, { transformations: [captureOptions] });
    await valueOf(r.images!.refs);
    await settle();
    return r;
}
const containers = () => byType("docker:index/container:Container");
const named = (name: string) => containers().find((c) => c.inputs.name === name);

describe("maintenance: config", () => {
    it("off unless set; set, every default", () => {
        assert.equal(config.parseSettings(base, "dev").maintenance, undefined);
        assert.deepEqual(config.parseSettings({ ...base, maintenance: {} }, "dev").maintenance, {
            schedule: "", windowMinutes: 30, untaggedGraceHours: 24, maxDeletePercent: 80, uploadAgeHours: 168, protect: [],
            nodeImage: "node:22.12.0-alpine", retention: [],
        });
        const r = config.parseSettings({ ...base, maintenance: { schedule: "sun 03:30", retention: [{ keepLast: 5 }, { repositories: "team/*", keepTags: ["^v[0-9]"] }] } }, "dev");
        assert.deepEqual(r.maintenance!.retention, [
            { repositories: ["**"], keepLast: 5, keepDays: 0, keepTags: [] },
            { repositories: ["team/*"], keepLast: 0, keepDays: 0, keepTags: ["^v[0-9]"] },
        ]);
    });

    it("every problem names its key and what is allowed", () => {
        const p = (m: Record<string, unknown>, extra: Record<string, unknown> = {}) => configProblems({ ...base, ...extra, maintenance: m });
        assert.match(p({ schedule: "3:30" }).join("\n"), /maintenance\.schedule must be HH:MM or <day> HH:MM in UTC/);
        assert.match(p({ schedule: "daily" }).join("\n"), /\(got "daily"\)/);
        assert.match(p({ retention: [{ repositories: ["team/*"] }] }).join("\n"), /maintenance\.retention\[0\] keeps no tag: set keepLast, keepDays or keepTags/);
        assert.match(p({ retention: [{ keepLast: 1, keepTags: ["(unclosed"] }] }).join("\n"), /maintenance\.retention\[0\]\.keepTags\[0\] must be a regular expression/);
        assert.match(p({ retention: [{ keepLast: 1, repositories: ["Team/*"] }] }).join("\n"), /maintenance\.retention\[0\]\.repositories\[0\] must be a repository glob/);
        assert.match(p({ retention: [{ keepLast: -1 }] }).join("\n"), /maintenance\.retention\[0\]\.keepLast must be an integer from 0/);
        assert.match(p({ protect: ["team/api:latest"] }).join("\n"), /maintenance\.protect\[0\] must be repository@sha256:<digest>/);
        assert.match(p({ maxDeletePercent: 0 }).join("\n"), /maintenance\.maxDeletePercent must be an integer from 1 to 100/);
        assert.match(p({ windowMinutes: 0 }).join("\n"), /maintenance\.windowMinutes must be an integer from 1 to 1440/);
        assert.match(p({}, { access: { pullOnly: false } }).join("\n"), /maintenance needs access\.pullOnly: true/);
        assert.match(p({ nodeImage: "Node 22" }).join("\n"), /maintenance\.nodeImage must be an image reference/);
    });
});

describe("maintenance: the graph on a docker host", () => {
    it("without it: no runner, the writer runs the image's own command, the reader keeps its cache", async () => {
        await registry({});
        assert.equal(named("registry-test-maintenance"), undefined);
        assert.equal(named("registry-test-writer")!.inputs.entrypoints, undefined);
        assert.ok(!named("registry-test-reader")!.inputs.envs.some((e: string) => e.startsWith("REGISTRY_STORAGE_CACHE")));
    });

    it("the writer under the supervisor, the reader without a blob cache, the runner with nothing but the data", async () => {
        await registry({ maintenance: { schedule: "03:30", windowMinutes: 5, protect: [`team/keep@sha256:${"a".repeat(64)}`], retention: [{ keepLast: 3, keepTags: ["^v"] }] } });
        const writer = named("registry-test-writer")!.inputs;
        assert.deepEqual(writer.entrypoints, ["/bin/sh", "/maint/supervise.sh"]);
        assert.equal(writer.hostname, "registry-test-writer", "the supervisor reports under its hostname, which the runner waits for");
        const sup = writer.uploads.find((u: any) => u.file === "/maint/supervise.sh");
        assert.match(await valueOf(sup.content), /readonly-until/);
        assert.ok(named("registry-test-reader")!.inputs.envs.includes("REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR=none"));
        const image = byType("docker:index/image:Image").find((i) => String(i.name).includes("maintenance"))!;
        assert.equal(image.inputs.skipPush, true);
        assert.deepEqual(image.inputs.build.args, { REGISTRY_IMAGE: "registry:3.1.2", NODE_IMAGE: "node:22.12.0-alpine" });
        const runner = named("registry-test-maintenance")!.inputs;
        assert.equal(runner.networkMode, "none");
        assert.equal(runner.ports, undefined);
        assert.deepEqual(runner.volumes.map((v: any) => [v.volumeName, v.containerPath]), [["registry-test-data", "/var/lib/registry"]]);
        assert.ok(!JSON.stringify(runner).includes("docker.sock"));
        const cfg = JSON.parse(await valueOf(runner.uploads[0].content));
        assert.deepEqual(cfg.writers, ["registry-test-writer"]);
        assert.equal(cfg.schedule, "03:30");
        assert.equal(cfg.windowSeconds, 300);
        assert.deepEqual(cfg.policy.rules, [{ repositories: ["**"], keepTags: ["^v"], keepLast: 3 }]);
        assert.equal(cfg.policy.maxDeleteFraction, 0.8);
        // the stack's own image, named as the registry knows it, and maintenance.protect
        assert.equal(cfg.policy.protect.length, 2);
        assert.ok(cfg.policy.protect.some((p: string) => /^team\/api@sha256:[0-9a-f]{64}$/.test(p)), cfg.policy.protect.join(", "));
        assert.ok(!JSON.stringify(cfg).includes("push-password-1"), "the runner holds no login");
    });

    it("a host path is mounted as the registry mounts it", async () => {
        await registry({ dataHostPath: "/srv/registry", maintenance: {} });
        const runner = named("registry-test-maintenance")!.inputs;
        assert.deepEqual(runner.volumes.map((v: any) => [v.hostPath, v.containerPath]), [["/srv/registry", "/var/lib/registry"]]);
    });
});

describe("maintenance: the graph in cluster mode", () => {
    const S3 = { endpoint: "https://s3.example:9000", bucket: "registry", accessKey: "AKIA1", secretKey: "secret-key-1", caPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" };
    it("the writers poll the runner's Service; the runner copies the registry binary, reads the store, and has no login", async () => {
        const s = config.parseSettings({ ...base, port: 30500, kubernetes: { context: "kind" }, cluster: { s3: S3 },
            maintenance: { retention: [{ keepLast: 2 }] } }, "dev");
        const r = new reg.PrivateRegistry("registry", { settings: config.withSecrets(s), id: "private-registry-dev" }, { transformations: [captureOptions] });
        await valueOf(r.cluster!.serviceName);
        await settle();
        const deployments = byType("kubernetes:apps/v1:Deployment");
        const registry = deployments.find((d) => d.inputs.metadata.name === "registry-dev")!.inputs.spec.template.spec;
        const writer = registry.containers.find((c: any) => c.name === "writer");
        assert.deepEqual(writer.command, ["/bin/sh", "/maint/supervise.sh"]);
        assert.match(writer.env.find((e: any) => e.name === "MAINT_URL").value, /^http:\/\/.*:8080$/);
        assert.ok(writer.volumeMounts.some((m: any) => m.mountPath === "/maint"));
        const reader = registry.containers.find((c: any) => c.name === "registry");
        assert.equal(reader.env.find((e: any) => e.name === "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR").value, "none");
        const runner = deployments.find((d) => d.inputs.metadata.name === "registry-dev-maintenance")!.inputs.spec;
        assert.equal(runner.replicas, 1);
        assert.equal(runner.strategy.type, "Recreate");
        assert.deepEqual(runner.template.spec.initContainers[0].command, ["/bin/sh", "-c", "cp /bin/registry /maint-bin/registry"]);
        const c = runner.template.spec.containers[0];
        const names = c.env.map((e: any) => e.name);
        assert.ok(names.includes("REGISTRY_STORAGE_S3_BUCKET") && names.includes("REGISTRY_STORAGE_S3_SECRETKEY") && names.includes("NODE_EXTRA_CA_CERTS"), names.join(" "));
        assert.ok(!names.some((n: string) => /^REGISTRY_(AUTH|HTTP)/.test(n)), `the runner gets the store, no login: ${names.join(" ")}`);
        const svc = byType("kubernetes:core/v1:Service").find((x) => x.inputs.metadata.name === "registry-dev-maintenance")!;
        assert.equal(svc.inputs.spec.type, "ClusterIP");
        const files = byType("kubernetes:core/v1:ConfigMap").find((x) => x.inputs.metadata.name === "registry-dev-maintenance")!;
        const data = await valueOf(files.inputs.data) as Record<string, string>;
        assert.ok(data["runner.mjs"] && data["s3.mjs"]);
        assert.ok(JSON.parse(data["config.json"]).policy.protect.some((p: string) => p.startsWith("team/api@sha256:")));
    });
});
