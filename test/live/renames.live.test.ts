// A stack rename or a new containerName changes the names the program works out (container, volume):
// the registry must keep serving the images pushed before, from the same volume, not start empty.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { changed, run, Stack } from "./cli";
import { clientFiles, loadEnv, skopeo } from "./support";

const env = loadEnv();
const work = fs.mkdtempSync(path.join(env.liveDir, "renames-"));
const PORT = 5605;
const registry = { hostname: env.hostAddress, port: PORT, bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImage };
const VOLUME = "registry-renames-a-data";
let stack = new Stack(work, "renames-a");
let digest = "";

async function upOk(): Promise<string[]> {
    const o = await stack.up();
    assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
    return changed(o);
}

/** The image pushed before pulls by its digest with the stack's current outputs. */
async function pullsByDigest(name: string): Promise<void> {
    const out = JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
    const client = clientFiles(work, name, out.pushDockerConfigJson, out.caCertificatePem);
    const r = await skopeo(["inspect", "--cert-dir", client.certDir, "--authfile", client.authfile, "--format", "{{.Digest}}",
        `docker://${out.registryHost}/renames/app@${digest}`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), digest);
}

async function mountedVolume(container: string): Promise<string> {
    const r = await run("docker", ["-H", env.dockerHost, "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", `${container}-writer`]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
}

after(async () => {
    await stack.destroy();
    await run("docker", ["-H", env.dockerHost, "volume", "rm", VOLUME]);
});

describe("live: renames keep the registry's data", () => {
    it("first up with the derived names; an image pushed", async () => {
        await stack.init();
        await stack.configure(registry, { password: "renames-password-1" });
        await upOk();
        const out = JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
        assert.equal(out.containerName, "registry-renames-a");
        assert.equal(await mountedVolume("registry-renames-a"), VOLUME);
        const client = clientFiles(work, "first", out.pushDockerConfigJson, out.caCertificatePem);
        const digestFile = path.join(work, "pushed.digest");
        const r = await skopeo(["copy", "--digestfile", digestFile, "--src-daemon-host", env.dockerHost, "--dest-cert-dir", client.certDir,
            "--authfile", client.authfile, `docker-daemon:${env.testImage}`, `docker://${out.registryHost}/renames/app:1`], env);
        assert.equal(r.code, 0, r.stderr);
        digest = fs.readFileSync(digestFile, "utf8").trim();
    });

    it("pulumi stack rename: the container follows the new name, the data stays on the first volume", async () => {
        await stack.must(["stack", "rename", "renames-b"]);
        stack = new Stack(work, "renames-b");
        const ops = await upOk();
        assert.ok(!ops.some((c) => c.endsWith("registry-server-data")), `the volume is kept: ${ops.join(", ")}`);
        assert.equal(await mountedVolume("registry-renames-b"), VOLUME);
        await pullsByDigest("after-rename");
    });

    it("a new containerName: the same volume, the same images", async () => {
        await stack.configure({ ...registry, containerName: "renamed-registry" }, { password: "renames-password-1" });
        const ops = await upOk();
        // the containers are renamed (with two logins: the front, the reader and the writer), the volume is not
        for (const c of ["front-container", "reader", "writer"]) assert.ok(ops.includes(`replace registry-server-${c}`), ops.join(", "));
        assert.ok(!ops.some((c) => c.endsWith("registry-server-data")), `the volume is kept: ${ops.join(", ")}`);
        assert.equal(await mountedVolume("renamed-registry"), VOLUME);
        await pullsByDigest("after-container-name");
        const p = await stack.preview(["--expect-no-changes"]);
        assert.equal(p.code, 0, `no perpetual diff: ${p.stderr.slice(-2000)}`);
    });
});
