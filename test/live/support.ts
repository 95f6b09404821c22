// Helpers for the live suite: the environment env/up.sh built, node access, TLS/HTTP probes, skopeo.
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import * as tls from "tls";
import { SCHEMA } from "../../components/config/configSchema";
import { run } from "./cli";

const DEFAULT_IMAGE = SCHEMA.image.default;

export interface LiveNode {
    name: string;
    host: string;
    port: number;
    user: string;
    runtime: "docker" | "containerd" | "crio" | "none";
    hostKey: string;
    nodeDir: string;
    containerdSocket: string | null;
    containerdPidFile: string | null;
    containerdRestartCommand: string | null;
    containerdConfigPathPreset: boolean | null;
    /** containerd nodes: the ctr of the node's containerd (2.x or Debian's 1.6), and its config version (3 or 2). */
    ctr: string | null;
    containerdConfigVersion?: number;
    /** Node a: its own dockerd's socket and pid file. */
    dockerSocket: string | null;
    dockerPidFile?: string;
    /** What reloads the runtime's mirror settings there (node a: SIGHUP to its dockerd). */
    reloadCommand: string | null;
}

export interface LiveEnv {
    liveDir: string;
    dockerHost: string;
    /** The locally built image of each registry line, by major version ("2", "3"). */
    registryImages: Record<"2" | "3", string>;
    /** The line the program's default image is on. */
    registryImage: string;
    /** The locally built stand-in for the official nginx image: Debian 12's nginx 1.22.1, FROM scratch. */
    frontImage: string;
    /** The maintenance runner's base (this machine's node), also tagged as maintenance.nodeImage's default. */
    nodeImage: string;
    testImage: string;
    layersImage: string;
    hostAddress: string;
    sshKeyPath: string;
    nodeExec: string;
    nodes: LiveNode[];
    /** The stand-in for Docker Hub that the mirror caches (test/live/env/upstream.sh). */
    upstream: { url: string; anonymousUrl: string; username: string; passwordFile: string; image: string; digest: string };
    unreachable: { host: string; port: number };
}

/** The environment env/up.sh describes; in CI a missing environment is a failure, never a skip. */
export function loadEnv(): LiveEnv {
    const file = path.join(process.env.LIVE_DIR ?? "/tmp/pr-live", "env.json");
    if (!fs.existsSync(file)) {
        throw new Error(`live environment missing: ${file} not found. Run the suite through test/live/run.sh (npm run test:live), which builds it.`);
    }
    const e = JSON.parse(fs.readFileSync(file, "utf8")) as LiveEnv;
    return { ...e, registryImage: registryImageFor(e, DEFAULT_IMAGE) };
}

/** The locally built stand-in for an official registry image reference: the one of its major version. */
export function registryImageFor(e: Pick<LiveEnv, "registryImages">, image: string): string {
    const m = /^(?:docker\.io\/)?(?:library\/)?registry:([23])(?:[.:@-]|$)/.exec(image);
    if (!m) throw new Error(`the live suite has no stand-in for image ${JSON.stringify(image)}: it builds registry:2.x and registry:3.x only`);
    return e.registryImages[m[1] as "2" | "3"];
}

/** Runs a command inside a node's namespaces, without SSH. */
export async function nodeExec(env: LiveEnv, node: string, cmd: string, input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
    return run(env.nodeExec, [node, "bash", "-c", cmd], { input, env: { ...process.env, LIVE_DIR: env.liveDir } });
}

/** Checksums of every file and the list of directories and links under a node's private trees. */
export async function snapshot(env: LiveEnv, node: string): Promise<Map<string, string>> {
    const r = await nodeExec(env, node,
        "cd / && find etc usr/local/share/ca-certificates -xdev \\( -type f -printf 'f %p ' -exec sha256sum {} \\; \\) -o \\( -type l -printf 'l %p -> %l\\n' \\) -o \\( -type d -printf 'd %p %m\\n' \\) 2>/dev/null | sort");
    const out = new Map<string, string>();
    for (const line of r.stdout.split("\n").filter(Boolean)) {
        const [kind, p, ...rest] = line.split(" ");
        out.set(`${kind} ${p}`, rest.join(" "));
    }
    if (out.size < 50) throw new Error(`snapshot of node ${node} looks wrong (${out.size} entries): ${r.stderr}`);
    return out;
}

export function diffSnapshots(a: Map<string, string>, b: Map<string, string>, ignore: RegExp[] = []): string[] {
    const keys = new Set([...a.keys(), ...b.keys()]);
    return [...keys].filter((k) => !ignore.some((re) => re.test(k)) && a.get(k) !== b.get(k))
        .map((k) => `${k}: ${a.get(k) ?? "(absent)"} -> ${b.get(k) ?? "(absent)"}`);
}

