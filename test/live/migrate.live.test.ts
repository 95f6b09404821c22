// Taking over the manual recipe's registry (config `migrate`): the recipe run for real, then `pulumi up`.
// Its images pull by their old references from the program's registry (registry 2.8 data into 3.1), with
// the new login and, while kept, the recipe's; a take-over that cannot start the new registry leaves the
// old one serving; and what cannot be taken over is refused at preview, with nothing changed.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { run, Stack } from "./cli";
import { docker, inspectDigest, mapRecipeHost, Recipe, RECIPE_HOST, RECIPE_PASSWORD, RECIPE_USER, runRecipe, waitServing } from "./recipe";
import { clientFiles, loadEnv } from "./support";

const env = loadEnv();
const work = fs.mkdtempSync(path.join(env.liveDir, "migrate-"));
const stacks: Stack[] = [];
const oldContainers = ["recipe-a", "recipe-b", "recipe-empty", "recipe-busy", "not-a-registry"];
const NEW_PASSWORD = "migrated-password-1";

function stackConfig(from: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        hostname: RECIPE_HOST, port, bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImages["3"],
        username: "pulumi", containerName: `registry-${from}`, migrate: { fromContainer: from, keepLogin: true }, ...extra,
    };
}

async function newStack(name: string, config: Record<string, unknown>): Promise<Stack> {
    const s = new Stack(work, name);
    stacks.push(s);
    await s.init();
    await s.configure(config, { password: NEW_PASSWORD });
    return s;
}

const state = async (name: string) => (await docker(env, ["inspect", "--format", "{{.State.Status}}", name])).stdout.trim() || "absent";

before(() => mapRecipeHost(env));
after(async () => {
    for (const s of stacks) await s.destroy();
    for (const c of oldContainers) await docker(env, ["rm", "-f", c]);
    await run("sh", ["-c", `docker -H ${env.dockerHost} volume ls -q | grep -E '^registry-(recipe|not)' | xargs -r docker -H ${env.dockerHost} volume rm`]);
});

