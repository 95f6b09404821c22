import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER_NAME, isIp, NODE_NAME, PEM_CERT, PEM_KEY, SCHEMA } from "./configSchema";
import { Keys, PROJECT, Reader, Shape } from "./configSpec";
import { checkCluster, ClusterSettings } from "./configCluster";
import { checkMaintenance } from "./configMaintenance";
import { isConfigSecret, plaintextProblem, plaintextSecrets } from "./plaintextSecrets";

export { DEFAULT_BCRYPT_COST, isHostname, isIp, isIpv4, TLS_VERSIONS } from "./configSchema";
export { PROJECT } from "./configSpec";
export type { Secret } from "./configSpec";

type Settings = Shape<typeof SCHEMA>;
export type TlsSettings = Settings["tls"];
export type KeyAlgorithm = TlsSettings["keyAlgorithm"];
export type TlsVersion = TlsSettings["minVersion"];
/** A node's key arrives in `privateKey` whichever key gave it. */
export type NodeSettings = Omit<Settings["nodes"][number], "privateKeyPath">;
export type KubernetesSettings = NonNullable<Settings["kubernetes"]>;
/** The mirror with every default worked out (`bindAddress` as the list `bindAddresses`). */
export type MirrorSettings = Omit<NonNullable<Settings["mirror"]>, "bindAddress"> & { bindAddresses: string[]; dataVolumeDerived: boolean };
export type ServiceSettings = Settings["services"][number];
/** The checked configuration; `bindAddress` (one address or a list) becomes the list `bindAddresses`. */
export type RegistrySettings = Omit<Settings, "bindAddress" | "nodes" | "mirror" | "cluster"> & {
    bindAddresses: string[]; nodes: NodeSettings[]; mirror?: MirrorSettings; cluster?: ClusterSettings;
    /** `dataVolume` was not given, so its name was worked out from the stack (and would follow a rename). */
    dataVolumeDerived?: boolean;
};

/** Docker Hub as image names spell it, and where its registry API is. */
export const DOCKER_HUB = "docker.io";
export const DOCKER_HUB_URL = "https://registry-1.docker.io";
const WILDCARDS = ["0.0.0.0", "::"];

/** Every top-level key, in the schema's order. */
export const CONFIG_KEYS = Object.keys(SCHEMA) as (keyof typeof SCHEMA)[];

/**
 * Every problem found in the configuration, reported at once. A RunError, so the engine prints the
 * problems alone, as it does for user errors, rather than an unhandled exception with a stack trace.
 */
