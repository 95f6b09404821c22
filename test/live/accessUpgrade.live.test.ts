// A stack made with one login (access.pullOnly false, as every stack was before two logins) updated to
// two logins: what it pushed still pulls by the same references, the one login it had becomes the push
// login, the pull login cannot push; once the push password is rotated the old one is refused.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { changed, run, Stack } from "./cli";
import { clientFiles, loadEnv, skopeo } from "./support";

const env = loadEnv();
const work = fs.mkdtempSync(path.join(env.liveDir, "access-upgrade-"));
const PORT = 5612;
const VOLUME = "access-upgrade-data";
const registry = {
    // loopback too: the image builder pushes there
    hostname: env.hostAddress, port: PORT, bindAddress: [env.hostAddress, "127.0.0.1"], dockerHost: env.dockerHost, image: env.registryImages["3"],
    containerName: "access-upgrade", dataVolume: VOLUME, access: { frontImage: env.frontImage },
    services: [{ name: "upgrade/data-service", context: path.resolve(__dirname, "fixtures", "data-service"), tag: "1" }],
};
const stack = new Stack(work, "access-upgrade");
let digest = "";
let images: Record<string, string> = {};

async function up(): Promise<string[]> {
    const o = await stack.up();
    assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
    return changed(o);
}
async function outputs(): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
}
/** skopeo with a login of the stack's outputs (a config.json) and its CA. */
async function as(configJson: string, ca: string, label: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const c = clientFiles(work, label, configJson, ca);
    return skopeo([args[0], ...(args[0] === "copy" ? ["--src-cert-dir", c.certDir, "--dest-cert-dir", c.certDir] : ["--cert-dir", c.certDir]),
        "--authfile", c.authfile, ...args.slice(1)], env);
}
const oci = `oci:${path.join(work, "oci")}:app`;

after(async () => {
    await stack.destroy();
    await run("docker", ["-H", env.dockerHost, "volume", "rm", VOLUME]);
});

describe("live: a one-login stack updated to two logins", () => {
    it("one login: it pushes, and dockerConfigJson is the push login", async () => {
        assert.equal((await skopeo(["copy", "--src-daemon-host", env.dockerHost, `docker-daemon:${env.testImage}`, oci], env)).code, 0);
        await stack.init();
        await stack.configure({ ...registry, access: { ...registry.access, pullOnly: false } }, { password: "upgrade-password-1" });
        await up();
        const out = await outputs();
        assert.equal(out.dockerConfigJson, out.pushDockerConfigJson);
        const digestFile = path.join(work, "digest");
        const r = await as(out.dockerConfigJson, out.caCertificatePem, "one", ["copy", "--digestfile", digestFile, oci, `docker://${out.registryHost}/upgrade/app:1`]);
        assert.equal(r.code, 0, r.stderr);
        digest = fs.readFileSync(digestFile, "utf8").trim();
        images = out.images;
        assert.equal(Object.keys(images).length, 1);
    });

    it("two logins: the same references pull with the pull login, which cannot push; the old login pushes", async () => {
        await stack.configure(registry, { password: "upgrade-password-1" });
        const ops = await up();
        assert.ok(ops.some((o) => o.startsWith("create registry-server-front")), ops.join(", "));
        const out = await outputs();
        assert.deepEqual(out.images, images, "the images' references are unchanged");
        assert.equal(out.username, "pull");
        assert.equal(JSON.parse(out.pushDockerConfigJson).auths[out.registryHost].password, "upgrade-password-1");
        for (const ref of [...Object.values<string>(images), `${out.registryHost}/upgrade/app@${digest}`]) {
            const r = await as(out.dockerConfigJson, out.caCertificatePem, "pull", ["inspect", "--format", "{{.Digest}}", `docker://${ref}`]);
            assert.equal(r.stdout.trim(), ref.split("@")[1], `${ref}: ${r.stderr}`);
        }
        let r = await as(out.dockerConfigJson, out.caCertificatePem, "pull", ["copy", oci, `docker://${out.registryHost}/upgrade/app:2`]);
        assert.notEqual(r.code, 0, "the pull login cannot push");
        r = await as(out.pushDockerConfigJson, out.caCertificatePem, "push", ["copy", oci, `docker://${out.registryHost}/upgrade/app:2`]);
        assert.equal(r.code, 0, r.stderr);
    });

    it("the push password rotated: the old one is refused for pushes and pulls, the new one pushes", async () => {
        const old = (await outputs()).pushDockerConfigJson;
        await stack.configure(registry, { password: "upgrade-password-2" });
        await up();
        const out = await outputs();
        let r = await as(old, out.caCertificatePem, "old", ["copy", oci, `docker://${out.registryHost}/upgrade/app:3`]);
        assert.notEqual(r.code, 0, "a push with the old password");
        assert.match(r.stderr, /unauthorized|authentication required/i);
        r = await as(old, out.caCertificatePem, "old", ["inspect", `docker://${out.registryHost}/upgrade/app@${digest}`]);
        assert.notEqual(r.code, 0, "a pull with the old password");
        r = await as(out.pushDockerConfigJson, out.caCertificatePem, "new", ["copy", oci, `docker://${out.registryHost}/upgrade/app:3`]);
        assert.equal(r.code, 0, r.stderr);
        r = await as(out.dockerConfigJson, out.caCertificatePem, "pull", ["inspect", "--format", "{{.Digest}}", `docker://${out.registryHost}/upgrade/app:3`]);
        assert.equal(r.stdout.trim(), digest, "the pull login, unchanged by the rotation, reads it");
    });

    it("back to one login (access.pullOnly false): the fronts give the address back to one registry; everything pulls with it", async () => {
        await stack.configure({ ...registry, access: { ...registry.access, pullOnly: false } }, { password: "upgrade-password-2" });
        const ops = await up();
        assert.ok(ops.includes("replace registry-server-container"), ops.join(", "));
        const out = await outputs();
        assert.equal(out.dockerConfigJson, out.pushDockerConfigJson);
        for (const ref of [...Object.values<string>(images), `${out.registryHost}/upgrade/app@${digest}`]) {
            const r = await as(out.dockerConfigJson, out.caCertificatePem, "one-again", ["inspect", "--format", "{{.Digest}}", `docker://${ref}`]);
            assert.equal(r.stdout.trim(), ref.split("@")[1], `${ref}: ${r.stderr}`);
        }
        const ps = await run("docker", ["-H", env.dockerHost, "ps", "-a", "--format", "{{.Names}}", "--filter", "name=^access-upgrade"]);
        assert.deepEqual(ps.stdout.trim().split("\n").sort(), ["access-upgrade", "access-upgrade-127-0-0-1"]);
    });
});