describe("live: migrating from the manual recipe", () => {
    let recipe: Recipe;
    let stack: Stack;

    it("the recipe runs for real: registry:2 with TLS and htpasswd, an image pushed", async () => {
        recipe = await runRecipe(env, work, "recipe-a", 5700);
        assert.match(recipe.digest, /^sha256:[0-9a-f]{64}$/);
    });

    it("up with migrate: the image pulls by its old reference with the new login and the kept one; the old container is gone", async () => {
        stack = await newStack("migrate-a", stackConfig("recipe-a", 5700));
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        const out = JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
        assert.match(out.migration, /^copied: \d+ files, \d+ KiB from volume \S+ of container recipe-a into registry-recipe-a-data$/m);
        assert.match(out.migration, /^removed: container recipe-a; its data stays in volume \S+ until you delete it/m);
        assert.equal(await state("recipe-a"), "absent");
        const client = clientFiles(work, "new-login", out.pushDockerConfigJson, out.caCertificatePem);
        const ref = `${RECIPE_HOST}:5700/data-service:latest`;
        const withNew = await inspectDigest(env, ref, `pulumi:${NEW_PASSWORD}`, client.certDir);
        assert.equal(withNew.code, 0, withNew.stderr);
        assert.equal(withNew.digest, recipe.digest);
        const withOld = await inspectDigest(env, `${RECIPE_HOST}:5700/data-service@${recipe.digest}`, `${RECIPE_USER}:${RECIPE_PASSWORD}`, client.certDir);
        assert.equal(withOld.code, 0, `the recipe's login is kept: ${withOld.stderr}`);
        // the recipe's certificate no longer serves: clients verify the program's CA
        const oldTrust = await inspectDigest(env, ref, `pulumi:${NEW_PASSWORD}`, recipe.certDir);
        assert.notEqual(oldTrust.code, 0, "the recipe's self-signed certificate is gone");
        const p = await stack.preview(["--expect-no-changes"]);
        assert.equal(p.code, 0, `a second preview changes nothing: ${p.stderr.slice(-2000)}`);
    });

    it("keepLogin off: the recipe's login is refused, the program's still works", async () => {
        await stack.configure(stackConfig("recipe-a", 5700, { migrate: { fromContainer: "recipe-a", keepLogin: false } }), { password: NEW_PASSWORD });
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        const out = JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
        const client = clientFiles(work, "after-retire", out.pushDockerConfigJson, out.caCertificatePem);
        const ref = `${RECIPE_HOST}:5700/data-service@${recipe.digest}`;
        const withOld = await inspectDigest(env, ref, `${RECIPE_USER}:${RECIPE_PASSWORD}`, client.certDir);
        assert.notEqual(withOld.code, 0, "the recipe's login is retired");
        assert.match(withOld.stderr, /unauthorized|authentication required|401/i);
        assert.equal((await inspectDigest(env, ref, `pulumi:${NEW_PASSWORD}`, client.certDir)).digest, recipe.digest);
        // and without migrate at all: nothing left to do, nothing changes on the docker host
        const withoutMigrate = stackConfig("recipe-a", 5700);
        delete withoutMigrate.migrate;
        await stack.configure(withoutMigrate, { password: NEW_PASSWORD });
        const again = await stack.up();
        assert.equal(again.code, 0, again.stderr.slice(-3000));
        assert.equal((await inspectDigest(env, ref, `pulumi:${NEW_PASSWORD}`, client.certDir)).digest, recipe.digest);
    });

    it("a new registry that cannot start: up fails, the old container serves its images again; fixed, the take-over completes", async () => {
        const b = await runRecipe(env, work, "recipe-b", 5701);
        // the container that takes the address (the front, with two logins) from an image that pulls but has no nginx:
        // it never starts, after the take-over stopped the old container
        const s = await newStack("migrate-b", stackConfig("recipe-b", 5701, { access: { frontImage: env.testImage } }));
        const startedAt = async () => (await docker(env, ["inspect", "--format", "{{.State.StartedAt}}", "recipe-b"])).stdout.trim();
        const before = await startedAt();
        const o = await s.up();
        assert.notEqual(o.code, 0, "up fails");
        assert.equal(await state("recipe-b"), "running", o.stderr.slice(-2000));
        // it was stopped for the take-over, and started again when the new registry did not start
        assert.notEqual(await startedAt(), before, "the old container was stopped and started again");
        assert.match(o.stdout + o.stderr + JSON.stringify(o.events), /started: container recipe-b again/);
        await waitServing(env, b);
        const old = await inspectDigest(env, `${RECIPE_HOST}:5701/data-service:latest`, `${RECIPE_USER}:${RECIPE_PASSWORD}`, b.certDir);
        assert.equal(old.code, 0, old.stderr);
        assert.equal(old.digest, b.digest);
        await s.configure(stackConfig("recipe-b", 5701), { password: NEW_PASSWORD });
        const fixed = await s.up();
        assert.equal(fixed.code, 0, `${fixed.errors.map((e) => e.message).join("\n")}\n${fixed.stderr.slice(-3000)}`);
        assert.equal(await state("recipe-b"), "absent");
        const out = JSON.parse((await s.must(["stack", "output", "--json", "--show-secrets"])).stdout);
        const client = clientFiles(work, "b", out.pushDockerConfigJson, out.caCertificatePem);
        assert.equal((await inspectDigest(env, `${RECIPE_HOST}:5701/data-service:latest`, `pulumi:${NEW_PASSWORD}`, client.certDir)).digest, b.digest);
    });

    it("refused at preview, nothing changed: no such container, not a registry, no images, uploads in progress", async () => {
        await runRecipe(env, work, "recipe-empty", 5702, false);
        const busy = await runRecipe(env, work, "recipe-busy", 5703);
        // an upload started and left open: its _uploads entry is seconds old
        const up = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", path.join(busy.certDir, "ca.crt"), "-u",
            `${RECIPE_USER}:${RECIPE_PASSWORD}`, "-X", "POST", `https://${RECIPE_HOST}:5703/v2/data-service/blobs/uploads/`]);
        assert.equal(up.stdout, "202", up.stderr);
        assert.equal((await docker(env, ["run", "-d", "--name", "not-a-registry", env.testImage, "sleep", "600"])).code, 0);
        const cases: [string, number, RegExp][] = [
            ["no-such-container", 5704, /migrate\.fromContainer: no container named no-such-container/],
            ["not-a-registry", 5705, /migrate\.fromContainer: container not-a-registry .* is not a registry/],
            ["recipe-empty", 5702, /migrate\.fromContainer: container recipe-empty holds no images/],
            ["recipe-busy", 5703, /migrate\.fromContainer: container recipe-busy is still being written to/],
        ];
        for (const [from, port, message] of cases) {
            const s = await newStack(`refuse-${from}`, stackConfig(from, port));
            const p = await s.preview();
            assert.notEqual(p.code, 0, `${from}: preview refuses`);
            assert.match(p.stdout + p.stderr, message);
            const u = await s.up();
            assert.notEqual(u.code, 0, `${from}: up refuses`);
            assert.equal((await docker(env, ["volume", "inspect", `registry-${from}-data`])).code, 1, `${from}: no volume made`);
        }
        assert.equal(await state("recipe-empty"), "running");
        assert.equal(await state("recipe-busy"), "running");
        // the same login name as the recipe's, with keepLogin: refused, naming both keys
        const same = await newStack("refuse-same-login", stackConfig("recipe-busy", 5703, { username: RECIPE_USER }));
        const p = await same.preview();
        assert.notEqual(p.code, 0);
        assert.match(p.stdout + p.stderr, /migrate\.keepLogin: the recipe's login 'admin' has the same name as private-registry:username/);
    });
});
