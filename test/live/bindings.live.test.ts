// The registry published on 1, 2 and 3 bind addresses: right after each `pulumi up`, preview and refresh
// with --expect-no-changes pass and a second up keeps the container (the docker provider reads the
// bindings back in dockerd's order, which must not read as a change).
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { changed, run, Stack } from "./cli";
import { httpsGet, loadEnv } from "./support";

const env = loadEnv();
const work = fs.mkdtempSync(path.join(env.liveDir, "bindings-"));
const stack = new Stack(work, "bindings");
const PORT = 5601;
const NAME = "live-bindings";
const id = async () => (await run("docker", ["-H", env.dockerHost, "inspect", "--format", "{{.Id}}", NAME])).stdout.trim();
const addresses = [env.hostAddress, "127.0.0.1", "127.0.0.2"];

after(async () => {
    await stack.destroy();
    await run("docker", ["-H", env.dockerHost, "volume", "rm", "-f", `${NAME}-data`]);
});

describe("live: bind addresses", () => {
    for (let n = 1; n <= addresses.length; n++) {
        it(`${n} bind address${n > 1 ? "es" : ""}: no perpetual diff`, async () => {
            if (n === 1) await stack.init();
            const bind = addresses.slice(0, n);
            await stack.configure({
                hostname: env.hostAddress, ipAddresses: ["127.0.0.1", "127.0.0.2"], port: PORT, bindAddress: bind,
                dockerHost: env.dockerHost, image: env.registryImage, containerName: NAME,
            });
            const up = await stack.up();
            assert.equal(up.code, 0, up.stderr.slice(-3000));
            const ca = JSON.parse((await stack.must(["stack", "output", "caCertificatePem", "--json"])).stdout);
            for (const host of bind) assert.equal((await httpsGet({ host, port: PORT, servername: env.hostAddress, ca })).status, 401, host);
            const before = await id();
            const p = await stack.preview(["--expect-no-changes"]);
            assert.equal(p.code, 0, `preview: ${changed(p).join(", ")}`);
            const r = await stack.refresh(["--expect-no-changes"]);
            assert.equal(r.code, 0, `refresh: ${changed(r).join(", ")}`);
            const again = await stack.up();
            assert.equal(again.code, 0, again.stderr.slice(-3000));
            assert.deepEqual(changed(again), []);
            assert.equal(await id(), before, "the container is kept");
        });
    }
});
