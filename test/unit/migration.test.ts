// Taking over a registry container started by hand (config `migrate`), with Pulumi mocks: the config's
// checks, the check that runs at preview before anything is made on the docker host, the order of the
// steps, the hooks on the new containers, and the recipe's login kept beside the program's.
import * as assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { configProblems } from "../support/configProblems";
import { byType, captureOptions, created, functions, invoked, one, rejections, reset, settle, setupMocks, valueOf } from "./mocks";

let config: typeof import("../../components/config/config");
let reg: typeof import("../../components/PrivateRegistry");
let mig: typeof import("../../components/registry/RegistryMigration");
const answerCheck = functions["command:local:run"];

before(async () => {
    await setupMocks(false);
    config = await import("../../components/config/config");
    reg = await import("../../components/PrivateRegistry");
    mig = await import("../../components/registry/RegistryMigration");
});
beforeEach(reset);
after(() => {
    functions["command:local:run"] = answerCheck;
});

// one login, one container that takes the old one's place (the take-over behind a front: access.test.ts)
const registry = (raw: Record<string, unknown>) =>
    new reg.PrivateRegistry("registry", { settings: config.parseSettings({ access: { pullOnly: false }, ...raw }, "test"), id: "private-registry-test" },
        { transformations: [captureOptions] });

describe("migrate: config", () => {
    it("fromContainer is required, a docker name, and not one of this stack's containers", () => {
        assert.deepEqual(configProblems({ migrate: {} }),
            ["private-registry:migrate.fromContainer is required: the name of the registry container to take over (e.g. registry)"]);
        assert.match(configProblems({ migrate: { fromContainer: "no such" } })[0],
            /^private-registry:migrate\.fromContainer must start with a letter or digit/);
        assert.match(configProblems({ migrate: { fromContainer: "registry-dev" } })[0],
            /^private-registry:migrate\.fromContainer must not be a container of this stack \(private-registry:containerName\)/);
        assert.match(configProblems({ migrate: { fromContainer: "registry-dev-mirror" }, mirror: {} })[0],
            /or mirror\.containerName/);
        assert.match(configProblems({ migrate: { fromContainer: "registry", keepLogin: "yes" } })[0],
            /^private-registry:migrate\.keepLogin must be true or false/);
        assert.deepEqual(config.parseSettings({ migrate: { fromContainer: "registry" } }, "test").migrate, { fromContainer: "registry", keepLogin: false });
        assert.equal(config.parseSettings({}, "test").migrate, undefined);
    });
});

describe("migrate: the check's answer and the kept logins", () => {
    it("reads problems, done and ok; no answer is a problem", () => {
        assert.deepEqual(mig.readMigrationCheck("fail a\nfail b\n"), { problems: ["a", "b"], done: false });
        assert.deepEqual(mig.readMigrationCheck("ok registry: 3 repositories in volume v\n"), { problems: [], done: false });
        assert.deepEqual(mig.readMigrationCheck("done\n"), { problems: [], done: true });
        assert.match(mig.readMigrationCheck("").problems[0], /check of the old container gave no answer/);
    });

    it("the kept logins follow the program's line, one per line", () => {
        assert.equal(mig.withKeptLogins("pulumi:$2y$04$x\n", "admin:$2y$05$y\n\n"), "pulumi:$2y$04$x\nadmin:$2y$05$y\n");
        assert.equal(mig.withKeptLogins("pulumi:$2y$04$x\n", ""), "pulumi:$2y$04$x\n");
    });
});

