// Live section: another stack reads this one's outputs through a StackReference and pulls an image
// with them (a push with that login is refused); the secret outputs stay secret there, in its outputs
// and in its state.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { Stack } from "./cli";
import { env, live, log, state, work } from "./context";
import { leaks, secretForms, skopeo } from "./support";

export function consumerChecks(): void {
    describe("live: another stack uses the outputs through a StackReference", () => {
        it("pulls an image with dockerConfigJson and the CA, cannot push with it; the secrets stay secret there", async () => {
            const consumer = new Stack(work, "consumer", path.join(__dirname, "consumer"));
            await consumer.init();
            await consumer.configure({});
            await consumer.must(["config", "set", "registryStack", "organization/private-registry/live"]);
            await consumer.must(["config", "set", "source", `oci:${path.join(work, "oci")}:app`]);
            await consumer.must(["config", "set", "image", `test/app@${state.pushedDigest}`]);
            const up = await consumer.up();
            assert.equal(up.code, 0, `${up.errors.map((e) => e.message).join("\n")}\n${up.stderr.slice(-3000)}`);
            const out = await consumer.outputs();
            assert.equal(out.values.registryHost, live.registry);
            const [digest, push] = (out.values.pulled as string).trim().split("\n");
            assert.equal(digest, state.pushedDigest);
            assert.deepEqual(out.secret.sort(), ["dockerConfigJson"]);
            // pull-only by default; a stack with access.pullOnly false hands out the one login, which pushes
            if (live.pullOnly) {
                assert.match(push, /^push refused: (unauthorized|denied|authentication required)/i);
                const r = await skopeo(["inspect", "--cert-dir", state.client.certDir, "--authfile", state.client.authfile, `docker://${live.registry}/consumer/app:1`], env);
                assert.notEqual(r.code, 0, "nothing was pushed");
            } else {
                assert.equal(push, "push accepted");
            }
            const forms = secretForms({ password: state.pullPassword, auth: Buffer.from(`${state.pullUser}:${state.pullPassword}`).toString("base64") });
            const files = consumer.stateFiles().filter((f) => f.includes(`${path.sep}registry-consumer${path.sep}`));
            assert.ok(files.length > 0, "the consumer's state files");
            for (const f of files) assert.deepEqual(leaks(fs.readFileSync(f, "utf8"), forms), [], f);
            assert.deepEqual(leaks(await consumer.exportState(), forms), []);
            const d = await consumer.destroy();
            assert.equal(d.code, 0, d.stderr.slice(-2000));
            log(`consumer stack: pulled ${digest} with the referenced outputs; ${push}`);
        });
    });
}
