import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import { NODE_RUNTIMES, NodeRuntime } from "./nodeScripts";

/** The config namespace every key lives under (`private-registry:<key>`). */
export const PROJECT = "private-registry";

export type KeyAlgorithm = "RSA" | "ECDSA";
export type TlsVersion = "tls1.2" | "tls1.3";

export interface TlsSettings {
    keyAlgorithm: KeyAlgorithm;
    rsaBits: number;
    ecdsaCurve: "P256" | "P384";
    /** Lifetime of the server (leaf) certificate. */
    validityHours: number;
    /** An `up` this close to the leaf's expiry replaces it. */
    earlyRenewalHours: number;
    caValidityHours: number;
    minVersion: TlsVersion;
    /** Bump to force a new leaf certificate now (independent of the renewal window). */
    rotation: number;
    /** Bring-your-own: all three or none. */
    certificatePem?: string;
    privateKeyPem?: string;
    caCertificatePem?: string;
}

export interface NodeSettings {
    name: string;
    host: string;
    port: number;
    user: string;
    /** Private key PEM (always handled as a secret). */
    privateKey: string;
    runtime: NodeRuntime;
    hostsAddress?: string;
    systemTrust: boolean;
    insecureRegistry: boolean;
    hostKey?: string;
    containerdConfigFile: string;
    containerdRestartCommand: string;
    dockerRestartCommand: string;
    dialErrorLimit: number;
    perDialTimeout: number;
}

export interface KubernetesSettings {
    kubeconfig?: string;
    context?: string;
    namespaces: string[];
    secretName: string;
    patchDefaultServiceAccount: boolean;
    publishHostingConfigMap: boolean;
}

export interface ServiceSettings {
    name: string;
    context: string;
    dockerfile?: string;
    tag: string;
    platform: string;
    args: Record<string, string>;
}

export interface RegistrySettings {
    hostname: string;
    dnsNames: string[];
    ipAddresses: string[];
    port: number;
    bindAddresses: string[];
    dockerHost: string;
    /** Extra `ssh` options for an ssh:// docker host (e.g. `-o`, `UserKnownHostsFile=…`). */
    dockerSshOpts: string[];
    image: string;
    containerName: string;
    dataVolume?: string;
    dataHostPath?: string;
    /** `host:port` the image builder pushes to, when the default (the docker host's loopback) does not fit. */
    pushAddress?: string;
    username: string;
    password?: string;
    passwordLength: number;
    bcryptCost: number;
    logLevel: string;
    tls: TlsSettings;
    nodes: NodeSettings[];
    kubernetes?: KubernetesSettings;
    services: ServiceSettings[];
}

/** Every problem found in the configuration, reported at once. */
export class ConfigError extends Error {
    constructor(public readonly problems: string[]) {
        super(`invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

export const DEFAULT_BCRYPT_COST = 4;
export const TLS_VERSIONS: readonly TlsVersion[] = ["tls1.2", "tls1.3"];
const LOG_LEVELS = ["error", "warn", "info", "debug"];
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const IMAGE_REF = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SERVICE_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isIp(value: string): boolean {
    return isIpv4(value) || net.isIPv6(value);
}

export function isIpv4(value: string): boolean {
    const parts = value.split(".");
    return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function isHostname(value: string): boolean {
    return value.length <= 253 && value.split(".").every((l) => DNS_LABEL.test(l)) && !/^[0-9.]+$/.test(value);
}

/** Marks what a stack writes on nodes (file names, /etc/hosts comments): `private-registry-<stack>`. */
export function stackId(stack: string): string {
    return `${PROJECT}-${stack}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+$/, "");
}

/** The address clients use: `host:port`. */
export function registryAddress(hostname: string, port: number): string {
    return `${hostname}:${port}`;
}

const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;
const PEM_KEY = /^-----BEGIN ((RSA|EC|OPENSSH) )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END ((RSA|EC|OPENSSH) )?PRIVATE KEY-----\s*$/;

/** Reads and checks the raw values; collects every problem, then throws one ConfigError. */
class Reader {
    readonly problems: string[] = [];

