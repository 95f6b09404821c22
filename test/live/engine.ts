// A small stand-in for the Pulumi engine and its providers. The program runs unchanged (index.ts under
// Pulumi's mocks); each resource it registers is carried out for real: keys and certificates are made
// by openssl from the declared inputs, passwords are random, docker resources go to a real dockerd,
// remote commands run over real SSH. State is kept between runs, so a second `up` with the same
// inputs changes nothing, changed inputs update or replace (honouring deleteBeforeReplace and
// triggers), and `destroy` runs the stored deletes.
import * as pulumi from "@pulumi/pulumi";
import { execFile, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual, promisify } from "util";
import { unwrap } from "../support/unwrap";

const execFileP = promisify(execFile);

/* eslint-disable @typescript-eslint/no-explicit-any */
type Props = Record<string, any>;

export interface Entry {
    type: string;
    name: string;
    inputs: Props;
    outputs: Props;
    opts: pulumi.CustomResourceOptions;
}

export type Action = "create" | "update" | "replace" | "same";

export interface RunResult {
    /** The stack's exports, resolved (secret values in plain, as `pulumi stack output --show-secrets`). */
    outputs: Props;
    /** The stack's exports that were secret. */
    secretOutputs: string[];
    /** What happened to each resource, by name. */
    actions: Map<string, Action>;
    /** Resources that failed, by name, with the message a user would see. */
    errors: Map<string, string>;
    /** Every resource registered in this run. */
    resources: Entry[];
}

export interface CommandRun { name: string; host: string; command: string; stdout: string; stderr: string; ms: number }