export interface HttpAnswer { status: number; body: string; cert?: tls.PeerCertificate; headers?: Record<string, string | string[] | undefined> }

/** One HTTPS request (GET unless told) to the registry's published address, with the given trust and credentials. */
export function httpsGet(opts: { host: string; port: number; servername: string; path?: string; ca?: string; auth?: string;
    minVersion?: tls.SecureVersion; maxVersion?: tls.SecureVersion; ciphers?: string; method?: string; body?: string; headers?: Record<string, string> }): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: opts.host, port: opts.port, path: opts.path ?? "/v2/", method: opts.method ?? "GET", servername: opts.servername,
            ca: opts.ca, auth: opts.auth, minVersion: opts.minVersion, maxVersion: opts.maxVersion, ciphers: opts.ciphers,
            headers: { host: `${opts.servername}:${opts.port}`, ...opts.headers }, agent: false, timeout: 10_000,
            checkServerIdentity: (_h, cert) => tls.checkServerIdentity(opts.servername, cert),
        }, (res) => {
            let body = "";
            const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body, cert, headers: res.headers }));
        });
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.end(opts.body);
    });
}

export function plainHttpGet(host: string, port: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const http = require("http") as typeof import("http");
        const req = http.request({ host, port, path: "/v2/", agent: false, timeout: 10_000 }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
    });
}

/** A client auth file and a cert dir holding just the CA, as a consumer of the stack outputs would set up. */
export function clientFiles(dir: string, name: string, dockerConfigJson: string, caPem: string): { authfile: string; certDir: string } {
    const base = path.join(dir, name);
    fs.mkdirSync(path.join(base, "certs"), { recursive: true });
    const authfile = path.join(base, "auth.json");
    fs.writeFileSync(authfile, dockerConfigJson, { mode: 0o600 });
    fs.writeFileSync(path.join(base, "certs", "ca.crt"), caPem);
    return { authfile, certDir: path.join(base, "certs") };
}

export async function skopeo(args: string[], env: LiveEnv): Promise<{ stdout: string; stderr: string; code: number }> {
    return run("skopeo", args, { env: { ...process.env, DOCKER_HOST: env.dockerHost }, timeoutMs: 120_000 });
}

/** A kubelet-style pull: CRI ImageService/PullImage on a containerd socket, with the pull secret's login. */
export async function criPull(socket: string, image: string, username: string, password: string): Promise<string> {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
    const loader = require("@grpc/proto-loader") as typeof import("@grpc/proto-loader");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const def = loader.loadSync(path.join(__dirname, "cri.proto"), { keepCase: true });
    const proto = grpc.loadPackageDefinition(def) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const client = new proto.runtime.v1.ImageService(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
        return await new Promise<string>((resolve, reject) => client.PullImage(
            // no auth at all for an anonymous pull: the CRI refuses an empty one ("invalid auth config")
            { image: { image }, ...(username ? { auth: { username, password } } : {}) },
            { deadline: Date.now() + 60_000 },
            (err: Error | null, res: { image_ref: string }) => (err ? reject(err) : resolve(res.image_ref)),
        ));
    } finally {
        client.close();
    }
}

/**
 * Samples the argv of every process on the machine every few milliseconds until stopped; returns each
 * distinct command line seen (the `ps` view of a run).
 */
export function sampleArgv(everyMs = 20): { stop: () => string[] } {
    const seen = new Set<string>();
    const tick = () => {
        for (const pid of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(pid)) continue;
            try {
                const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
                if (argv) seen.add(argv.replace(/\0/g, " ").trim());
            } catch { /* gone meanwhile */ }
        }
    };
    tick();
    const timer = setInterval(tick, everyMs);
    return { stop: () => { clearInterval(timer); tick(); return [...seen]; } };
}

/** Each secret with its base64 forms (plain, and of each line), for scans of state, exports and argv. */
export function secretForms(secrets: Record<string, string>): Map<string, string> {
    const forms = new Map<string, string>();
    for (const [name, value] of Object.entries(secrets)) {
        if (!value) continue;
        forms.set(name, value);
        forms.set(`${name} (base64)`, Buffer.from(value).toString("base64"));
        // a key's body lines are as telling as the whole PEM
        const body = value.split("\n").find((l) => l.length >= 40 && !l.startsWith("-----"));
        if (body) forms.set(`${name} (a line)`, body);
    }
    return forms;
}

/** Names of the secrets (or their forms) that occur in a text. */
export function leaks(text: string, forms: Map<string, string>): string[] {
    return [...forms].filter(([, v]) => text.includes(v)).map(([k]) => k);
}