    constructor(private readonly raw: Record<string, unknown>) {}

    fail(key: string, message: string): void {
        this.problems.push(`${PROJECT}:${key} ${message}`);
    }

    value(obj: Record<string, unknown>, key: string): unknown {
        return obj[key] === null ? undefined : obj[key];
    }

    str(key: string, def: string, obj?: Record<string, unknown>, path?: string): string;
    str(key: string, def: undefined, obj?: Record<string, unknown>, path?: string): string | undefined;
    str(key: string, def: string | undefined, obj = this.raw, path = key): string | undefined {
        const v = this.value(obj, key);
        if (v === undefined || v === "") return def;
        if (typeof v !== "string") {
            this.fail(path, `must be a string (got ${JSON.stringify(v)})`);
            return def;
        }
        return v;
    }

    int(key: string, def: number, min: number, max: number, obj = this.raw, path = key): number {
        const v = this.value(obj, key);
        if (v === undefined || v === "") return def;
        const n = typeof v === "number" ? v : typeof v === "string" && /^-?[0-9]+$/.test(v.trim()) ? Number(v) : NaN;
        if (!Number.isInteger(n) || n < min || n > max) {
            this.fail(path, `must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
            return def;
        }
        return n;
    }

    bool(key: string, def: boolean, obj = this.raw, path = key): boolean {
        const v = this.value(obj, key);
        if (v === undefined || v === "") return def;
        if (v === true || v === "true") return true;
        if (v === false || v === "false") return false;
        this.fail(path, `must be true or false (got ${JSON.stringify(v)})`);
        return def;
    }

    oneOf<T extends string>(key: string, def: T, allowed: readonly T[], obj = this.raw, path = key): T {
        const v = this.str(key, def, obj, path);
        if (!(allowed as readonly string[]).includes(v)) {
            this.fail(path, `must be one of ${allowed.join(", ")} (got ${JSON.stringify(v)})`);
            return def;
        }
        return v as T;
    }

    list(key: string, obj = this.raw, path = key): unknown[] {
        const v = this.value(obj, key);
        if (v === undefined || v === "") return [];
        if (typeof v === "string") {
            // `pulumi config set key a,b` is a natural way to give a short list
            if (!v.trim().startsWith("[")) return v.split(",").map((s) => s.trim()).filter((s) => s);
        }
        if (!Array.isArray(v)) {
            this.fail(path, `must be a list (got ${JSON.stringify(v)})`);
            return [];
        }
        return v;
    }

    strings(key: string, check: (s: string) => boolean, what: string, obj = this.raw, path = key): string[] {
        const out: string[] = [];
        this.list(key, obj, path).forEach((v, i) => {
            if (typeof v !== "string" || !check(v)) {
                this.fail(`${path}[${i}]`, `must be ${what} (got ${JSON.stringify(v)})`);
            } else if (!out.includes(v)) {
                out.push(v);
            }
        });
        return out;
    }

    object(key: string, obj = this.raw, path = key): Record<string, unknown> | undefined {
        const v = this.value(obj, key);
        if (v === undefined || v === "") return undefined;
        if (typeof v !== "object" || Array.isArray(v)) {
            this.fail(path, `must be an object (got ${JSON.stringify(v)})`);
            return undefined;
        }
        return v as Record<string, unknown>;
    }

    unknownKeys(obj: Record<string, unknown>, allowed: string[], path: string): void {
        for (const k of Object.keys(obj)) {
            if (!allowed.includes(k)) this.fail(path ? `${path}.${k}` : k, `is not a known setting (known: ${allowed.join(", ")})`);
        }
    }
}

/**
 * Turns the stack's raw config (values as `pulumi config` stores them: strings, or parsed objects)
 * into typed settings. Throws one ConfigError listing every problem.
 */
export function parseSettings(raw: Record<string, unknown>, stack: string): RegistrySettings {
    const r = new Reader(raw);
    r.unknownKeys(raw, [...CONFIG_KEYS], "");

    const hostname = r.str("hostname", "127.0.0.1");
    if (!isHostname(hostname) && !isIpv4(hostname)) {
        r.fail("hostname", `must be a DNS name (letters, digits, '-', dot-separated labels) or an IPv4 address (got ${JSON.stringify(hostname)})`);
    }
    const dnsNames = r.strings("dnsNames", isHostname, "a DNS name");
    const ipAddresses = r.strings("ipAddresses", isIp, "an IP address");
    const port = r.int("port", 5000, 1, 65535);
    const bindRaw = r.value(raw, "bindAddress");
    const bindAddresses = bindRaw === undefined || bindRaw === "" ? ["127.0.0.1"] : r.strings("bindAddress", isIp, "an IP address");
    if (bindAddresses.length === 0) r.fail("bindAddress", "must name at least one IP address");

    const dockerHost = r.str("dockerHost", "unix:///var/run/docker.sock");
    if (!/^(unix:\/\/\/.+|tcp:\/\/[^\s/]+|ssh:\/\/[^\s/@]+@[^\s/]+|npipe:\/\/.+)$/.test(dockerHost)) {
        r.fail("dockerHost", `must be unix:///path, tcp://host:port or ssh://user@host[:port] (got ${JSON.stringify(dockerHost)})`);
    }
    const dockerSshOpts = r.strings("dockerSshOpts", (v) => !/[\n\0]/.test(v), "a single-line ssh argument");
    if (dockerSshOpts.length > 0 && !dockerHost.startsWith("ssh://")) {
        r.fail("dockerSshOpts", "applies to an ssh:// dockerHost only");
    }
    const image = r.str("image", "registry:2.8.3");
    if (!IMAGE_REF.test(image)) r.fail("image", `must be an image reference such as registry:2.8.3 (got ${JSON.stringify(image)})`);
    const containerName = r.str("containerName", `registry-${stack}`.toLowerCase().replace(/[^a-z0-9_.-]/g, "-"));
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(containerName)) {
        r.fail("containerName", `must start with a letter or digit and contain only letters, digits, '_', '.', '-' (got ${JSON.stringify(containerName)})`);
    }
    const dataHostPath = r.str("dataHostPath", undefined);
    const dataVolumeRaw = r.str("dataVolume", undefined);
    if (dataHostPath !== undefined && dataVolumeRaw !== undefined) {
        r.fail("dataVolume", "and private-registry:dataHostPath cannot both be set: choose a named volume or a host path");
    }
    if (dataHostPath !== undefined && !dataHostPath.startsWith("/")) {
        r.fail("dataHostPath", `must be an absolute path (got ${JSON.stringify(dataHostPath)})`);
    }
    const dataVolume = dataHostPath === undefined ? dataVolumeRaw ?? `${containerName}-data` : undefined;
    if (dataVolume !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(dataVolume)) {
        r.fail("dataVolume", `must start with a letter or digit and contain only letters, digits, '_', '.', '-' (got ${JSON.stringify(dataVolume)})`);
    }

    const pushAddress = r.str("pushAddress", undefined);
    if (pushAddress !== undefined) {
        const m = /^(.+):([0-9]{1,5})$/.exec(pushAddress);
        if (!m || !(isHostname(m[1]) || isIpv4(m[1])) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
            r.fail("pushAddress", `must be host:port, e.g. 127.0.0.1:5000 (got ${JSON.stringify(pushAddress)})`);
        }
    }
    const username = r.str("username", "admin");
    if (!/^[^\s:]{1,64}$/.test(username)) {
        r.fail("username", `must be 1-64 characters with no ':' and no whitespace (got ${JSON.stringify(username)})`);
    }
    const password = r.str("password", undefined);
    if (password !== undefined && (password.length < 8 || Buffer.byteLength(password) > 72 || /[\r\n]/.test(password))) {
        // bcrypt reads at most 72 bytes
        r.fail("password", "must be 8 to 72 bytes on one line (or leave it unset to generate one)");
    }
    const passwordLength = r.int("passwordLength", 32, 16, 72);
    const bcryptCost = r.int("bcryptCost", DEFAULT_BCRYPT_COST, 4, 31);
    const logLevel = r.oneOf("logLevel", "info", LOG_LEVELS);

    const tls = parseTls(r, hostname, dnsNames, ipAddresses);
    const nodes = parseNodes(r);
    const kubernetes = parseKubernetes(r);
    const services = parseServices(r);

    if (r.problems.length > 0) throw new ConfigError(r.problems);
    return {
        hostname, dnsNames, ipAddresses, port, bindAddresses, dockerHost, dockerSshOpts, image, containerName,
        dataVolume, dataHostPath, pushAddress, username, password, passwordLength, bcryptCost, logLevel,
        tls, nodes, kubernetes, services,
    };
}

function parseTls(r: Reader, hostname: string, dnsNames: string[], ipAddresses: string[]): TlsSettings {
    const t = r.object("tls") ?? {};
    r.unknownKeys(t, ["keyAlgorithm", "rsaBits", "ecdsaCurve", "validityHours", "earlyRenewalHours", "caValidityHours",
        "minVersion", "rotation", "certificatePem", "privateKeyPem", "caCertificatePem"], "tls");
    const keyAlgorithm = r.oneOf<KeyAlgorithm>("keyAlgorithm", "RSA", ["RSA", "ECDSA"], t, "tls.keyAlgorithm");
    const rsaBits = r.int("rsaBits", 2048, 2048, 4096, t, "tls.rsaBits");
    if (![2048, 3072, 4096].includes(rsaBits)) r.fail("tls.rsaBits", `must be 2048, 3072 or 4096 (got ${rsaBits})`);
    const ecdsaCurve = r.oneOf("ecdsaCurve", "P256", ["P256", "P384"] as const, t, "tls.ecdsaCurve");
    const validityHours = r.int("validityHours", 8760, 1, 876000, t, "tls.validityHours");
    const earlyRenewalHours = r.int("earlyRenewalHours", 720, 0, 876000, t, "tls.earlyRenewalHours");
    if (earlyRenewalHours >= validityHours) {
        r.fail("tls.validityHours", `(${validityHours}) must be longer than tls.earlyRenewalHours (${earlyRenewalHours}), or every up would renew the certificate`);
    }
    const caValidityHours = r.int("caValidityHours", 87600, 1, 876000, t, "tls.caValidityHours");
    if (caValidityHours < validityHours) {
        r.fail("tls.caValidityHours", `(${caValidityHours}) must be at least tls.validityHours (${validityHours})`);
    }
    const minVersion = r.oneOf<TlsVersion>("minVersion", "tls1.2", TLS_VERSIONS, t, "tls.minVersion");
    const rotation = r.int("rotation", 0, 0, 1_000_000, t, "tls.rotation");
    const certificatePem = r.str("certificatePem", undefined, t, "tls.certificatePem");
    const privateKeyPem = r.str("privateKeyPem", undefined, t, "tls.privateKeyPem");
    const caCertificatePem = r.str("caCertificatePem", undefined, t, "tls.caCertificatePem");
    const given = [certificatePem, privateKeyPem, caCertificatePem].filter((v) => v !== undefined).length;
    if (given > 0 && given < 3) {
        r.fail("tls", "bring-your-own needs all three of tls.certificatePem, tls.privateKeyPem and tls.caCertificatePem (or none, to generate them)");
    } else if (given === 3) {
        checkOwnCertificate(r, certificatePem!, privateKeyPem!, caCertificatePem!, hostname, dnsNames, ipAddresses);
    }
    return { keyAlgorithm, rsaBits, ecdsaCurve, validityHours, earlyRenewalHours, caValidityHours, minVersion, rotation,
        certificatePem, privateKeyPem, caCertificatePem };
}

function checkOwnCertificate(r: Reader, certPem: string, keyPem: string, caPem: string,
    hostname: string, dnsNames: string[], ipAddresses: string[]): void {
    let leaf: crypto.X509Certificate | undefined;
    let ca: crypto.X509Certificate | undefined;
    if (!PEM_CERT.test(certPem.trim() + "\n")) {
        r.fail("tls.certificatePem", "must be one PEM certificate (-----BEGIN CERTIFICATE----- ...)");
    } else {
        try { leaf = new crypto.X509Certificate(certPem); } catch (e) { r.fail("tls.certificatePem", `is not a readable certificate: ${(e as Error).message}`); }
    }
    if (!PEM_CERT.test(caPem.trim() + "\n")) {
        r.fail("tls.caCertificatePem", "must be one PEM certificate (-----BEGIN CERTIFICATE----- ...)");
    } else {
        try { ca = new crypto.X509Certificate(caPem); } catch (e) { r.fail("tls.caCertificatePem", `is not a readable certificate: ${(e as Error).message}`); }
    }
    let key: crypto.KeyObject | undefined;
    if (!PEM_KEY.test(keyPem.trim() + "\n")) {
        r.fail("tls.privateKeyPem", "must be a PEM private key (-----BEGIN PRIVATE KEY----- ...)");
    } else {
        try { key = crypto.createPrivateKey(keyPem); } catch (e) { r.fail("tls.privateKeyPem", `is not a readable private key: ${(e as Error).message}`); }
    }
    if (leaf && key && !leaf.checkPrivateKey(key)) r.fail("tls.privateKeyPem", "does not belong to tls.certificatePem");
    if (leaf && ca && !leaf.verify(ca.publicKey)) r.fail("tls.certificatePem", "is not signed by tls.caCertificatePem");
    if (ca && !ca.ca) r.fail("tls.caCertificatePem", "is not a CA certificate (basicConstraints CA:TRUE)");
    if (leaf) {
        for (const name of [hostname, ...dnsNames, ...ipAddresses]) {
            const ok = isIp(name) ? leaf.checkIP(name) !== undefined : leaf.checkHost(name) !== undefined;
            if (!ok) r.fail("tls.certificatePem", `does not cover ${name} in its subject alternative names`);
        }
        if (Date.parse(leaf.validTo) < Date.now()) r.fail("tls.certificatePem", `expired on ${leaf.validTo}`);
    }
}

function parseNodes(r: Reader): NodeSettings[] {
    const nodes: NodeSettings[] = [];
    const seen = new Map<string, string>();
    r.list("nodes").forEach((v, i) => {
        const path = `nodes[${i}]`;
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            r.fail(path, `must be an object with host, privateKey and runtime (got ${JSON.stringify(v)})`);
            return;
        }
        const o = v as Record<string, unknown>;
        r.unknownKeys(o, ["name", "host", "port", "user", "privateKey", "privateKeyPath", "runtime", "hostsAddress",
            "systemTrust", "insecureRegistry", "hostKey", "containerdConfigFile", "containerdRestartCommand",
            "dockerRestartCommand", "dialErrorLimit", "perDialTimeout"], path);
        const host = r.str("host", undefined, o, `${path}.host`);
        if (host === undefined) r.fail(`${path}.host`, "is required (the node's SSH address)");
        else if (!isHostname(host) && !isIp(host)) r.fail(`${path}.host`, `must be a DNS name or an IP address (got ${JSON.stringify(host)})`);
        const name = r.str("name", (host ?? `node${i}`).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, ""), o, `${path}.name`);
        if (!NODE_NAME.test(name)) r.fail(`${path}.name`, `must be lowercase letters, digits and '-' (got ${JSON.stringify(name)})`);
        const port = r.int("port", 22, 1, 65535, o, `${path}.port`);
        const user = r.str("user", "root", o, `${path}.user`);
        if (!UNIX_USER.test(user)) r.fail(`${path}.user`, `must be a Unix user name (got ${JSON.stringify(user)})`);
        let privateKey = r.str("privateKey", undefined, o, `${path}.privateKey`);
        const keyPath = r.str("privateKeyPath", undefined, o, `${path}.privateKeyPath`);
        if (privateKey !== undefined && keyPath !== undefined) {
            r.fail(`${path}.privateKey`, `and ${path}.privateKeyPath cannot both be set`);
        } else if (keyPath !== undefined) {
            try { privateKey = fs.readFileSync(keyPath.replace(/^~(?=\/)/, os.homedir()), "utf8"); } catch (e) { r.fail(`${path}.privateKeyPath`, `cannot be read: ${(e as Error).message}`); }
        }
        if (privateKey === undefined) {
            if (keyPath === undefined) r.fail(`${path}.privateKey`, "is required (an SSH private key PEM, set with --secret; or give privateKeyPath)");
        } else if (!PEM_KEY.test(privateKey.trim() + "\n")) {
            r.fail(keyPath ? `${path}.privateKeyPath` : `${path}.privateKey`, "must hold a PEM/OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)");
        }
        const runtimeRaw = r.value(o, "runtime");
        if (runtimeRaw === undefined) r.fail(`${path}.runtime`, `is required: one of ${NODE_RUNTIMES.join(", ")}`);
        const runtime = r.oneOf<NodeRuntime>("runtime", "none", NODE_RUNTIMES, o, `${path}.runtime`);
        const hostsAddress = r.str("hostsAddress", undefined, o, `${path}.hostsAddress`);
        if (hostsAddress !== undefined && !isIp(hostsAddress)) r.fail(`${path}.hostsAddress`, `must be an IP address (got ${JSON.stringify(hostsAddress)})`);
        const insecureRegistry = r.bool("insecureRegistry", false, o, `${path}.insecureRegistry`);
        if (insecureRegistry && runtime !== "docker") r.fail(`${path}.insecureRegistry`, `applies to runtime docker only (this node's runtime is ${runtime})`);
        const hostKey = r.str("hostKey", undefined, o, `${path}.hostKey`);
        if (hostKey !== undefined && !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(hostKey.trim())) {
            r.fail(`${path}.hostKey`, "must be a public host key line such as 'ssh-ed25519 AAAA...'");
        }
        const command = (key: string, def: string): string => {
            const c = r.str(key, def, o, `${path}.${key}`);
            if (/[\n\0]/.test(c)) r.fail(`${path}.${key}`, "must be a single-line shell command");
            return c;
        };
        const containerdConfigFile = r.str("containerdConfigFile", "/etc/containerd/config.toml", o, `${path}.containerdConfigFile`);
        if (!/^\/[\w./-]+$/.test(containerdConfigFile)) r.fail(`${path}.containerdConfigFile`, `must be an absolute path (got ${JSON.stringify(containerdConfigFile)})`);
        const node: NodeSettings = {
            name, host: host ?? "", port, user, privateKey: privateKey ?? "", runtime, hostsAddress,
            systemTrust: r.bool("systemTrust", false, o, `${path}.systemTrust`), insecureRegistry, hostKey: hostKey?.trim(),
            containerdConfigFile,
            containerdRestartCommand: command("containerdRestartCommand", "systemctl restart containerd"),
            dockerRestartCommand: command("dockerRestartCommand", "systemctl restart docker"),
            dialErrorLimit: r.int("dialErrorLimit", 3, 1, 100, o, `${path}.dialErrorLimit`),
            perDialTimeout: r.int("perDialTimeout", 10, 1, 600, o, `${path}.perDialTimeout`),
        };
        for (const [what, id] of [["name", name], ["address", `${host}:${port}`]]) {
            const prev = seen.get(`${what}=${id}`);
            if (prev) r.fail(`${path}`, `duplicates ${prev}: two nodes with the same ${what} ${id}`);
            else seen.set(`${what}=${id}`, path);
        }
        nodes.push(node);
    });
    return nodes;
}

