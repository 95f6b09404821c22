// Shared by the benchmarks: the live environment, the program's stack config, registry containers built
// from what the program declared, timing, statistics and result files.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { run, Stack } from "../test/live/cli";
import { LiveEnv, loadEnv } from "../test/live/support";

/* eslint-disable @typescript-eslint/no-explicit-any */
export const ROOT = path.resolve(__dirname, "..");
export const QUICK = process.argv.includes("--quick");
export const OUT_DIR = path.join(ROOT, "bench", "results", QUICK ? "quick" : "");
export const env: LiveEnv = loadEnv();

const loadAtStart = os.loadavg();

export const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

export async function must(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
    const r = await run(cmd, args, opts);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
}

export const docker = (...args: string[]): Promise<string> => must("docker", ["-H", env.dockerHost, ...args]);

/** Seconds that `fn` takes. */
export async function seconds(fn: () => Promise<unknown>): Promise<number> {
    const t = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t) / 1e9;
}

export interface Stat { median: number; min: number; max: number; n: number }

export function stat(xs: number[]): Stat {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return { median: m, min: s[0], max: s[s.length - 1], n: s.length };
}

/** The variants of repetition `rep`, rotated so no variant always runs first (or right after a given one). */
export function rotate<T>(xs: T[], rep: number): T[] {
    const k = rep % xs.length;
    return [...xs.slice(k), ...xs.slice(0, k)];
}

/** A scratch dir under the live dir (down.sh removes it with the rest). */
export function scratch(prefix: string): string {
    fs.mkdirSync(path.join(env.liveDir, "bench"), { recursive: true });
    return fs.mkdtempSync(path.join(env.liveDir, "bench", `${prefix}-`));
}

/** A stack of the program on the real engine, deployed with a given config, its state in a scratch dir. */
export class BenchStack {
    readonly stack: Stack;
    private created = false;

    constructor(name = "bench") {
        this.stack = new Stack(scratch("stack"), name);
    }

    /** `pulumi up` with this config (a `password` key goes in as a secret); the stack's outputs. */
    async up(cfg: Record<string, any>): Promise<{ outputs: Record<string, any>; ms: number }> {
        if (!this.created) await this.stack.init();
        this.created = true;
        const { password, ...plain } = cfg;
        await this.stack.configure(plain, password ? { password } : {});
        const o = await this.stack.up();
        if (o.code !== 0) throw new Error(`up failed: ${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-2000)}`);
        return { outputs: (await this.stack.outputs()).values, ms: o.ms };
    }

    async destroy(): Promise<void> {
        if (this.created) await this.stack.destroy();
    }
}

/** A fresh stack of its own. */
export function engine(): BenchStack {
    return new BenchStack();
}

/** A stack file's settings (project keys without the prefix). */
export function stackFile(file: string): Record<string, any> {
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, file), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^private-registry:/, ""), v]));
}

/**
 * The default stack (Pulumi.dev.yaml: 127.0.0.1:5000, generated password, default bcrypt cost) on the live dockerd.
 * Its front (access.pullOnly, the default) runs the suite's locally built nginx; `extra.access` adds to that.
 */
export function defaultStack(extra: Record<string, any> = {}): Record<string, any> {
    const cfg = stackFile("Pulumi.dev.yaml");
    delete cfg.bcryptCost; // the program's built-in default, whatever it is
    const { access, ...rest } = extra;
    return { ...cfg, dockerHost: env.dockerHost, image: env.registryImage, containerName: "bench-registry", ...rest,
        access: { ...(cfg.access ?? {}), frontImage: env.frontImage, ...(access ?? {}) } };
}

/** The registry lines the live environment builds ("2", "3"), oldest first, and the one the program's default image is on. */
export const LINES = (Object.keys(env.registryImages) as Line[]).sort();
export type Line = keyof LiveEnv["registryImages"];
export const DEFAULT_LINE = LINES.find((l) => env.registryImages[l] === env.registryImage)!;

/** Fails unless the program's registry container runs `line`'s image (the container names it by image ID). */
export async function checkLine(e: BenchStack, line: Line): Promise<ContainerSpec> {
    const spec = await declaredContainer(e);
    const want = (await docker("image", "inspect", "-f", "{{.Id}}", env.registryImages[line])).trim();
    if (spec.image !== want && spec.image !== env.registryImages[line]) throw new Error(`deployed ${spec.image}, not the ${line}.x image ${env.registryImages[line]} (${want})`);
    return spec;
}

