// Every configuration key, described once. The checks (components/config/config.ts), the
// configuration table (docs/CONFIG.md) and the `config:` block of Pulumi.yaml (components/config/configDocs.ts) all come from
// here: a new key is one entry below, plus whatever the components do with it.
import * as net from "net";
import type { Check, Keys } from "./configSpec";
import { NODE_RUNTIMES } from "../nodes/nodeScripts";

export function isIpv4(value: string): boolean {
    const parts = value.split(".");
    return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}
export function isIp(value: string): boolean {
    return isIpv4(value) || net.isIPv6(value);
}
export function isHostname(value: string): boolean {
    return value.length <= 253 && value.split(".").every((l) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i.test(l)) && !/^[0-9.]+$/.test(value);
}

export const DEFAULT_BCRYPT_COST = 4;
export const TLS_VERSIONS = ["tls1.2", "tls1.3"] as const;
export const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;
export const PEM_KEY = /^-----BEGIN ((RSA|EC|OPENSSH) )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END ((RSA|EC|OPENSSH) )?PRIVATE KEY-----\s*$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const K8S_NAME_CHECK: Check<string> = [(v) => K8S_NAME.test(v) && v.length <= 63, "must be a Kubernetes name: lowercase letters, digits and '-', at most 63"];
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REF = new RegExp(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`);
const SERVICE_NAME = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
/** Docker's rule for container and volume names. */
export const DOCKER_NAME: Check<string> = [(v) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v), "must start with a letter or digit and contain only letters, digits, '_', '.', '-'"];
export const NODE_NAME: Check<string> = [(v) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v), "must be lowercase letters, digits and '-'"];
const oneLine = (v: string) => !/[\n\0]/.test(v);
const isHostPort = (v: string) => {
    const m = /^(.+):([0-9]{1,5})$/.exec(v);
    return !!m && (isHostname(m[1]) || isIpv4(m[1])) && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
};
const command = (def: string, doc: string) => ({ kind: "string", default: def, type: "command", check: [oneLine, "must be a single-line shell command"], doc } as const);
const pem = (doc: string) => ({ kind: "string", type: "PEM", defaultDoc: "—", doc } as const);
const hours = (def: number, min: number, doc: string) => ({ kind: "integer", default: def, min, max: 876000, doc } as const);

export const SCHEMA = {
    hostname: { kind: "string", default: "127.0.0.1", type: "DNS name or IPv4", got: true, doc: "the name clients use; leaf CN and first SAN",
        check: [(v) => isHostname(v) || isIpv4(v), "must be a DNS name (letters, digits, '-', dot-separated labels) or an IPv4 address"] },
    dnsNames: { kind: "list", item: [isHostname, "a DNS name"], default: [], type: "list of DNS names", defaultDoc: "`[]` (dev: `[localhost]`)", doc: "more SANs" },
    ipAddresses: { kind: "list", item: [isIp, "an IP address"], default: [], type: "list of IPs", doc: "more SANs" },
    port: { kind: "integer", default: 5000, min: 1, max: 65535, doc: "published port" },
    bindAddress: { kind: "list", item: [isIp, "an IP address"], default: ["127.0.0.1"], empty: "must name at least one IP address", type: "IP or list of IPs",
        doc: "where the port is published on the docker host" },
    dockerHost: { kind: "string", default: "unix:///var/run/docker.sock", type: "`unix:///…`, `tcp://…`, `ssh://user@host`", got: true,
        check: [(v) => /^(unix:\/\/\/.+|tcp:\/\/[^\s/]+|ssh:\/\/[^\s/@]+@[^\s/]+|npipe:\/\/.+)$/.test(v), "must be unix:///path, tcp://host:port or ssh://user@host[:port]"],
        doc: "engine that runs the registry and builds the images" },
    dockerSshOpts: { kind: "list", item: [oneLine, "a single-line ssh argument"], default: [], type: "list of ssh arguments",
        doc: "for an `ssh://` docker host (the provider runs the local `ssh`)" },
    image: { kind: "string", default: "registry:3.1.2", type: "image reference", got: true, check: [(v) => IMAGE_REF.test(v), "must be an image reference such as registry:3.1.2"],
        doc: "registry image (pinned)" },
    containerName: { kind: "string", derived: true, type: "name", defaultDoc: "`registry-<stack>`", check: DOCKER_NAME, got: true, doc: "the registry container" },
    dataVolume: { kind: "string", type: "volume name", defaultDoc: "`<containerName>-data`", doc: "named volume for the data; kept on `destroy`" },
    dataHostPath: { kind: "string", type: "absolute path", defaultDoc: "—", got: true, check: [(v) => v.startsWith("/"), "must be an absolute path"],
        doc: "host path instead of a volume (not with `dataVolume`)" },
    pushAddress: { kind: "string", type: "`host:port`", defaultDoc: "see ServiceImages", got: true, check: [isHostPort, "must be host:port, e.g. 127.0.0.1:5000"],
        doc: "where the image builder pushes" },
    username: { kind: "string", default: "admin", type: "1–64 chars, no `:`", got: true,
        check: [(v) => /^[^\s:]{1,64}$/.test(v), "must be 1-64 characters with no ':' and no whitespace"], doc: "the registry login" },
    password: { kind: "string", secret: true, type: "8–72 bytes", defaultDoc: "generated", doc: "the registry login's password",
        // bcrypt reads at most 72 bytes
        check: [(v) => v.length >= 8 && Buffer.byteLength(v) <= 72 && !/[\r\n]/.test(v), "must be 8 to 72 bytes on one line (or leave it unset to generate one)"] },
    passwordLength: { kind: "integer", default: 32, min: 16, max: 72, doc: "length of a generated password" },
    bcryptCost: { kind: "integer", default: DEFAULT_BCRYPT_COST, min: 4, max: 31, doc: "bcrypt cost of the htpasswd hash, paid on every request ([why 4](#bcrypt-cost))" },
    access: { kind: "object", defaultDoc: "—", doc: "who may push ([two logins](../README.md#two-logins-pull-and-push))", keys: {
        pullOnly: { kind: "boolean", default: true, doc: "two logins on one address: nodes, pull secrets and `dockerConfigJson` get a pull login that cannot write; `username` pushes. false: one login for everything" },
        pullUsername: { kind: "string", default: "pull", type: "1–64 chars, no `:`", got: true,
            check: [(v) => /^[^\s:]{1,64}$/.test(v), "must be 1-64 characters with no ':' and no whitespace"], doc: "the pull login" },
        pullPassword: { kind: "string", secret: true, type: "8–72 bytes", defaultDoc: "generated", doc: "the pull login's password",
            check: [(v) => v.length >= 8 && Buffer.byteLength(v) <= 72 && !/[\r\n]/.test(v), "must be 8 to 72 bytes on one line (or leave it unset to generate one)"] },
        frontImage: { kind: "string", default: "nginx:1.28.0-alpine", type: "image reference", got: true, check: [(v) => IMAGE_REF.test(v), "must be an image reference such as nginx:1.28.0-alpine"],
            doc: "the front's nginx image (pinned), on the docker host or in the pods" },
    } },
    maintenance: { kind: "object", optional: true, defaultDoc: "— (off)", doc: "garbage collection and retention in a read-only window, on a schedule and on demand ([maintenance](MAINTENANCE.md))", keys: {
        schedule: { kind: "string", default: "", type: "`HH:MM`, `<day> HH:MM` (UTC) or `\"\"`", got: true,
            check: [(v) => /^((sun|mon|tue|wed|thu|fri|sat) )?([01][0-9]|2[0-3]):[0-5][0-9]$|^$/i.test(v.trim()), "must be HH:MM or <day> HH:MM in UTC (day: sun, mon, tue, wed, thu, fri, sat), or \"\" for on demand only"],
            doc: "when it runs by itself; `\"\"`: only on demand (`npm run maintenance`)" },
        windowMinutes: { kind: "integer", default: 30, min: 1, max: 1440, doc: "how far ahead the window's deadline stays while the runner lives: if it dies, pushes resume at most this long after" },
        untaggedGraceHours: { kind: "integer", default: 24, min: -1, max: 876000, doc: "untagged manifests younger than this stay (-1: never deleted)" },
        maxDeletePercent: { kind: "integer", default: 80, min: 1, max: 100, doc: "circuit breaker: a run that would delete more than this share of a repository's tags deletes nothing (`--force` overrides)" },
        uploadAgeHours: { kind: "integer", default: 168, min: 1, max: 876000, doc: "uploads started longer ago than this are abandoned and removed" },
        protect: { kind: "list", item: [(v) => /^[a-z0-9]+(?:[._/-][a-z0-9]+)*@sha256:[a-f0-9]{64}$/.test(v), "repository@sha256:<digest>"], default: [], type: "list of `repo@sha256:…`",
            doc: "manifests that always stay (the stack's own `images` always do)" },
        nodeImage: { kind: "string", default: "node:22.12.0-alpine", type: "image reference", got: true, check: [(v) => IMAGE_REF.test(v), "must be an image reference such as node:22.12.0-alpine"],
            doc: "base of the runner image (pinned); the registry binary comes from `image`" },
        retention: { kind: "objects", item: "must be an object with repositories and keepLast, keepDays or keepTags", defaultDoc: "`[]` (garbage collection only)",
            doc: "which tags stay; a tag stays when any rule matching its repository keeps it, a repository no rule matches is left alone", keys: {
                repositories: { kind: "list", item: [(v) => /^[a-z0-9*?._/-]+$/.test(v), "a repository glob (* within a path component, ** across them)"], default: ["**"], type: "list of globs", doc: "repositories the rule applies to" },
                keepLast: { kind: "integer", default: 0, min: 0, max: 1_000_000, doc: "the N most recently pushed tags stay" },
                keepDays: { kind: "integer", default: 0, min: 0, max: 36500, doc: "tags pushed within N days stay" },
                keepTags: { kind: "list", item: [(v) => { try { new RegExp(v); return true; } catch { return false; } }, "a regular expression"], default: [], type: "list of regexps", doc: "tags matching any of these stay" },
            } },
    } },
    allowPlaintextSecrets: { kind: "boolean", default: false, doc: "let `CI=true` runs go on when a secret key is in the stack file in plain text (a warning still)" },
    logLevel: { kind: "enum", values: ["error", "warn", "info", "debug"], default: "info", doc: "registry log level" },
    tls: { kind: "object", defaultDoc: "—", doc: "the certificates", keys: {
        keyAlgorithm: { kind: "enum", values: ["RSA", "ECDSA"], default: "RSA", doc: "CA and leaf keys" },
        rsaBits: { kind: "integer", default: 2048, min: 2048, max: 4096, type: "2048, 3072, 4096", doc: "RSA key size",
            check: [(v) => [2048, 3072, 4096].includes(v), "must be 2048, 3072 or 4096"], got: true },
        ecdsaCurve: { kind: "enum", values: ["P256", "P384"], default: "P256", doc: "ECDSA curve" },
        validityHours: hours(8760, 1, "leaf lifetime in hours"),
        earlyRenewalHours: hours(720, 0, "an `up` this close to the leaf's expiry (hours, < validity) renews it"),
        caValidityHours: hours(87600, 1, "CA lifetime in hours (≥ validity)"),
        minVersion: { kind: "enum", values: TLS_VERSIONS, default: "tls1.2", doc: "minimum TLS version the registry accepts" },
        rotation: { kind: "integer", default: 0, min: 0, max: 1_000_000, doc: "bump to replace the leaf's key and certificate now (after a leak); nodes are untouched" },
        certificatePem: pem("bring your own leaf (all three PEMs or none)"),
        privateKeyPem: { ...pem("the leaf's key, when you bring your own"), secret: true },
        caCertificatePem: pem("the CA that signed your own leaf"),
    } },
    nodes: { kind: "objects", item: "must be an object with host, privateKey and runtime", defaultDoc: "`[]`", doc: "nodes to make trust the registry", keys: {
        name: { kind: "string", derived: true, type: "`[a-z0-9-]`", defaultDoc: "from host", check: NODE_NAME, got: true, doc: "resource name" },
        host: { kind: "string", type: "DNS name or IP", required: "is required (the node's SSH address)", got: true,
            check: [(v) => isHostname(v) || isIp(v), "must be a DNS name or an IP address"], doc: "SSH address" },
        port: { kind: "integer", default: 22, min: 1, max: 65535, doc: "SSH port" },
        user: { kind: "string", default: "root", type: "Unix user", got: true, check: [(v) => /^[a-z_][a-z0-9_-]{0,31}$/.test(v), "must be a Unix user name"],
            doc: "non-root runs through `sudo -n`" },
        // required unless privateKeyPath gives it: components/config/config.ts reads the file and says so
        privateKey: { kind: "string", secret: true, derived: true, type: "PEM", defaultDoc: "required (or privateKeyPath)", doc: "SSH key" },
        privateKeyPath: { kind: "string", type: "path", defaultDoc: "—", doc: "SSH key file instead of `privateKey` (`~/` allowed)" },
        runtime: { kind: "enum", values: NODE_RUNTIMES, default: "none", required: `is required: one of ${NODE_RUNTIMES.join(", ")}`, doc: "what to configure" },
        hostsAddress: { kind: "string", type: "IP", defaultDoc: "—", got: true, check: [isIp, "must be an IP address"], doc: "opt-in `/etc/hosts` line `<ip> <hostname>`" },
        hostsCommentOut: { kind: "boolean", default: false, doc: "with `hostsAddress`: comment out the node's other `/etc/hosts` lines for the hostname (given back on delete; otherwise only reported)" },
        systemTrust: { kind: "boolean", default: false, doc: "opt-in system CA store" },
        insecureRegistry: { kind: "boolean", default: false, doc: "opt-in `insecure-registries` (docker only; not needed with the CA)" },
        cleanRecipe: { kind: "boolean", default: false, doc: "remove the manual recipe's leftovers for this registry, for good: its `insecure-registries` entry, its self-signed certificate in the system CA store, with `hostsAddress` its `/etc/hosts` line ([recipe](NODES.md#cleaning-up-after-the-manual-recipe); not with `insecureRegistry`)" },
        hostKey: { kind: "string", type: "`ssh-ed25519 AAAA…`", defaultDoc: "—", trim: true, doc: "pins the node's host key (unchecked without)",
            // an ssh-rsa pin makes the SSH client offer only the SHA-1 `ssh-rsa` algorithm, which OpenSSH 8.8+ refuses
            check: [(v) => /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(v), (v) => v.startsWith("ssh-rsa ")
                ? "is an ssh-rsa key, which pins the SHA-1 ssh-rsa algorithm that OpenSSH 8.8 and later refuse (\"no common algorithm for host key\"); give the node's ed25519 key (/etc/ssh/ssh_host_ed25519_key.pub)"
                : "must be a public host key line such as 'ssh-ed25519 AAAA...'"] },
        containerdConfigFile: { kind: "string", default: "/etc/containerd/config.toml", type: "absolute path", got: true, doc: "containerd's config",
            check: [(v) => /^\/[\w./-]+$/.test(v), "must be an absolute path"] },
        containerdRestartCommand: command("systemctl restart containerd", "run only when `config_path` had to be enabled"),
        dockerRestartCommand: command("systemctl restart docker", "not used: `insecureRegistry` is applied by `mirrorReloadCommand` (a reload, no restart); accepted for older stack files"),
        useMirror: { kind: "boolean", default: true, doc: "pull `mirror.upstream` images through the mirror, when there is one" },
        mirrorReloadCommand: { kind: "string", derived: true, type: "command", defaultDoc: "docker: `systemctl reload docker`; crio: `systemctl reload crio`",
            check: [oneLine, "must be a single-line shell command"], got: true, doc: "makes the runtime re-read its mirror settings, and docker its `insecure-registries` (no restart); run only when they changed" },
        retired: { kind: "boolean", default: false, doc: "the node is gone: forget it without connecting ([retired nodes](NODES.md#nodes-that-no-longer-exist))" },
        dialErrorLimit: { kind: "integer", default: 3, min: 1, max: 100, doc: "SSH dial attempts before the node fails" },
        perDialTimeout: { kind: "integer", default: 10, min: 1, max: 600, doc: "seconds per SSH dial attempt" },
    } },
    mirror: { kind: "object", optional: true, defaultDoc: "— (off)", doc: "a pull-through cache of `upstream` on its own port, and every node pulling through it ([mirror](../README.md#the-pull-through-mirror))", keys: {
        upstream: { kind: "string", default: "docker.io", type: "registry host", got: true, check: [(v) => isHostname(v) || isHostPort(v), "must be a registry host such as docker.io or quay.io"],
            doc: "the registry it caches, as image names spell it (docker nodes: `docker.io` only)" },
        remoteUrl: { kind: "string", derived: true, type: "`https://…`", defaultDoc: "`https://registry-1.docker.io` for docker.io, else `https://<upstream>`", got: true,
            check: [(v) => /^https?:\/\/[^\s/]+\/?$/.test(v), "must be http(s)://host[:port] with no path"], doc: "where the mirror fetches from" },
        username: { kind: "string", type: "login", defaultDoc: "— (anonymous)", got: true, check: [oneLine, "must be one line"], doc: "upstream login" },
        password: { kind: "string", secret: true, type: "password or token", defaultDoc: "—", check: [(v) => v.length > 0 && oneLine(v), "must be one non-empty line"], doc: "upstream password (with `username`)" },
        port: { kind: "integer", default: 0, min: 1, max: 65535, defaultDoc: "`port` + 1", doc: "published port, other than `port`" },
        bindAddress: { kind: "list", item: [isIp, "an IP address"], default: [], type: "IP or list of IPs", defaultDoc: "`bindAddress`",
            doc: "where it is published: never a wildcard address, as it has no login" },
        containerName: { kind: "string", derived: true, type: "name", defaultDoc: "`<containerName>-mirror`", check: DOCKER_NAME, got: true, doc: "the mirror container" },
        dataVolume: { kind: "string", derived: true, type: "volume name", defaultDoc: "`<containerName>-mirror-data`", check: DOCKER_NAME, got: true, doc: "its cache; kept on `destroy`" },
        ttl: { kind: "string", type: "duration (`72h`, `30m`; `0` never)", defaultDoc: "the registry's: `168h`", got: true,
            check: [(v) => /^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$/.test(v), "must be a duration such as 72h or 90m (or 0 to never expire)"],
            doc: "how long a cached image stays after its last fetch (registry:3 only)" },
    } },
    kubernetes: { kind: "object", optional: true, defaultDoc: "— (off)", doc: "switches Kubernetes on: needs `kubeconfig` or `context`", keys: {
        kubeconfig: { kind: "string", secret: true, type: "path or content", defaultDoc: "—", doc: "the cluster's kubeconfig" },
        context: { kind: "string", type: "name", defaultDoc: "—", doc: "a context of the ambient kubeconfig" },
        namespaces: { kind: "list", item: [(s) => K8S_NAME.test(s) && s.length <= 63, "a namespace name (lowercase letters, digits, '-')"], default: ["default"],
            type: "list of namespaces", doc: "where the pull secret goes" },
        secretName: { kind: "string", default: "regcred", type: "Kubernetes name", got: true, doc: "the pull secret's name",
            check: [(v) => K8S_NAME.test(v) && v.length <= 253, "must be a Kubernetes name: lowercase letters, digits and '-'"] },
        patchDefaultServiceAccount: { kind: "boolean", default: false, doc: "add the secret to each namespace's `default` ServiceAccount" },
        publishHostingConfigMap: { kind: "boolean", default: false, doc: "`local-registry-hosting` in `kube-public`" },
        createNamespaces: { kind: "boolean", default: false, doc: "create the namespaces that do not exist yet; destroy deletes only those, never one that was there before" },
    } },
    cluster: { kind: "object", optional: true, defaultDoc: "— (off: the docker host)", doc: "run the registry on Kubernetes (needs `kubernetes`) with S3-compatible storage, several replicas ([cluster mode](CLUSTER.md))", keys: {
        namespace: { kind: "string", default: "default", type: "Kubernetes name", got: true, check: K8S_NAME_CHECK, doc: "where its objects go (it must exist)" },
        name: { kind: "string", derived: true, type: "Kubernetes name", defaultDoc: "`registry-<stack>`", got: true, check: K8S_NAME_CHECK, doc: "name of the Deployment, Service, PodDisruptionBudget and Secrets" },
        replicas: { kind: "integer", default: 2, min: 1, max: 50, doc: "registry pods" },
        image: { kind: "string", derived: true, type: "image reference", defaultDoc: "`image`", got: true, check: [(v) => IMAGE_REF.test(v), "must be an image reference such as registry:3.1.2"], doc: "the pods' image (pulled by the kubelet, `IfNotPresent`)" },
        service: { kind: "enum", values: ["NodePort", "LoadBalancer", "ClusterIP"], default: "NodePort", doc: "how clients reach it: with NodePort, `port` is the node port (30000–32767)" },
        drainSeconds: { kind: "integer", default: 30, min: 0, max: 3600, doc: "how long a stopping pod lets uploads in flight finish" },
        cpu: { kind: "string", default: "100m", type: "quantity", got: true, check: [(v) => /^[0-9]+(\.[0-9]+)?m?$/.test(v), "must be a CPU quantity such as 100m or 1"], doc: "CPU request per pod" },
        memory: { kind: "string", default: "256Mi", type: "quantity", got: true, check: [(v) => /^[0-9]+(Ki|Mi|Gi)$/.test(v), "must be a memory quantity such as 256Mi"], doc: "memory request and limit per pod" },
        extraEnv: { kind: "map", defaultDoc: "`{}`", doc: "more `REGISTRY_*` settings for the pods (not the ones the program sets)" },
        s3: { kind: "object", defaultDoc: "—", doc: "the store", keys: {
            bucket: { kind: "string", type: "bucket name", required: "is required: an existing bucket (the registry never creates it)", got: true,
                check: [(v) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v), "must be an S3 bucket name (3-63 lowercase letters, digits, '.', '-')"], doc: "an existing bucket" },
            endpoint: { kind: "string", type: "`https://host[:port]`", defaultDoc: "AWS", got: true,
                check: [(v) => /^https?:\/\/[^\s/]+\/?$/.test(v), "must be http(s)://host[:port] with no path"], doc: "an S3-compatible store (path-style requests)" },
            region: { kind: "string", default: "us-east-1", type: "region", got: true, check: [(v) => /^[a-z0-9-]{1,40}$/.test(v), "must be a region name such as us-east-1"], doc: "signing region" },
            rootDirectory: { kind: "string", derived: true, type: "`/path`", defaultDoc: "`/<project>-<stack>`", got: true,
                check: [(v) => /^\/[A-Za-z0-9._/-]*$/.test(v), "must be an absolute key prefix such as /registry"], doc: "key prefix, so stacks can share a bucket" },
            accessKey: { kind: "string", secret: true, type: "key id", defaultDoc: "— (the pods' AWS credentials)", check: [(v) => v.length > 0 && oneLine(v), "must be one non-empty line"], doc: "access key id" },
            secretKey: { kind: "string", secret: true, type: "secret", defaultDoc: "—", check: [(v) => v.length > 0 && oneLine(v), "must be one non-empty line"], doc: "secret access key (with `accessKey`)" },
            caPem: pem("the store's CA, when its certificate is private"),
            redirect: { kind: "boolean", default: false, doc: "let clients fetch blobs from the store directly (presigned URLs): every node must reach and trust it" },
        } },
    } },
    migrate: { kind: "object", optional: true, defaultDoc: "— (off)", doc: "take over a registry container started by hand: its images, its address ([migrating](../README.md#migrating-from-the-manual-recipe))", keys: {
        fromContainer: { kind: "string", type: "container name", required: "is required: the name of the registry container to take over (e.g. registry)", got: true,
            check: DOCKER_NAME, doc: "the container on `dockerHost` whose registry data is copied; it is stopped, then removed once the new registry runs" },
        keepLogin: { kind: "boolean", default: false, doc: "its htpasswd logins keep working beside `username` (turn off and `up` to retire them)" },
    } },
    services: { kind: "objects", item: "must be an object with name and context", defaultDoc: "`[]`", doc: "images to build and push", keys: {
        name: { kind: "string", default: "", type: "repository name", defaultDoc: "required", got: true,
            check: [(v) => SERVICE_NAME.test(v), "must be a repository path: lowercase letters and digits, '.', '_', '-' separators, '/' between components"], doc: "image name" },
        context: { kind: "string", type: "folder", required: "is required (the build context folder)", doc: "build context" },
        dockerfile: { kind: "string", type: "path in context", defaultDoc: "`Dockerfile`", doc: "the Dockerfile" },
        tag: { kind: "string", default: "latest", type: "tag", got: true,
            check: [(v) => /^[\w][\w.-]{0,127}$/.test(v), "must be a tag: letters, digits, '_', '.', '-', at most 128"], doc: "image tag" },
        platform: { kind: "string", type: "`os/arch`", defaultDoc: "the docker host's own", got: true,
            check: [(v) => /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(v), "must look like linux/amd64"], doc: "the image's platform; the builder is always the docker host" },
        args: { kind: "map", defaultDoc: "`{}`", doc: "build args" },
    } },
} as const satisfies Keys;
