// README.md followed literally, as a new user does, in a clean copy of the repository on the dev stack,
// against a dockerd on the default socket: the **Run it** command, then the "Then, for example" block
// in the same shell, then the "From another stack" program as a project of its own on the same
// backend, then the clean-up. The blocks are read from README.md, so what it says is what runs.
import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { SCHEMA } from "../../components/config/configSchema";
import { engineDir, Proc, run } from "./cli";
import { httpsGet, leaks, loadEnv, secretForms } from "./support";

const ROOT = path.resolve(__dirname, "../..");
const env = loadEnv();
const README = () => fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
/** What the dev stack is published on, and the names the README's clean-up uses. */
const REGISTRY = "127.0.0.1:5000";
const CONTAINER = "registry-dev";
const VOLUME = `${CONTAINER}-data`;

/** The code block in `lang` that follows the first line of README.md holding `marker`. */
export function readmeBlock(readme: string, marker: string, lang: string): string {
    const at = readme.indexOf(marker);
    assert.ok(at >= 0, `README.md has ${marker}`);
    const m = new RegExp(`^[^\\n]*\\n(?:[^\\n]*\\n)*?\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme.slice(readme.lastIndexOf("\n", at) + 1));
    assert.ok(m, `README.md has a \`\`\`${lang} block after ${marker}`);
    return m[1].trim();
}

/** The shell command in the code block that follows "**Run it**" in README.md. */
export function readmeRunCommand(readme: string): string {
    return readmeBlock(readme, "**Run it**", "sh");
}

/** A user's machine in a folder: a clean clone, the CLI on PATH, the plugins installed, an empty home. */
async function userMachine(name: string) {
    const work = fs.mkdtempSync(path.join(env.liveDir, `${name}-`));
    const clone = path.join(work, "clone");
    execFileSync("git", ["clone", "-q", ROOT, clone]);
    // what is not committed yet is what is tested: changed (staged or not), added, untracked, deleted
    const git = (args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
    for (const f of new Set([...git(["diff", "--name-only", "HEAD"]), ...git(["ls-files", "-o", "--exclude-standard"])])) {
        fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
        if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(clone, f));
        else fs.rmSync(path.join(clone, f), { force: true });
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
    // is an empty folder (pulumi, docker and npm find their home through the user's entry)
    const wrap = 'mount -t tmpfs tmpfs /run && touch /run/docker.sock && mount --bind "$1" /run/docker.sock && ' +
        'mount --bind "$3" /root && cd "$2" && shift 3 && exec "$@"';
    const inDir = (dir: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Proc> => run("unshare", ["--mount", "--propagation", "private", "sh", "-c", wrap,
        "sh", env.dockerHost.replace("unix://", ""), dir, home, ...args], { env: { ...userEnv, ...extra }, timeoutMs: 15 * 60_000 });
    const inClone = (args: string[], extra: NodeJS.ProcessEnv = {}) => inDir(clone, args, extra);
    return { work, clone, home, inDir, inClone };
}

const tail = (r: Proc) => `${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}`;
const suiteDocker = (args: string[]) => run("docker", ["-H", env.dockerHost, ...args]);

/** Every file under `dir`, except the folders named in `skip`. */
function filesUnder(dir: string, skip: string[] = []): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return skip.includes(e.name) ? [] : filesUnder(p, skip);
        return e.isFile() ? [p] : [];
    });
}