/** The default stack on one registry line's image. */
export const lineStack = (line: Line, extra: Record<string, any> = {}): Record<string, any> => defaultStack({ image: env.registryImages[line], ...extra });

export function upOk(e: BenchStack, cfg: Record<string, any>): Promise<{ outputs: Record<string, any>; ms: number }> {
    return e.up(cfg);
}

export interface Client { registry: string; certDir: string; authfile: string; ca: string; basic: string }

/**
 * What a pushing consumer of the stack outputs (CI) sets up: the CA in a cert dir and the docker config.json of
 * the push login (`pushDockerConfigJson`; `dockerConfigJson` is the pull login, which cannot push when
 * access.pullOnly is on). A stack from before the two logins has only `dockerConfigJson`.
 */
export function client(dir: string, outputs: Record<string, any>): Client {
    const push = outputs.pushDockerConfigJson !== undefined;
    fs.mkdirSync(path.join(dir, "certs"), { recursive: true });
    fs.writeFileSync(path.join(dir, "certs", "ca.crt"), outputs.caCertificatePem);
    fs.writeFileSync(path.join(dir, "auth.json"), push ? outputs.pushDockerConfigJson : outputs.dockerConfigJson, { mode: 0o600 });
    const [user, password] = push ? [outputs.pushUsername, outputs.pushPassword] : [outputs.username, outputs.password];
    return { registry: outputs.registryHost, certDir: path.join(dir, "certs"), authfile: path.join(dir, "auth.json"),
        ca: outputs.caCertificatePem, basic: Buffer.from(`${user}:${password}`).toString("base64") };
}