export class ConfigError extends pulumi.RunError {
    constructor(public readonly problems: string[]) {
        super(`invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

/** Marks what a stack writes on nodes (file names, /etc/hosts comments): `private-registry-<stack>`. */
export function stackId(stack: string): string {
    return `${PROJECT}-${stack}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+$/, "");
}

/** The address clients use: `host:port`. */
export function registryAddress(hostname: string, port: number): string {
    return `${hostname}:${port}`;
}

/**
 * Turns the stack's raw config (values as `pulumi config` stores them: strings, or parsed objects)
 * into typed settings, secrets still plain. Throws one ConfigError listing every problem.
 */
export function parseSettings(raw: Record<string, unknown>, stack: string): RegistrySettings {
    const r = new Reader();
    const s = r.keys(SCHEMA, raw, "") as Settings;
    // What the schema cannot say key by key: defaults worked out from other keys, and rules across keys.
    if (s.dockerSshOpts.length > 0 && !s.dockerHost.startsWith("ssh://")) r.fail("dockerSshOpts", "applies to an ssh:// dockerHost only");
    s.containerName ??= `registry-${stack}`.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
    if (s.dataHostPath !== undefined && s.dataVolume !== undefined) {
        r.fail("dataVolume", "and private-registry:dataHostPath cannot both be set: choose a named volume or a host path");
    }
    const derivedVolume = s.dataHostPath === undefined && s.dataVolume === undefined;
    if (s.dataHostPath === undefined) {
        s.dataVolume ??= `${s.containerName}-data`;
        r.check("dataVolume", s.dataVolume, DOCKER_NAME, true);
    } else {
        s.dataVolume = undefined;
    }
    checkTls(r, s);
    if (s.access.pullOnly && s.access.pullUsername === s.username) {
        r.fail("access.pullUsername", `must differ from private-registry:username, the push login (both are ${JSON.stringify(s.username)})`);
    }
    const mirror = checkMirror(r, s);
    if (s.migrate && [s.containerName, mirror?.containerName].includes(s.migrate.fromContainer)) {
        r.fail("migrate.fromContainer", `must not be a container of this stack (private-registry:containerName${mirror ? " or mirror.containerName" : ""}): the old container is removed only after the new one runs (got ${JSON.stringify(s.migrate.fromContainer)})`);
    }
    const nodes = s.nodes.map((n) => checkNode(r, n, mirror));
    checkDuplicateNodes(r, nodes, s.nodes.map((n) => r.where.get(n)!.path));
    if (s.kubernetes && s.kubernetes.kubeconfig === undefined && s.kubernetes.context === undefined) {
        r.fail("kubernetes", "needs kubernetes.kubeconfig (path or content) or kubernetes.context; remove the kubernetes key to switch Kubernetes off");
    }
    s.services.forEach((svc, i) => {
        if (SCHEMA.services.keys.name.check[0](svc.name) && s.services.slice(0, i).some((o) => o.name === svc.name)) {
            r.fail(`${r.where.get(svc)!.path}.name`, `duplicates service ${svc.name}`);
        }
    });
    const cluster = checkCluster(r, s, raw, stackId(stack));
    checkMaintenance(r, s, (o) => r.where.get(o)?.path);
    if (r.problems.length > 0) throw new ConfigError(r.problems);
    const { bindAddress, ...rest } = s;
    return { ...rest, bindAddresses: bindAddress, nodes, mirror, cluster, dataVolumeDerived: derivedVolume };
}

function checkTls(r: Reader, s: Settings): void {
    const t = s.tls;
    if (t.earlyRenewalHours >= t.validityHours) {
        r.fail("tls.validityHours", `(${t.validityHours}) must be longer than tls.earlyRenewalHours (${t.earlyRenewalHours}), or every up would renew the certificate`);
    }
    if (t.caValidityHours < t.validityHours) {
        r.fail("tls.caValidityHours", `(${t.caValidityHours}) must be at least tls.validityHours (${t.validityHours})`);
    }
    const own = [t.certificatePem, t.privateKeyPem, t.caCertificatePem] as (string | undefined)[];
    const given = own.filter((v) => v !== undefined).length;
    if (given > 0 && given < 3) {
        r.fail("tls", "bring-your-own needs all three of tls.certificatePem, tls.privateKeyPem and tls.caCertificatePem (or none, to generate them)");
    } else if (given === 3) {
        checkOwnCertificate(r, own as string[], [s.hostname, ...s.dnsNames, ...s.ipAddresses]);
    }
}

function checkOwnCertificate(r: Reader, [certPem, keyPem, caPem]: string[], names: string[]): void {
    const read = <T>(key: string, pem: string, form: RegExp, formText: string, what: string, make: (pem: string) => T): T | undefined => {
        if (!form.test(pem.trim() + "\n")) {
            r.fail(key, `must be ${formText}`);
            return undefined;
        }
        try { return make(pem); } catch (e) { r.fail(key, `is not a readable ${what}: ${(e as Error).message}`); }
        return undefined;
    };
    const leaf = read("tls.certificatePem", certPem, PEM_CERT, "one PEM certificate (-----BEGIN CERTIFICATE----- ...)", "certificate", (p) => new crypto.X509Certificate(p));
    const ca = read("tls.caCertificatePem", caPem, PEM_CERT, "one PEM certificate (-----BEGIN CERTIFICATE----- ...)", "certificate", (p) => new crypto.X509Certificate(p));
    const key = read("tls.privateKeyPem", keyPem, PEM_KEY, "a PEM private key (-----BEGIN PRIVATE KEY----- ...)", "private key", (p) => crypto.createPrivateKey(p));
    if (leaf && key && !leaf.checkPrivateKey(key)) r.fail("tls.privateKeyPem", "does not belong to tls.certificatePem");
    if (leaf && ca && !leaf.verify(ca.publicKey)) r.fail("tls.certificatePem", "is not signed by tls.caCertificatePem");
    if (ca && !ca.ca) r.fail("tls.caCertificatePem", "is not a CA certificate (basicConstraints CA:TRUE)");
    if (leaf) {
        for (const name of names) {
            const ok = isIp(name) ? leaf.checkIP(name) !== undefined : leaf.checkHost(name) !== undefined;
            if (!ok) r.fail("tls.certificatePem", `does not cover ${name} in its subject alternative names`);
        }
        if (Date.parse(leaf.validTo) < Date.now()) r.fail("tls.certificatePem", `expired on ${leaf.validTo}`);
    }
}

function checkMirror(r: Reader, s: Settings): MirrorSettings | undefined {
    const m = s.mirror;
    if (!m) return undefined;
    const { bindAddress, ...rest } = m;
    m.remoteUrl ??= m.upstream === DOCKER_HUB ? DOCKER_HUB_URL : `https://${m.upstream}`;
    if (m.port === 0) m.port = s.port < 65535 ? s.port + 1 : s.port - 1;
    if (m.port === s.port) r.fail("mirror.port", `must differ from private-registry:port (both are ${s.port})`);
    const addresses = bindAddress.length ? bindAddress : s.bindAddress;
    const open = addresses.filter((a) => WILDCARDS.includes(a));
    if (open.length) {
        r.fail(bindAddress.length ? "mirror.bindAddress" : "bindAddress",
            `${open.join(", ")} would publish the mirror, which has no login, on every interface; give mirror.bindAddress the private addresses the nodes reach`);
    }
    m.containerName ??= `${s.containerName}-mirror`;
    const derived = m.dataVolume === undefined;
    m.dataVolume ??= `${m.containerName}-data`;
    r.check("mirror.containerName", m.containerName, DOCKER_NAME, true);
    r.check("mirror.dataVolume", m.dataVolume, DOCKER_NAME, true);
    if (m.dataVolume === s.dataVolume) r.fail("mirror.dataVolume", `must differ from the registry's volume ${s.dataVolume}`);
    if ((m.username === undefined) !== (m.password === undefined)) r.fail("mirror.username", "and mirror.password go together: give both, or neither for anonymous pulls");
    if (m.ttl !== undefined && /^registry:2(\.|$)/.test(s.image)) {
        r.fail("mirror.ttl", `is not honoured by the registry:2 line (image ${s.image}), whose cache always expires after 168h: leave it unset, or use registry:3`);
    }
    return { ...rest, remoteUrl: m.remoteUrl, port: m.port, containerName: m.containerName, dataVolume: m.dataVolume, bindAddresses: addresses, dataVolumeDerived: derived };
}

function checkNode(r: Reader, n: Settings["nodes"][number], mirror: MirrorSettings | undefined): NodeSettings {
    const { path, index } = r.where.get(n)!;
    const { privateKeyPath: keyPath, ...node } = n;
    if (node.name === undefined) {
        node.name = (node.host || `node${index}`).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
        r.check(`${path}.name`, node.name, NODE_NAME, true);
    }
    let key = n.privateKey as string | undefined;
    if (key !== undefined && keyPath !== undefined) {
        r.fail(`${path}.privateKey`, `and ${path}.privateKeyPath cannot both be set`);
    } else if (keyPath !== undefined && !node.retired) {
        try { key = fs.readFileSync(keyPath.replace(/^~(?=\/)/, os.homedir()), "utf8"); } catch (e) { r.fail(`${path}.privateKeyPath`, `cannot be read: ${(e as Error).message}`); }
    }
    if (key === undefined) {
        // a retired node is never connected to: its key may be gone with it
        if (keyPath === undefined && !node.retired) r.fail(`${path}.privateKey`, "is required (an SSH private key PEM, set with --secret; or give privateKeyPath)");
    } else if (!PEM_KEY.test(key.trim() + "\n")) {
        r.fail(keyPath ? `${path}.privateKeyPath` : `${path}.privateKey`, "must hold a PEM/OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)");
    }
    if (node.hostsCommentOut && node.hostsAddress === undefined) {
        r.fail(`${path}.hostsCommentOut`, "comments out other /etc/hosts lines for the hostname in favour of this node's hostsAddress: set hostsAddress too");
    }
    if (node.insecureRegistry && node.runtime !== "docker") {
        r.fail(`${path}.insecureRegistry`, `applies to runtime docker only (this node's runtime is ${node.runtime})`);
    }
    // on any runtime cleanRecipe looks at the system CA store and /etc/hosts; daemon.json on docker nodes only
    if (node.cleanRecipe && node.insecureRegistry) {
        r.fail(`${path}.cleanRecipe`, `and ${path}.insecureRegistry cannot both be true: cleanRecipe removes the insecure-registries entry that insecureRegistry keeps (turn insecureRegistry off)`);
    }
    if (mirror && node.useMirror && node.runtime === "docker" && mirror.upstream !== DOCKER_HUB) {
        r.fail(`${path}.useMirror`, `cannot be true on a docker node with mirror.upstream ${mirror.upstream}: dockerd mirrors Docker Hub only (set it false for this node)`);
    }
    node.mirrorReloadCommand ??= { docker: "systemctl reload docker", crio: "systemctl reload crio" }[node.runtime as string] ?? "true";
    return { ...node, privateKey: key ?? "" };
}

function checkDuplicateNodes(r: Reader, nodes: NodeSettings[], paths: string[]): void {
    const seen = new Map<string, string>();
    nodes.forEach((n, i) => {
        const path = paths[i];
        // a node without a host is reported as such, not as a duplicate address
        const ids = [["name", n.name], ...(n.host ? [["address", `${n.host}:${n.port}`]] : [])];
        for (const [what, id] of ids) {
            const prev = seen.get(`${what}=${id}`);
            if (prev) r.fail(path, `duplicates ${prev}: two nodes with the same ${what} ${id}`);
            else seen.set(`${what}=${id}`, path);
        }
    });
}

/**
 * Picks this project's keys out of the stack's whole config (values as the engine passes them: secrets
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

/**
 * The stack's settings, read through pulumi.Config and checked (so a preview fails on bad input), with
 * every value of a key the schema marks secret handed on as a secret Output.
 */
export function readSettings(stack: string = pulumi.getStack()): RegistrySettings {
    const config = new pulumi.Config(PROJECT);
    const prefix = `${PROJECT}:`;
    // only the key names come from allConfig(), so that a misspelt key is reported rather than ignored
    const keys = Object.keys(pulumi.runtime.allConfig()).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
    const raw = rawConfig(Object.fromEntries(keys.map((k) => [prefix + k, config.get(k) ?? ""])));
    const settings = parseSettings(raw, stack);
    const plain = plaintextSecrets(raw, isConfigSecret).map((key) => plaintextProblem(key, stack));
    if (plain.length > 0 && process.env.CI === "true" && !settings.allowPlaintextSecrets) {
        throw new ConfigError([...plain, `(CI=true: refused; set private-registry:allowPlaintextSecrets to true to let CI go on with a warning)`]);
    }
    for (const p of plain) void pulumi.log.warn(p);
    return withSecrets(settings);
}

/**
 * The settings with each value of a secret key as a secret Output, whether or not the stack holds it
 * with --secret: the state and every resource input then keep it encrypted.
 */
export function withSecrets(settings: RegistrySettings): RegistrySettings {
    return secretsIn(SCHEMA, settings) as RegistrySettings;
}

function secretsIn(keys: Keys, o: object): Record<string, unknown> {
    return Object.fromEntries(Object.entries(o).map(([k, v]) => {
        const spec = keys[k];
        if (v === undefined || spec === undefined) return [k, v];
        if (spec.kind === "string" && spec.secret) return [k, pulumi.secret(v as string)];
        if (spec.kind === "object") return [k, secretsIn(spec.keys, v)];
        if (spec.kind === "objects") return [k, (v as object[]).map((item) => secretsIn(spec.keys, item))];
        return [k, v];
    }));
}