describe("migrate: the graph", () => {
    it("checked at preview by an invoke; copy after volume and image; the containers wait for the copy and carry the hooks; retire after them", async () => {
        const r = registry({ username: "pulumi", migrate: { fromContainer: "registry", keepLogin: true } });
        await valueOf(r.server!.migration!.report);
        await settle();
        const check = invoked.find((i) => i.inputs.command === "check")!;
        assert.deepEqual(check.inputs.interpreter, mig.MIGRATE_INTERPRETER);
        assert.equal(check.inputs.logging, "none");
        assert.deepEqual(check.inputs.environment, {
            DOCKER_HOST: "unix:///var/run/docker.sock", FROM: "registry", TARGET: "registry-test-data", TARGET_CONTAINERS: "registry-test",
            USERNAME: "pulumi", KEEP_LOGIN: "1", QUIET_MINUTES: String(mig.QUIET_MINUTES),
        });
        const steps = byType("command:local:Command");
        assert.deepEqual(steps.map((s) => s.inputs.create).sort(), ["copy", "logins", "retire"]);
        const logins = steps.find((s) => s.inputs.create === "logins")!;
        // the old htpasswd never reaches the log, and stays secret in state
        assert.equal(logins.inputs.logging, "stderr");
        assert.deepEqual(logins.opts?.additionalSecretOutputs, ["stdout"]);
        for (const s of steps) assert.deepEqual(s.opts?.ignoreChanges, ["interpreter", "create", "environment"], `${s.inputs.create} runs once`);
        const urns = async (deps: unknown) => Promise.all((await valueOf(deps as pulumi.Input<pulumi.Resource[]>)).map((d) => valueOf(d.urn)));
        const copy = steps.find((s) => s.inputs.create === "copy")!;
        const copyDeps = (await urns(copy.opts!.dependsOn)).join(" ");
        assert.match(copyDeps, /docker:index\/volume:Volume::registry-server-data/);
        assert.match(copyDeps, /docker:index\/remoteImage:RemoteImage::registry-server-image/);
        assert.match(copyDeps, /command:local:Command::registry-server-migrate-logins/);
        const container = one("docker:index/container:Container");
        assert.match((await urns(container.opts!.dependsOn)).join(" "), /command:local:Command::registry-server-migrate-copy$/);
        const hooks = container.opts!.hooks!;
        assert.deepEqual([hooks.beforeCreate, hooks.beforeUpdate].map((h) => (h![0] as pulumi.ResourceHook).name), ["registry-server-migrate-takeover", "registry-server-migrate-takeover"]);
        assert.equal(hooks.onError![0].name, "registry-server-migrate-restore");
        const retire = steps.find((s) => s.inputs.create === "retire")!;
        assert.match((await urns(retire.opts!.dependsOn)).join(" "), /docker:index\/container:Container::registry-server-container/);
        // nothing on the docker host before the check has passed
        for (const type of ["docker:index/volume:Volume", "docker:index/remoteImage:RemoteImage"]) {
            const res = one(type);
            assert.deepEqual(await valueOf(res.opts!.dependsOn as pulumi.Input<pulumi.Resource[]>), [], `${type} waits for the check`);
        }
        // the recipe's login is kept beside the program's
        const htpasswd = container.inputs.uploads.find((u: { file: string }) => u.file === "/auth/htpasswd").content as string;
        assert.match(htpasswd, /^pulumi:\$2[aby]\$04\$.*\nadmin:\$2y\$05\$recipehash/);
        assert.equal(await valueOf(r.server!.migration!.report), "copy done\nretire done");
    });

    it("without keepLogin no logins step, and the htpasswd is the program's alone", async () => {
        registry({ migrate: { fromContainer: "registry" } });
        await settle();
        await settle();
        assert.deepEqual(byType("command:local:Command").map((s) => s.inputs.create).sort(), ["copy", "retire"]);
        const htpasswd = one("docker:index/container:Container").inputs.uploads.find((u: { file: string }) => u.file === "/auth/htpasswd").content as string;
        assert.equal(htpasswd.trim().split("\n").length, 1);
    });

    it("a refused check: its message, and no volume, image, container or step is created", async () => {
        functions["command:local:run"] = () => ({ stdout: "fail private-registry:migrate.fromContainer: container registry holds no images\n", stderr: "" });
        let seen: unknown[] = [];
        try {
            seen = await rejections(async () => {
                registry({ migrate: { fromContainer: "registry" } });
                await settle();
            });
        } finally {
            functions["command:local:run"] = answerCheck;
        }
        assert.ok(seen.some((e) => /container registry holds no images/.test(String((e as Error).message))), String(seen));
        const made = created.filter((c) => /Volume|RemoteImage|Container|local:Command/.test(c.type)).map((c) => c.name);
        assert.deepEqual(made, []);
    });
});