export async function run(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            if (timer) clearTimeout(timer);
            resolve({ stdout, stderr, code: code ?? -1 });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

async function must(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
    const r = await run(cmd, args, opts);
    if (r.code !== 0) throw new Error(`${cmd} ${args.filter((a) => !a.startsWith("-----")).join(" ")} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
}

export class LiveEngine {
    /** Resource state by name, as the engine would keep it in the stack's state file. */
    readonly state = new Map<string, Entry>();
    /** Every remote command run, in order (for idempotency and fan-out checks). */
    readonly commandRuns: CommandRun[] = [];
    private readonly dir: string;
    private opts = new Map<string, pulumi.CustomResourceOptions>();
    private pending = new Set<Promise<unknown>>();
    private current?: { actions: Map<string, Action>; errors: Map<string, string>; resources: Entry[] };
    private mocksSet = false;

    constructor(workDir: string, private readonly log: (line: string) => void = () => undefined) {
        this.dir = fs.mkdtempSync(path.join(workDir, "engine-"));
    }

    /** One `pulumi up` of index.ts with the given stack config (project keys without the prefix). */
    async up(config: Props, secretKeys: string[] = []): Promise<RunResult> {
        if (!this.mocksSet) {
            await pulumi.runtime.setMocks({
                newResource: (args) => this.track(this.newResource(args)),
                call: (args) => { throw new Error(`unexpected provider function call ${args.token}`); },
            }, "private-registry", "live", false);
            this.mocksSet = true;
        }
        const all = Object.fromEntries(Object.entries(config).map(([k, v]) =>
            [`private-registry:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
        pulumi.runtime.setAllConfig(all, secretKeys.map((k) => `private-registry:${k}`));
        this.current = { actions: new Map(), errors: new Map(), resources: [] };
        this.opts = new Map();
        const indexPath = require.resolve("../../index");
        delete require.cache[indexPath];
        let program: Props = {};
        await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation((a) => {
                this.opts.set(a.name, a.opts as pulumi.CustomResourceOptions);
                return undefined;
            });
            program = require(indexPath); // eslint-disable-line @typescript-eslint/no-require-imports
            return undefined;
        });
        const outputs: Props = {};
        const secretOutputs: string[] = [];
        for (const [k, v] of Object.entries(program)) {
            if (pulumi.Output.isInstance(v)) {
                if (await pulumi.isSecret(v)) secretOutputs.push(k);
                outputs[k] = await (v as any).promise();
            } else {
                outputs[k] = v;
            }
        }
        await this.drain();
        const { actions, errors, resources } = this.current;
        // resources the program no longer declares are deleted, like the engine does at the end of an up
        const declared = new Set(resources.map((r) => r.name));
        for (const name of [...this.state.keys()].reverse()) {
            if (!declared.has(name)) await this.remove(this.state.get(name)!).catch((e) => errors.set(name, String(e.message ?? e)));
        }
        return { outputs, secretOutputs, actions, errors, resources };
    }

    /** `pulumi destroy`: deletes in reverse order of creation, with the stored (old) inputs. */
    async destroy(): Promise<Map<string, string>> {
        const errors = new Map<string, string>();
        for (const entry of [...this.state.values()].reverse()) {
            await this.remove(entry).catch((e) => errors.set(entry.name, String(e.message ?? e)));
        }
        return errors;
    }

    private track<T>(p: Promise<T>): Promise<T> {
        this.pending.add(p);
        p.finally(() => this.pending.delete(p)).catch(() => undefined);
        return p;
    }

    private async drain(): Promise<void> {
        // registrations arrive as their inputs resolve; wait until none is in flight for a while
        for (let quiet = 0; quiet < 3;) {
            if (this.pending.size > 0) {
                quiet = 0;
                await Promise.allSettled([...this.pending]);
            } else {
                quiet++;
                await new Promise((r) => setTimeout(r, 20));
            }
        }
    }

    private async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Props }> {
        const cur = this.current!;
        const inputs = unwrap(args.inputs);
        const opts = this.opts.get(args.name) ?? {};
        const entry: Entry = { type: args.type, name: args.name, inputs, outputs: {}, opts };
        cur.resources.push(entry);
        const old = this.state.get(args.name);
        try {
            const { action, outputs } = await this.apply(args.type, args.name, inputs, old, opts, args.provider);
            entry.outputs = outputs;
            cur.actions.set(args.name, action);
            this.state.delete(args.name); // keep creation order for destroy
            this.state.set(args.name, entry);
            return { id: outputs.id ?? `${args.name}-id`, state: { ...args.inputs, ...outputs } };
        } catch (e) {
            const message = `${args.type} ${args.name}: ${(e as Error).message}`;
            cur.errors.set(args.name, message);
            this.log(`error: ${message}`);
            // a failed resource keeps its old state, as the engine does
            return { id: `${args.name}-failed`, state: { ...args.inputs } };
        }
    }

    private provider(ref: string | undefined): Props {
        if (!ref) return {};
        const name = ref.split("::")[3];
        return this.state.get(name)?.inputs ?? {};
    }

    private async apply(type: string, name: string, inputs: Props, old: Entry | undefined, opts: pulumi.CustomResourceOptions, providerRef?: string): Promise<{ action: Action; outputs: Props }> {
        const same = old !== undefined && isDeepStrictEqual(old.inputs, inputs);
        const keep = (): { action: Action; outputs: Props } => ({ action: "same", outputs: old!.outputs });
        switch (type) {
            case "tls:index/privateKey:PrivateKey":
            case "tls:index/selfSignedCert:SelfSignedCert":
            case "tls:index/certRequest:CertRequest":
            case "tls:index/locallySignedCert:LocallySignedCert":
            case "random:index/randomPassword:RandomPassword":
            case "random:index/randomBytes:RandomBytes":
                // any input change replaces these, and the replacement has new values
                if (same) return keep();
                return { action: old ? "replace" : "create", outputs: await this.generate(type, inputs) };
            case "docker:index/remoteImage:RemoteImage": {
                const docker = this.provider(providerRef).host;
                const id = (await must("docker", ["-H", docker, "image", "inspect", "-f", "{{.Id}}", inputs.name])).trim();
                return { action: same ? "same" : old ? "update" : "create", outputs: { imageId: id, repoDigest: id } };
            }
            case "docker:index/volume:Volume": {
                if (same) return keep();
                await must("docker", ["-H", this.provider(providerRef).host, "volume", "create", inputs.name]);
                return { action: old ? "replace" : "create", outputs: { name: inputs.name, id: inputs.name } };
            }
            case "docker:index/container:Container":
                return this.container(name, inputs, old, opts, providerRef);
            case "docker:index/image:Image":
                return { action: old ? "update" : "create", outputs: await this.buildAndPush(name, inputs, providerRef) };
            case "command:remote:Command":
                return this.command(name, inputs, old, opts);
            default:
                // providers, components and Kubernetes objects (no cluster here): recorded as declared
                return { action: same ? "same" : old ? "update" : "create", outputs: type.startsWith("kubernetes:") ? { metadata: inputs.metadata } : {} };
        }
    }

    private async remove(entry: Entry): Promise<void> {
        this.state.delete(entry.name);
        if (entry.opts.retainOnDelete) return;
        switch (entry.type) {
            case "docker:index/container:Container":
                await must("docker", ["-H", entry.outputs.__dockerHost, "rm", "-f", entry.outputs.id]);
                return;
            case "command:remote:Command":
                if (entry.inputs.delete) await this.ssh(entry.name, entry.inputs, entry.inputs.delete);
                return;
            default:
                return;
        }
    }

    // ---------------------------------------------------------------- tls and random, for real
    private async generate(type: string, inputs: Props): Promise<Props> {
        const tmp = fs.mkdtempSync(path.join(this.dir, "pki-"));
        const file = (n: string, content: string) => { const p = path.join(tmp, n); fs.writeFileSync(p, content, { mode: 0o600 }); return p; };
        try {
            switch (type) {
                case "tls:index/privateKey:PrivateKey": {
                    const key = inputs.algorithm === "RSA"
                        ? crypto.generateKeyPairSync("rsa", { modulusLength: inputs.rsaBits ?? 2048 })
                        : inputs.algorithm === "ECDSA"
                            ? crypto.generateKeyPairSync("ec", { namedCurve: ({ P224: "P-224", P256: "prime256v1", P384: "secp384r1", P521: "secp521r1" } as Props)[inputs.ecdsaCurve ?? "P224"] })
                            : crypto.generateKeyPairSync("ed25519");
                    const pem = inputs.algorithm === "RSA" ? key.privateKey.export({ type: "pkcs1", format: "pem" })
                        : inputs.algorithm === "ECDSA" ? key.privateKey.export({ type: "sec1", format: "pem" })
                            : key.privateKey.export({ type: "pkcs8", format: "pem" });
                    return { privateKeyPem: pem.toString(), publicKeyPem: key.publicKey.export({ type: "spki", format: "pem" }).toString() };
                }
                case "tls:index/selfSignedCert:SelfSignedCert": {
                    const key = file("key.pem", inputs.privateKeyPem);
                    const certPath = path.join(tmp, "cert.pem");
                    await must("openssl", ["req", "-x509", "-new", "-key", key, "-sha256", "-subj", subj(inputs.subject), "-days", days(inputs.validityPeriodHours),
                        "-set_serial", serial(), "-out", certPath,
                        "-addext", `basicConstraints=critical,CA:${inputs.isCaCertificate ? "TRUE" : "FALSE"}`,
                        ...keyUsageArgs(inputs.allowedUses), ...sanArgs(inputs)]);
                    return certOutputs(fs.readFileSync(certPath, "utf8"));
                }
                case "tls:index/certRequest:CertRequest": {
                    const key = file("key.pem", inputs.privateKeyPem);
                    return { certRequestPem: await must("openssl", ["req", "-new", "-key", key, "-sha256", "-subj", subj(inputs.subject), ...sanArgs(inputs)]) };
                }
                case "tls:index/locallySignedCert:LocallySignedCert": {
                    const ext = ["basicConstraints=critical,CA:" + (inputs.isCaCertificate ? "TRUE" : "FALSE")];
                    const ku = usages(inputs.allowedUses);
                    if (ku.key.length) ext.push(`keyUsage=critical,${ku.key.join(",")}`);
                    if (ku.ext.length) ext.push(`extendedKeyUsage=${ku.ext.join(",")}`);
                    const certPath = path.join(tmp, "cert.pem");
                    await must("openssl", ["x509", "-req", "-in", file("csr.pem", inputs.certRequestPem), "-CA", file("ca.pem", inputs.caCertPem),
                        "-CAkey", file("cakey.pem", inputs.caPrivateKeyPem), "-set_serial", serial(), "-days", days(inputs.validityPeriodHours),
                        "-sha256", "-copy_extensions", "copyall", "-extfile", file("ext.cnf", ext.join("\n") + "\n"), "-out", certPath]);
                    const out = certOutputs(fs.readFileSync(certPath, "utf8"));
                    const early = inputs.earlyRenewalHours ?? 0;
                    return { ...out, readyForRenewal: Date.parse(out.validityEndTime) - early * 3600_000 < Date.now() };
                }
                case "random:index/randomPassword:RandomPassword": {
                    const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + (inputs.special === false ? "" : "!#$%&*()-_=+[]{}<>:?");
                    let result = "";
                    do {
                        result = Array.from(crypto.randomBytes(inputs.length), (b) => chars[b % chars.length]).join("");
                    } while ((inputs.minUpper && !/[A-Z]/.test(result)) || (inputs.minLower && !/[a-z]/.test(result)) || (inputs.minNumeric && !/[0-9]/.test(result)));
                    return { result };
                }
                case "random:index/randomBytes:RandomBytes": {
                    const b = crypto.randomBytes(inputs.length);
                    return { base64: b.toString("base64"), hex: b.toString("hex") };
                }
                default:
                    throw new Error(`no generator for ${type}`);
            }
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    }

    // ---------------------------------------------------------------- docker, for real
    private async container(name: string, inputs: Props, old: Entry | undefined, opts: pulumi.CustomResourceOptions, providerRef?: string): Promise<{ action: Action; outputs: Props }> {
        const host = this.provider(providerRef).host;
        if (old && isDeepStrictEqual(old.inputs, inputs)) return { action: "same", outputs: old.outputs };
        if (old && opts.deleteBeforeReplace) await must("docker", ["-H", host, "rm", "-f", old.outputs.id]);
        const tmp = fs.mkdtempSync(path.join(this.dir, "ctr-"));
        try {
            // env values go through a 0600 file, not argv
            const envFile = path.join(tmp, "env");
            fs.writeFileSync(envFile, (inputs.envs ?? []).join("\n") + "\n", { mode: 0o600 });
            const hc = inputs.healthcheck;
            const args = ["-H", host, "create", "--name", inputs.name, "--env-file", envFile];
            if (inputs.restart) args.push("--restart", inputs.restart);
            if (inputs.networkMode) args.push("--network", inputs.networkMode);
            for (const p of inputs.ports ?? []) args.push("-p", `${p.ip ? p.ip + ":" : ""}${p.external}:${p.internal}/${p.protocol ?? "tcp"}`);
            for (const v of inputs.volumes ?? []) args.push("-v", `${v.volumeName ?? v.hostPath}:${v.containerPath}${v.readOnly ? ":ro" : ""}`);
            if (hc) {
                if (hc.tests[0] !== "CMD-SHELL") throw new Error(`health check form ${hc.tests[0]} not supported here`);
                args.push("--health-cmd", hc.tests[1], "--health-interval", hc.interval, "--health-timeout", hc.timeout,
                    "--health-retries", String(hc.retries), "--health-start-period", hc.startPeriod);
            }
            args.push(inputs.image);
            const id = (await must("docker", args)).trim();
            if (inputs.uploads?.length) {
                // what the provider does: a tar holding the files at their full paths, extracted at /
                const root = path.join(tmp, "root");
                for (const u of inputs.uploads) {
                    const p = path.join(root, u.file);
                    fs.mkdirSync(path.dirname(p), { recursive: true });
                    fs.writeFileSync(p, u.content);
                    fs.chmodSync(p, parseInt(u.permissions ?? "0644", 8));
                }
                const tar = await execFileP("tar", ["-C", root, "--numeric-owner", "--owner=0", "--group=0", "-cf", "-", "."], { encoding: "buffer", maxBuffer: 64 << 20 });
                await must("docker", ["-H", host, "cp", "-", `${id}:/`], { input: tar.stdout });
            }
            await must("docker", ["-H", host, "start", id]);
            if (inputs.wait) await this.waitHealthy(host, id, (inputs.waitTimeout ?? 60) * 1000);
            if (old && !opts.deleteBeforeReplace) await must("docker", ["-H", host, "rm", "-f", old.outputs.id]);
            return { action: old ? "replace" : "create", outputs: { id, name: inputs.name, __dockerHost: host } };
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    }

    private async waitHealthy(host: string, id: string, timeoutMs: number): Promise<void> {
        const until = Date.now() + timeoutMs;
        for (;;) {
            const status = (await must("docker", ["-H", host, "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id])).trim();
            if (status.endsWith("healthy") && !status.endsWith("unhealthy")) return;
            if (status.startsWith("exited") || status.endsWith("unhealthy") || Date.now() > until) {
                const logs = await run("docker", ["-H", host, "logs", "--tail", "20", id]);
                throw new Error(`container ${id.slice(0, 12)} is ${status} (wanted healthy); logs:\n${logs.stdout}${logs.stderr}`);
            }
            await new Promise((r) => setTimeout(r, 200));
        }
    }

    private async buildAndPush(name: string, inputs: Props, providerRef?: string): Promise<Props> {
        const host = this.provider(providerRef).host;
        const b = inputs.build ?? {};
        const args = ["-H", host, "build", "-q", "-t", inputs.imageName];
        if (b.dockerfile) args.push("-f", b.dockerfile);
        if (b.platform) args.push("--platform", b.platform);
        for (const [k, v] of Object.entries(b.args ?? {})) args.push("--build-arg", `${k}=${v}`);
        args.push(b.context ?? ".");
        await must("docker", args);
        // push with the declared registry credentials, from a private client config
        const cfgDir = fs.mkdtempSync(path.join(this.dir, "dockercfg-"));
        try {
            const r = inputs.registry;
            const auth = Buffer.from(`${r.username}:${r.password}`).toString("base64");
            fs.writeFileSync(path.join(cfgDir, "config.json"), JSON.stringify({ auths: { [r.server]: { auth } } }), { mode: 0o600 });
            const out = await must("docker", ["--config", cfgDir, "-H", host, "push", inputs.imageName]);
            const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
            if (!digest) throw new Error(`no digest in push output:\n${out}`);
            return { repoDigest: `${String(inputs.imageName).replace(/:[^:/]+$/, "")}@${digest}`, imageName: inputs.imageName };
        } finally {
            fs.rmSync(cfgDir, { recursive: true, force: true });
        }
    }

    // ---------------------------------------------------------------- remote commands over real SSH
    private async command(name: string, inputs: Props, old: Entry | undefined, opts: pulumi.CustomResourceOptions): Promise<{ action: Action; outputs: Props }> {
        if (old && isDeepStrictEqual(old.inputs, inputs)) return { action: "same", outputs: old.outputs };
        const replace = old !== undefined && (!isDeepStrictEqual(old.inputs.triggers, inputs.triggers) || !isDeepStrictEqual(old.inputs.connection, inputs.connection));
        if (replace && opts.deleteBeforeReplace && old.inputs.delete) await this.ssh(name, old.inputs, old.inputs.delete);
        const cmd = old && !replace ? inputs.update ?? inputs.create : inputs.create;
        const res = cmd ? await this.ssh(name, inputs, cmd) : { stdout: "", stderr: "" };
        if (replace && !opts.deleteBeforeReplace && old.inputs.delete) await this.ssh(name, old.inputs, old.inputs.delete);
        return { action: replace ? "replace" : old ? "update" : "create", outputs: { stdout: res.stdout, stderr: res.stderr } };
    }

    /** Runs one command as the provider does: a new SSH session, stdin fed, env via setenv (none here). */
    async ssh(name: string, inputs: Props, command: string): Promise<{ stdout: string; stderr: string }> {
        const c = inputs.connection;
        const tmp = fs.mkdtempSync(path.join(this.dir, "ssh-"));
        try {
            const key = path.join(tmp, "key");
            fs.writeFileSync(key, c.privateKey.endsWith("\n") ? c.privateKey : c.privateKey + "\n", { mode: 0o600 });
            const args = ["-F", "/dev/null", "-i", key, "-p", String(c.port ?? 22), "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                "-o", `ConnectTimeout=${c.perDialTimeout ?? 15}`, "-o", `ConnectionAttempts=${c.dialErrorLimit ?? 10}`, "-o", "IdentitiesOnly=yes"];
            if (c.hostKey) {
                const kh = path.join(tmp, "known_hosts");
                fs.writeFileSync(kh, `${c.port && c.port !== 22 ? `[${c.host}]:${c.port}` : c.host} ${c.hostKey}\n`);
                args.push("-o", `UserKnownHostsFile=${kh}`, "-o", "StrictHostKeyChecking=yes");
            } else {
                // without hostKey the provider does not check the host key
                args.push("-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no");
            }
            args.push(`${c.user ?? "root"}@${c.host}`, command);
            const started = Date.now();
            const r = await run("ssh", args, { input: inputs.stdin ?? "", timeoutMs: 120_000 });
            this.commandRuns.push({ name, host: c.host, command, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started });
            if (r.code !== 0) {
                throw new Error(`remote command on ${c.user ?? "root"}@${c.host}:${c.port ?? 22} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
            }
            return { stdout: r.stdout, stderr: r.stderr };
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    }

    cleanup(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

function subj(subject: Props | undefined): string {
    const map: [string, string][] = [["country", "C"], ["province", "ST"], ["locality", "L"], ["organization", "O"],
        ["organizationalUnit", "OU"], ["commonName", "CN"], ["serialNumber", "serialNumber"]];
    const parts = map.filter(([k]) => subject?.[k]).map(([k, o]) => `/${o}=${String(subject![k]).replace(/[/\\]/g, "\\$&")}`);
    return parts.join("") || "/";
}

function days(hours: number): string {
    return String(Math.max(1, Math.ceil(hours / 24)));
}

function serial(): string {
    return "0x" + crypto.randomBytes(12).toString("hex").replace(/^[89a-f]/, "1");
}

function usages(allowed: string[] = []): { key: string[]; ext: string[] } {
    const key: Record<string, string> = { digital_signature: "digitalSignature", key_encipherment: "keyEncipherment", cert_signing: "keyCertSign", crl_signing: "cRLSign", content_commitment: "nonRepudiation", data_encipherment: "dataEncipherment", key_agreement: "keyAgreement" };
    const ext: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth", code_signing: "codeSigning" };
    return { key: allowed.filter((u) => key[u]).map((u) => key[u]), ext: allowed.filter((u) => ext[u]).map((u) => ext[u]) };
}

function keyUsageArgs(allowed: string[]): string[] {
    const u = usages(allowed);
    return [...(u.key.length ? ["-addext", `keyUsage=critical,${u.key.join(",")}`] : []), ...(u.ext.length ? ["-addext", `extendedKeyUsage=${u.ext.join(",")}`] : [])];
}

function sanArgs(inputs: Props): string[] {
    const sans = [...(inputs.dnsNames ?? []).map((d: string) => `DNS:${d}`), ...(inputs.ipAddresses ?? []).map((i: string) => `IP:${i}`)];
    return sans.length ? ["-addext", `subjectAltName=${sans.join(",")}`] : [];
}

function certOutputs(pem: string): Props {
    const x = new crypto.X509Certificate(pem);
    return { certPem: pem, validityStartTime: new Date(x.validFrom).toISOString(), validityEndTime: new Date(x.validTo).toISOString() };
}