/** Milliseconds per `GET /v2/` with credentials, `count` in a row on one kept-alive TLS connection. */
export async function getMs(c: Client, count: number): Promise<number> {
    const [host, port] = c.registry.split(":");
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: c.ca });
    const get = () => new Promise<void>((resolve, reject) => {
        https.get({ host, port, path: "/v2/", agent, headers: { authorization: `Basic ${c.basic}` } }, (res) => {
            res.resume().on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET /v2/: ${res.statusCode}`))));
        }).on("error", reject);
    });
    try {
        await get(); // the TLS handshake, off the clock
        return (1000 * (await seconds(async () => { for (let i = 0; i < count; i++) await get(); }))) / count;
    } finally {
        agent.destroy();
    }
}

/**
 * skopeo with an empty blob-info cache of its own (a tmpfs over /var/lib/containers/cache in a private mount
 * namespace): every push is a first push, never a mount from a repository some earlier run pushed to, and
 * the host's cache is left alone.
 */
export async function skopeo(...args: string[]): Promise<string> {
    return must("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c",
        'mkdir -p /var/lib/containers/cache && mount -t tmpfs tmpfs /var/lib/containers/cache && exec skopeo "$@"', "skopeo", ...args],
    { timeoutMs: 600_000 });
}

/** skopeo push of an oci: layout to `<registry>/<repo>`, and the pull back into a fresh oci: dir. */
export const push = (c: Client, oci: string, repo: string, tls = true) =>
    skopeo("copy", "-q", tls ? `--dest-cert-dir=${c.certDir}` : "--dest-tls-verify=false", `--authfile=${c.authfile}`, `oci:${oci}`, `docker://${c.registry}/${repo}`);
export const pull = (c: Client, repo: string, oci: string, tls = true) =>
    skopeo("copy", "-q", tls ? `--src-cert-dir=${c.certDir}` : "--src-tls-verify=false", `--authfile=${c.authfile}`, `docker://${c.registry}/${repo}`, `oci:${oci}`);

/** The registry container the program declared (as the engine created it). */
export interface ContainerSpec { image: string; envs: string[]; uploads: { file: string; content: string; permissions?: string }[] }

/**
 * The registry container that takes pushes: the one that publishes the port, or behind the front
 * (access.pullOnly) the writer; never the front's nginx nor the read-only reader.
 */
export async function declaredContainer(e: BenchStack): Promise<ContainerSpec> {
    const state = JSON.parse((await e.stack.must(["stack", "export", "--show-secrets"])).stdout);
    const registries = (state.deployment.resources ?? []).filter((x: any) => x.type === "docker:index/container:Container"
        && !x.urn.includes(":RegistryFront$") && !/-reader$/.test(x.urn));
    const entry = registries.find((x: any) => /-writer$/.test(x.urn)) ?? registries[0];
    if (!entry) throw new Error("the program declared no registry container");
    // with --show-secrets a secret reads {"<sig>": "…", "plaintext": "<JSON of the value>"}
    const plain = (v: any): any => (v && typeof v === "object" && "plaintext" in v ? JSON.parse(v.plaintext) : v);
    const uploads = plain(entry.inputs.uploads).map((u: any) => ({ ...u, content: plain(u.content) }));
    return { image: entry.inputs.image, envs: plain(entry.inputs.envs), uploads };
}

/**
 * A registry container made from a declared spec, for the variants the program cannot make (no auth, plain
 * HTTP): published on 127.0.0.1:`port` through the same docker-proxy, data on a fresh volume.
 */
export async function startRegistry(name: string, port: number, volume: string, spec: ContainerSpec): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-ctr-"));
    try {
        fs.writeFileSync(path.join(dir, "env"), spec.envs.join("\n") + "\n", { mode: 0o600 });
        await docker("volume", "create", volume);
        const id = (await docker("create", "--name", name, "--env-file", path.join(dir, "env"), "--network", "bridge",
            "-p", `127.0.0.1:${port}:5000`, "-v", `${volume}:/var/lib/registry`, spec.image)).trim();
        if (spec.uploads.length) {
            for (const u of spec.uploads) {
                const p = path.join(dir, "root", u.file);
                fs.mkdirSync(path.dirname(p), { recursive: true });
                fs.writeFileSync(p, u.content, { mode: parseInt(u.permissions ?? "0644", 8) });
            }
            const tar = execFileSync("tar", ["-C", path.join(dir, "root"), "--owner=0", "--group=0", "-cf", "-", "."]);
            await must("docker", ["-H", env.dockerHost, "cp", "-", `${id}:/`], { input: tar });
        }
        await docker("start", id);
        const tls = spec.envs.some((v) => v.startsWith("REGISTRY_HTTP_TLS_CERTIFICATE="));
        for (let i = 0; ; i++) {
            const r = await run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", `${tls ? "https" : "http"}://127.0.0.1:${port}/v2/`]);
            if (/^(200|401)$/.test(r.stdout)) return;
            if (i > 100) throw new Error(`registry ${name} did not answer: ${await docker("logs", "--tail", "20", name)}`);
            await new Promise((res) => setTimeout(res, 100));
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export async function removeVolume(volume: string): Promise<void> {
    await run("docker", ["-H", env.dockerHost, "volume", "rm", "-f", volume]);
}

export async function removeContainer(name: string, volume?: string): Promise<void> {
    await run("docker", ["-H", env.dockerHost, "rm", "-f", "-v", name]);
    if (volume) await removeVolume(volume);
}

/** HTTP requests in a registry container's access log (not its own health check's). */
export async function requestCount(container: string): Promise<number> {
    const r = await run("docker", ["-H", env.dockerHost, "logs", container]);
    return `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /"(GET|HEAD|POST|PUT|PATCH|DELETE) \/v2\//.test(l) && !/Wget/.test(l)).length;
}

/** What the figures ran on. */
export async function machine(): Promise<Record<string, string>> {
    const first = async (cmd: string, args: string[]) => {
        const r = await run(cmd, args);
        return `${r.stdout}${r.stderr}`.trim().split("\n")[0];
    };
    return {
        cpu: `${os.cpus().length} x ${os.cpus()[0].model}`,
        memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
        kernel: `${os.type()} ${os.release()}`,
        dockerd: await first("docker", ["-H", env.dockerHost, "version", "-f", "{{.Server.Version}} (API {{.Server.APIVersion}})"]),
        ...Object.fromEntries(await Promise.all(LINES.map(async (l) => [`registry ${l}`,
            await first("docker", ["-H", env.dockerHost, "run", "--rm", "--entrypoint", "registry", env.registryImages[l], "--version"])]))),
        skopeo: await first("skopeo", ["--version"]),
        containerd: await first("containerd", ["--version"]),
        openssh: await first("ssh", ["-V"]),
        node: process.version,
    };
}

export async function writeResult(name: string, data: Record<string, unknown>): Promise<void> {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const file = path.join(OUT_DIR, `${name}.json`);
    const doc = {
        bench: name, mode: QUICK ? "quick" : "full", date: new Date().toISOString(), machine: await machine(),
        // the 1-minute load average when the bench started and ended: other work on the machine shows here
        load: { start: loadAtStart[0], end: os.loadavg()[0] }, ...data,
    };
    fs.writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
    log(`wrote ${path.relative(ROOT, file)}`);
}