function parseKubernetes(r: Reader): KubernetesSettings | undefined {
    const k = r.object("kubernetes");
    if (k === undefined) return undefined;
    r.unknownKeys(k, ["kubeconfig", "context", "namespaces", "secretName", "patchDefaultServiceAccount", "publishHostingConfigMap"], "kubernetes");
    const kubeconfig = r.str("kubeconfig", undefined, k, "kubernetes.kubeconfig");
    const context = r.str("context", undefined, k, "kubernetes.context");
    if (kubeconfig === undefined && context === undefined) {
        r.fail("kubernetes", "needs kubernetes.kubeconfig (path or content) or kubernetes.context; remove the kubernetes key to switch Kubernetes off");
    }
    const namespaces = r.strings("namespaces", (s) => K8S_NAME.test(s) && s.length <= 63, "a namespace name (lowercase letters, digits, '-')", k, "kubernetes.namespaces");
    const secretName = r.str("secretName", "regcred", k, "kubernetes.secretName");
    if (!K8S_NAME.test(secretName) || secretName.length > 253) {
        r.fail("kubernetes.secretName", `must be a Kubernetes name: lowercase letters, digits and '-' (got ${JSON.stringify(secretName)})`);
    }
    return {
        kubeconfig, context,
        namespaces: namespaces.length > 0 ? namespaces : ["default"],
        secretName,
        patchDefaultServiceAccount: r.bool("patchDefaultServiceAccount", false, k, "kubernetes.patchDefaultServiceAccount"),
        publishHostingConfigMap: r.bool("publishHostingConfigMap", false, k, "kubernetes.publishHostingConfigMap"),
    };
}

