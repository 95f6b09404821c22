// Live section: another stack reads this one's outputs through a StackReference and pushes an image
// with them; the secret outputs stay secret there, in its outputs and in its state.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { Stack } from "./cli";
import { env, live, log, state, work } from "./context";
import { leaks, secretForms, skopeo } from "./support";

export function consumerChecks(): void {
    describe("live: another stack uses the outputs through a StackReference", () => {
        it("pushes an image with dockerConfigJson and the CA; the secrets stay secret there", async () => {
            const consumer = new Stack(work, "consumer", path.join(__dirname, "consumer"));
            await consumer.init();
            await consumer.configure({});
            await consumer.must(["config", "set", "registryStack", "organization/private-registry/live"]);
            await consumer.must(["config", "set", "source", `oci:${path.join(work, "oci")}:app`]);
            const up = await consumer.up();
            assert.equal(up.code, 0, `${up.errors.map((e) => e.message).join("\n")}\n${up.stderr.slice(-3000)}`);
            const out = await consumer.outputs();
            assert.equal(out.values.registryHost, live.registry);
            assert.match(out.values.pushedDigest.trim(), /^sha256:[0-9a-f]{64}$/);
            assert.deepEqual(out.secret.sort(), ["dockerConfigJson"]);
            const r = await skopeo(["inspect", "--cert-dir", state.client.certDir, "--authfile", state.client.authfile, "--format", "{{.Digest}}",
                `docker://${live.registry}/consumer/app:1`], env);
            assert.equal(r.stdout.trim(), out.values.pushedDigest.trim(), r.stderr);
            const forms = secretForms({ password: state.password, auth: Buffer.from(`${live.user}:${state.password}`).toString("base64") });
            const files = consumer.stateFiles().filter((f) => f.includes(`${path.sep}registry-consumer${path.sep}`));
            assert.ok(files.length > 0, "the consumer's state files");
            for (const f of files) assert.deepEqual(leaks(fs.readFileSync(f, "utf8"), forms), [], f);
            assert.deepEqual(leaks(await consumer.exportState(), forms), []);
            const d = await consumer.destroy();
            assert.equal(d.code, 0, d.stderr.slice(-2000));
            log(`consumer stack: pushed ${out.values.pushedDigest.trim()} with the referenced outputs`);
        });
    });
}