describe("live: README.md followed literally on the dev stack", () => {
    let m: Awaited<ReturnType<typeof userMachine>> | undefined;
    /** The variables the run command exports, for the commands the test adds afterwards. */
    let stateEnv: NodeJS.ProcessEnv = {};
    let destroyed = false;

    after(async () => {
        if (m && !destroyed) await m.inClone(["pulumi", "destroy", "--yes", "--non-interactive"], stateEnv);
        await suiteDocker(["rmi", `${REGISTRY}/hello:1`]);
        await suiteDocker(["volume", "rm", VOLUME]);
    });

    it("the run command, then the 'Then, for example' block in the same shell: the image is in the catalog", async () => {
        const readme = README();
        const cmd = readmeRunCommand(readme);
        const then = readmeBlock(readme, "Then, for example", "sh");
        assert.doesNotMatch(cmd, /pulumi login/, "the run command leaves the user's pulumi login alone");
        const pass = /PULUMI_CONFIG_PASSPHRASE=(\S+)/.exec(cmd);
        assert.ok(pass, "the run command sets the passphrase");
        // a registry of an earlier run would bring its data: start as a new user does
        await suiteDocker(["rm", "-f", CONTAINER]);
        await suiteDocker(["volume", "rm", VOLUME]);
        await suiteDocker(["rmi", `${REGISTRY}/hello:1`]);
        m = await userMachine("readme");
        stateEnv = { PULUMI_BACKEND_URL: `file://${m.clone}/.pulumi`, PULUMI_CONFIG_PASSPHRASE: pass[1] };
        const t = Date.now();
        const r = await m.inClone(["bash", "-euo", "pipefail", "-c", `${cmd}\nprintf '\\n--- then ---\\n'\n${then}\n`]);
        console.log(`# README run command and example: ${Date.now() - t} ms`);
        assert.equal(r.code, 0, `${cmd}\n${then}\n${tail(r)}`);
        const example = r.stdout.slice(r.stdout.indexOf("--- then ---"));
        const catalog = JSON.parse(example.trim().split("\n").pop()!) as { repositories: string[] };
        assert.deepEqual(catalog.repositories, ["hello"]);

        // the state went to the ignored folder in the clone, and the user's login was not touched
        assert.ok(fs.existsSync(path.join(m.clone, ".pulumi", ".pulumi", "stacks")), "state in .pulumi/");
        assert.equal((await run("git", ["-C", m.clone, "check-ignore", "-q", ".pulumi"])).code, 0, ".pulumi/ is ignored");
        assert.ok(!fs.existsSync(path.join(m.home, ".pulumi", "credentials.json")), "no pulumi login was stored");
        assert.match(fs.readFileSync(path.join(m.clone, "Pulumi.dev.yaml"), "utf8"), /^encryptionsalt: /m, "as the README says");

        // the registry serves TLS with the stack's CA
        const ca = JSON.parse((await m.inClone(["pulumi", "stack", "output", "caCertificatePem", "--json"], stateEnv)).stdout) as string;
        assert.equal((await httpsGet({ host: "127.0.0.1", port: 5000, servername: "127.0.0.1", ca })).status, 401);

        // no password in the repository folder: the example kept it on pipes (docker's config is in the home)
        const password = (await m.inClone(["pulumi", "stack", "output", "password", "--show-secrets"], stateEnv)).stdout.trim();
        assert.match(password, /^\w{16,}$/);
        const forms = secretForms({ password, auth: Buffer.from(`admin:${password}`).toString("base64") });
        for (const f of filesUnder(m.clone, ["node_modules"])) assert.deepEqual(leaks(fs.readFileSync(f, "latin1"), forms), [], f);
        const dockerConfig = JSON.parse(fs.readFileSync(path.join(m.home, ".docker", "config.json"), "utf8")) as { auths: Record<string, unknown> };
        assert.ok(dockerConfig.auths[REGISTRY], "docker login kept the login in the home folder");
    });

    it("the pushed image pulls back by its digest", async () => {
        assert.ok(m, "the run command ran");
        const inspect = await m.inClone(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", `${REGISTRY}/hello:1`]);
        assert.equal(inspect.code, 0, inspect.stderr);
        const ref = (JSON.parse(inspect.stdout) as string[]).find((d) => d.startsWith(`${REGISTRY}/hello@sha256:`));
        assert.ok(ref, inspect.stdout);
        assert.equal((await m.inClone(["docker", "rmi", `${REGISTRY}/hello:1`])).code, 0);
        const pull = await m.inClone(["docker", "pull", ref]);
        assert.equal(pull.code, 0, tail(pull));
        await m.inClone(["docker", "rmi", ref]);
    });

    it("the 'From another stack' program compiles and runs against the dev stack; its secret output stays secret", async () => {
        assert.ok(m, "the run command ran");
        const program = readmeBlock(README(), "**From another stack**", "ts");
        const dir = path.join(m.work, "consumer");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "index.ts"), `${program}\n`);
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: readme-consumer\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
        // the packages the README names, at the versions the clone installed
        const pins = (JSON.parse(fs.readFileSync(path.join(m.clone, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies;
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "readme-consumer", private: true, main: "index.ts",
            dependencies: { "@pulumi/kubernetes": pins["@pulumi/kubernetes"], "@pulumi/pulumi": pins["@pulumi/pulumi"] } }, null, 2));
        fs.copyFileSync(path.join(__dirname, "consumer", "tsconfig.json"), path.join(dir, "tsconfig.json"));
        fs.symlinkSync(path.join(m.clone, "node_modules"), path.join(dir, "node_modules"));

        // strict, both branches (the Deployment one too, which the dev stack does not run)
        const tsc = await run(process.execPath, [path.join(m.clone, "node_modules", "typescript", "bin", "tsc"), "-p", dir, "--noEmit"]);
        assert.equal(tsc.code, 0, `${tsc.stdout}\n${tsc.stderr}`);

        const up = await m.inDir(dir, ["bash", "-euo", "pipefail", "-c", "pulumi stack select --create dev && pulumi up --yes"], stateEnv);
        assert.equal(up.code, 0, tail(up));
        const shown = JSON.parse((await m.inDir(dir, ["pulumi", "stack", "output", "--json"], stateEnv)).stdout) as Record<string, unknown>;
        assert.equal(shown.registryHost, REGISTRY);
        assert.equal(shown.dockerConfigJson, "[secret]");
        const values = JSON.parse((await m.inDir(dir, ["pulumi", "stack", "output", "--json", "--show-secrets"], stateEnv)).stdout) as Record<string, unknown>;
        const auths = (JSON.parse(values.dockerConfigJson as string) as { auths: Record<string, { username: string; password: string }> }).auths;
        // a consumer gets the pull login
        assert.equal(auths[REGISTRY]?.username, "pull");
        const password = auths[REGISTRY].password;
        // nowhere in clear in the backend: neither the registry's state nor the consumer's
        const forms = secretForms({ password, auth: Buffer.from(`pull:${password}`).toString("base64") });
        const stateFiles = filesUnder(path.join(m.clone, ".pulumi"));
        assert.ok(stateFiles.some((f) => f.includes(`${path.sep}readme-consumer${path.sep}`)), "the consumer's state is on the same backend");
        for (const f of stateFiles) assert.deepEqual(leaks(fs.readFileSync(f, "utf8"), forms), [], f);
        const exported = await m.inDir(dir, ["pulumi", "stack", "export"], stateEnv);
        assert.deepEqual(leaks(exported.stdout, forms), []);

        const d = await m.inDir(dir, ["pulumi", "destroy", "--yes"], stateEnv);
        assert.equal(d.code, 0, tail(d));
    });

    it("destroy keeps the data volume; the README's clean-up removes it", async () => {
        assert.ok(m, "the run command ran");
        const readme = README();
        assert.ok(readme.includes(`\`docker volume rm ${VOLUME}\``), `README.md names the dev volume ${VOLUME}`);
        const d = await m.inClone(["pulumi", "destroy", "--yes", "--non-interactive"], stateEnv);
        assert.equal(d.code, 0, tail(d));
        destroyed = true;
        assert.notEqual((await suiteDocker(["inspect", CONTAINER])).code, 0, "the container is gone");
        assert.equal((await suiteDocker(["volume", "inspect", VOLUME])).code, 0, "the volume stays");
        const rm = await m.inClone(["docker", "volume", "rm", VOLUME]);
        assert.equal(rm.code, 0, rm.stderr);
        const srm = await m.inClone(["pulumi", "stack", "rm", "--yes", "dev"], stateEnv);
        assert.equal(srm.code, 0, srm.stderr);
    });
});

describe("live: the README's run command on a production-only install", () => {
    it("previews with npm ci --omit=dev: the program still compiles", async () => {
        const cmd = readmeRunCommand(README())
            .replace(/^npm ci\b/m, "npm ci --omit=dev").replace(/pulumi up --yes$/, "pulumi preview");
        assert.match(cmd, /^npm ci --omit=dev\b[\s\S]*pulumi preview$/);
        const { clone, inClone } = await userMachine("omit-dev");
        const r = await inClone(["bash", "-euo", "pipefail", "-c", cmd]);
        assert.equal(r.code, 0, `${cmd}\n${tail(r)}`);
        assert.ok(!fs.existsSync(path.join(clone, "node_modules", "eslint")), "no dev dependency installed");
        assert.ok(fs.existsSync(path.join(clone, "node_modules", "typescript")), "typescript comes with @pulumi/pulumi");
    });
});