function parseServices(r: Reader): ServiceSettings[] {
    const out: ServiceSettings[] = [];
    r.list("services").forEach((v, i) => {
        const path = `services[${i}]`;
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            r.fail(path, `must be an object with name and context (got ${JSON.stringify(v)})`);
            return;
        }
        const o = v as Record<string, unknown>;
        r.unknownKeys(o, ["name", "context", "dockerfile", "tag", "platform", "args"], path);
        const name = r.str("name", "", o, `${path}.name`);
        if (!SERVICE_NAME.test(name)) r.fail(`${path}.name`, `must be a repository path: lowercase letters and digits, '.', '_', '-' separators, '/' between components (got ${JSON.stringify(name)})`);
        else if (out.some((s) => s.name === name)) r.fail(`${path}.name`, `duplicates service ${name}`);
        const context = r.str("context", "", o, `${path}.context`);
        if (context === "") r.fail(`${path}.context`, "is required (the build context folder)");
        const tag = r.str("tag", "latest", o, `${path}.tag`);
        if (!TAG.test(tag)) r.fail(`${path}.tag`, `must be a tag: letters, digits, '_', '.', '-', at most 128 (got ${JSON.stringify(tag)})`);
        const platform = r.str("platform", "linux/amd64", o, `${path}.platform`);
        if (!/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(platform)) r.fail(`${path}.platform`, `must look like linux/amd64 (got ${JSON.stringify(platform)})`);
        const argsObj = r.object("args", o, `${path}.args`) ?? {};
        const args: Record<string, string> = {};
        for (const [k, a] of Object.entries(argsObj)) {
            if (typeof a !== "string") r.fail(`${path}.args.${k}`, "must be a string");
            else args[k] = a;
        }
        out.push({ name, context, dockerfile: r.str("dockerfile", undefined, o, `${path}.dockerfile`), tag, platform, args });
    });
    return out;
}

/**
 * Picks this project's keys out of the stack's whole config (`pulumi.runtime.allConfig()`: values arrive
 * decrypted, objects as JSON text) and parses the JSON ones.
 */
export function rawConfig(all: Record<string, string>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [fullKey, v] of Object.entries(all)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const key = fullKey.slice(PROJECT.length + 1);
        const t = v.trim();
        if ((t.startsWith("{") || t.startsWith("[")) && t.length > 1) {
            try { raw[key] = JSON.parse(t); continue; } catch { /* a plain string that happens to start with a bracket */ }
        }
        raw[key] = v;
    }
    return raw;
}

export const CONFIG_KEYS = [
    "hostname", "dnsNames", "ipAddresses", "port", "bindAddress", "dockerHost", "dockerSshOpts", "image", "containerName", "dataVolume",
    "dataHostPath", "pushAddress", "username", "password", "passwordLength", "bcryptCost", "logLevel", "tls", "nodes", "kubernetes", "services",
] as const;
