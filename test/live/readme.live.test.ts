// The README's run command, run literally (extracted from README.md) in a clean copy of the repository,
// on the dev stack, against a dockerd on the default socket: what a new user does first.
import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { SCHEMA } from "../../components/configSchema";
import { engineDir, run } from "./cli";
import { httpsGet, loadEnv } from "./support";

const ROOT = path.resolve(__dirname, "../..");
const env = loadEnv();

/** The shell command in the code block that follows "**Run it**" in README.md. */
export function readmeRunCommand(readme: string): string {
    const m = /\*\*Run it\*\*[^\n]*\n+```sh\n([\s\S]*?)```/.exec(readme);
    assert.ok(m, "README.md has a **Run it** block");
    return m[1].trim();
}

/** A user's machine in a folder: a clean clone, the CLI on PATH, the plugins installed, an empty home. */
async function userMachine(name: string) {
    const work = fs.mkdtempSync(path.join(env.liveDir, `${name}-`));
    const clone = path.join(work, "clone");
    execFileSync("git", ["clone", "-q", ROOT, clone]);
    // what is not committed yet is what is tested
    for (const f of execFileSync("git", ["ls-files", "-mo", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean)) {
        fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
        if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(clone, f));
    }
    const home = path.join(work, "home");
    fs.mkdirSync(path.join(home, ".pulumi"), { recursive: true });
    // as `pulumi plugin install` leaves them (hard links: no copy of the large binaries)
    execFileSync("cp", ["-al", path.join(engineDir(), "home", "plugins"), path.join(home, ".pulumi", "plugins")]);
    // the default image name, loaded from the locally built one (nothing can be pulled here)
    assert.equal((await run("docker", ["-H", env.dockerHost, "tag", env.registryImage, SCHEMA.image.default])).code, 0);
    // the CLI "installed" outside root's home, which the command sees empty
    execFileSync("cp", ["-al", path.join(engineDir(), "bin"), path.join(work, "bin")]);
    // nothing can be downloaded here: a missing plugin must fail, not reach out
    const userEnv: NodeJS.ProcessEnv = {
        PATH: `${path.join(work, "bin")}:${process.env.PATH}`, HOME: "/root", PULUMI_SKIP_UPDATE_CHECK: "1",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        npm_config_cache: process.env.npm_config_cache ?? path.join(work, "npm-cache"), CI: "true",
    };
    // In this command's own mount namespace, /var/run/docker.sock is the suite's dockerd and root's home
    // is an empty folder (pulumi finds its home, and `login --local` its state, through the user's entry)
    const wrap = 'mount -t tmpfs tmpfs /run && touch /run/docker.sock && mount --bind "$1" /run/docker.sock && ' +
        'mount --bind "$3" /root && cd "$2" && shift 3 && exec "$@"';
    const inClone = (args: string[], extra: NodeJS.ProcessEnv = {}) => run("unshare", ["--mount", "--propagation", "private", "sh", "-c", wrap,
        "sh", env.dockerHost.replace("unix://", ""), clone, home, ...args], { env: { ...userEnv, ...extra }, timeoutMs: 15 * 60_000 });
    return { clone, inClone };
}

describe("live: the README's run command", () => {
    it("works literally on the dev stack against the default docker socket", async () => {
        const cmd = readmeRunCommand(fs.readFileSync(path.join(ROOT, "README.md"), "utf8"));
        const { inClone } = await userMachine("readme");
        const t = Date.now();
        const r = await inClone(["bash", "-euo", "pipefail", "-c", cmd]);
        console.log(`# README run command: ${Date.now() - t} ms`);
        assert.equal(r.code, 0, `${cmd}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}`);
        const pass = { PULUMI_CONFIG_PASSPHRASE: "change-me" };
        const ca = JSON.parse((await inClone(["pulumi", "stack", "output", "caCertificatePem", "--json"], pass)).stdout);
        assert.equal((await httpsGet({ host: "127.0.0.1", port: 5000, servername: "127.0.0.1", ca })).status, 401);
        const d = await inClone(["pulumi", "destroy", "--yes", "--non-interactive"], pass);
        assert.equal(d.code, 0, d.stderr);
    });

    it("previews on a production-only install (npm ci --omit=dev): the program still compiles", async () => {
        const cmd = readmeRunCommand(fs.readFileSync(path.join(ROOT, "README.md"), "utf8"))
            .replace(/^npm ci\b/, "npm ci --omit=dev").replace(/pulumi up --yes$/, "pulumi preview");
        assert.match(cmd, /^npm ci --omit=dev .*pulumi preview$/);
        const { clone, inClone } = await userMachine("omit-dev");
        const r = await inClone(["bash", "-euo", "pipefail", "-c", cmd]);
        assert.equal(r.code, 0, `${cmd}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}`);
        assert.ok(!fs.existsSync(path.join(clone, "node_modules", "eslint")), "no dev dependency installed");
        assert.ok(fs.existsSync(path.join(clone, "node_modules", "typescript")), "typescript comes with @pulumi/pulumi");
    });
});
