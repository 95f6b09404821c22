import * as fs from "fs";
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { TlsVersion } from "../config/config";
import { MAINTENANCE } from "./frontConfig";
import { frontContainerName, RegistryFront } from "./RegistryFront";
import { RegistryMigration, withKeptLogins } from "./RegistryMigration";

export interface RegistryServerArgs {
    /** Docker engine to run on: unix:///var/run/docker.sock, tcp://…, ssh://user@host. */
    dockerHost: string;
    /** Extra ssh options for an ssh:// docker host. */
    dockerSshOpts?: string[];
    /** Registry image reference, pulled with RemoteImage (registry:2.x and registry:3.x both work)… */
    image: string;
    /** …or another RegistryServer's engine and image, for a second registry beside it. */
    shared?: { provider: docker.Provider; imageId: pulumi.Input<string> };
    containerName: string;
    /** Published port on each bind address. */
    port: number;
    bindAddresses: string[];
    /** Named volume for the registry's data (survives container replacement)… */
    dataVolume?: string;
    /**
     * Keep the volume's first name when `dataVolume` changes later: set it when the name is worked out
     * from the stack or container name, so a rename never mounts a new, empty volume.
     */
    keepVolumeName?: boolean;
    /** …or a host path on the docker host. */
    dataHostPath?: string;
    certPem: pulumi.Input<string>;
    privateKeyPem: pulumi.Input<string>;
    /** The login file; without it the registry has no login (the pull-through mirror, read-only). */
    htpasswd?: pulumi.Input<string>;
    /** Pull-through cache mode: what it caches, and the upstream login if any. */
    proxy?: ProxySettings;
    minTlsVersion: TlsVersion;
    logLevel: string;
    /**
     * Pull-only logins: `htpasswd` then holds the push logins, and this the pull login. The registry runs as
     * a read-only reader (every login) and a writer (push logins only) on the volume, reachable only on a
     * network of their own, behind an nginx front per bind address (see RegistryFront).
     */
    access?: { frontImage: string; pullHtpasswd: pulumi.Input<string> };
    /**
     * With `access`: the writer runs under the maintenance supervisor (it stops while a window is open)
     * and the reader keeps no blob cache, so nothing it serves outlives a garbage collection.
     */
    maintained?: boolean;
    /** Take over a registry container started by hand (its data, its address; see RegistryMigration). */
    migrate?: { fromContainer: pulumi.Input<string>; keepLogin: boolean; username: pulumi.Input<string> };
}

const CERT = "/certs/registry.crt";
const KEY = "/certs/registry.key";
const HTPASSWD = "/auth/htpasswd";
const DATA = "/var/lib/registry";
const SUPERVISOR = "/maint/supervise.sh";
const SUPERVISE_SH = fs.readFileSync(path.join(__dirname, "../maintenance/scripts/supervise.sh"), "utf8");
const LISTEN_PORT = 5000;

/** The registry's debug listener: loopback inside the container only, never published. */
const DEBUG_ADDR = "127.0.0.1:5001";

/**
 * The health check: any HTTP answer from /v2/ (401 when auth is on) means the registry serves. Written
 * for busybox wget, which the registry image ships and which exits non-zero on a 401. Some builds of
 * that wget cannot speak TLS 1.3; with tls.minVersion tls1.3 the registry's own /debug/health on its
 * loopback debug listener answers instead.
 */
export const HEALTHCHECK = [
    "CMD-SHELL",
    `wget -S --spider --no-check-certificate https://127.0.0.1:${LISTEN_PORT}/v2/ 2>&1 | grep -qE 'HTTP/[0-9.]+ (200|401)'` +
    ` || wget -q -O /dev/null http://${DEBUG_ADDR}/debug/health`,
];

export interface ProxySettings {
    remoteUrl: string;
    username?: string;
    password?: pulumi.Input<string>;
    /** How long a cached blob or manifest stays after its last fetch (`72h`; `0` never); unset: the registry's 168h. */
    ttl?: string;
}

/**
 * The registry's settings as environment variables, the same on the registry:2 and registry:3 lines:
 * the seed recipe's REGISTRY_* plus the TLS minimum and log level, and what the two lines' images
 * default differently, pinned: delete stays off (3's config turns it on), traces are not exported
 * (3 sends them to localhost:4318 unless told not to). Each line reads its own config file path
 * (2: /etc/docker/registry/config.yml, 3: /etc/distribution/config.yml); these override either.
 */
export function registryEnv(minTlsVersion: TlsVersion, logLevel: string,
    mode: { auth: boolean; proxy?: Omit<ProxySettings, "password">; maintenance?: string } = { auth: true }): string[] {
    return [
        ...(mode.auth ? ["REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm", `REGISTRY_AUTH_HTPASSWD_PATH=${HTPASSWD}`] : []),
        ...(mode.proxy ? [`REGISTRY_PROXY_REMOTEURL=${mode.proxy.remoteUrl}`] : []),
        ...(mode.proxy?.username !== undefined ? [`REGISTRY_PROXY_USERNAME=${mode.proxy.username}`] : []),
        ...(mode.proxy?.ttl !== undefined ? [`REGISTRY_PROXY_TTL=${mode.proxy.ttl}`] : []),
        // A mirror expires its cache through the storage's delete, which fails while delete is off (so it
        // would grow forever); its API refuses every DELETE in proxy mode anyway. A registry keeps it off.
        `REGISTRY_STORAGE_DELETE_ENABLED=${mode.proxy ? "true" : "false"}`,
        ...(mode.maintenance !== undefined ? [`REGISTRY_STORAGE_MAINTENANCE=${mode.maintenance}`] : []),
        "OTEL_TRACES_EXPORTER=none",
        `REGISTRY_HTTP_ADDR=0.0.0.0:${LISTEN_PORT}`,
        `REGISTRY_HTTP_TLS_CERTIFICATE=${CERT}`,
        `REGISTRY_HTTP_TLS_KEY=${KEY}`,
        `REGISTRY_HTTP_TLS_MINIMUMTLS=${minTlsVersion}`,
        `REGISTRY_LOG_LEVEL=${logLevel}`,
        `REGISTRY_HTTP_DEBUG_ADDR=${DEBUG_ADDR}`,
    ];
}

/**
 * Where the mirror container on a further bind address keeps its cache, inside the shared volume. Each
 * proxy runs a TTL scheduler that rewrites its cache's whole scheduler-state.json, so two on one cache
 * would drop each other's entries (and those blobs would never expire): one cache per scheduler. The
 * first address keeps the volume's root, where the cache has always been.
 */
export function proxyCacheDir(ip: string): string {
    return `${DATA}/by-address/${ip.replace(/[.:]/g, "-")}`;
}

/**
 * DOCKER_CONTEXT (other than `default`) redirects the provider's containers, volumes and image pulls
 * to that context's engine but not its image builds, which go to `dockerHost`: two engines in one
 * stack. Refused, with what to do instead.
 */
export function dockerContextProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
    const ctx = env.DOCKER_CONTEXT;
    if (!ctx || ctx === "default") return undefined;
    return `DOCKER_CONTEXT is set to "${ctx}": the docker provider would run the registry there but build images on ` +
        "private-registry:dockerHost. Unset DOCKER_CONTEXT and set private-registry:dockerHost to that context's endpoint " +
        "(`docker context inspect --format '{{.Endpoints.docker.Host}}'`).";
}

/**
 * The registry container on a docker host: the pinned image, a data volume, and the certificate, key and
 * htpasswd as uploads (no host paths to manage). Any of those changing replaces the container, delete
 * first; the data stays on the volume.
 */
export class RegistryServer extends pulumi.ComponentResource {
    public readonly provider: docker.Provider;
    /** The container on the first bind address (named `containerName`). */
    public readonly container: docker.Container;
    /** What publishes the port: one per bind address, in their order (the fronts, with `access`). */
    public readonly containers: docker.Container[];
    public readonly containerName: pulumi.Output<string>;
    public readonly imageId: pulumi.Output<string>;
    public readonly volumeName: pulumi.Output<string | undefined>;
    /** The take-over of a container started by hand, with `migrate`. */
    public readonly migration?: RegistryMigration;
    /** With `access`: the read-only registry, the writer and the nginx front that publishes them. */
    public readonly reader?: docker.Container;
    public readonly writer?: docker.Container;
    public readonly front?: RegistryFront;

    constructor(name: string, args: RegistryServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryServer", name, {}, opts);
        const problem = dockerContextProblem();
        if (problem) throw new pulumi.ResourceError(problem, this);
        // explicit, so nothing silently targets DOCKER_HOST
        this.provider = args.shared?.provider ?? new docker.Provider(`${name}-docker`, {
            host: args.dockerHost,
            ...(args.dockerSshOpts?.length ? { sshOpts: args.dockerSshOpts } : {}),
        }, { parent: this });
        const childOpts = { parent: this, provider: this.provider };
        const containerNames = args.bindAddresses.map((ip, i) => (i === 0 ? args.containerName : `${args.containerName}-${ip.replace(/[.:]/g, "-")}`));
        // a take-over is checked before anything is made on the docker host
        const migration = args.migrate ? new RegistryMigration(`${name}-migrate`, {
            dockerHost: args.dockerHost, fromContainer: args.migrate.fromContainer, keepLogin: args.migrate.keepLogin,
            username: args.migrate.username, target: args.dataVolume ?? args.dataHostPath!, targetContainers: containerNames,
        }, { parent: this }) : undefined;
        this.migration = migration;
        const checked = migration ? { dependsOn: migration.checked } : {};
        const image = args.shared ? undefined : new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { ...childOpts, ...checked });
        const imageId = image ? image.imageId : pulumi.output(args.shared!.imageId);
        const volume = args.dataVolume !== undefined
            ? new docker.Volume(`${name}-data`, { name: args.dataVolume }, {
                ...childOpts, ...checked, retainOnDelete: true, ...(args.keepVolumeName ? { ignoreChanges: ["name"] } : {}),
            })
            : undefined;
        migration?.copyAfter([...(volume ? [volume] : []), ...(image ? [image] : [])]);
        const htpasswd = args.htpasswd !== undefined && migration
            ? pulumi.all([args.htpasswd, migration.keptLogins]).apply(([own, kept]) => withKeptLogins(own, kept))
            : args.htpasswd;
        // a shared secret for the registry's upload state; unset, each start would pick a random one
        const httpSecret = new random.RandomPassword(`${name}-http-secret`, { length: 32, special: false }, { parent: this });

        const volumeMount = (readOnly: boolean) => [volume
            ? { volumeName: volume.name, containerPath: DATA, readOnly }
            : { hostPath: args.dataHostPath, containerPath: DATA, readOnly }];
        // a take-over: the old registry's data is copied first; it stops right before the container that takes its
        // address starts, and should that container not start, it is started again
        const takeover = migration ? {
            dependsOn: [migration.copy],
            hooks: { beforeCreate: [migration.takeoverHook], beforeUpdate: [migration.takeoverHook], onError: [migration.restoreHook] },
        } : {};
        const registry = (resName: string, c: { name: string; ip?: string; index: number; htpasswd?: pulumi.Input<string>; readOnly?: boolean; network?: pulumi.Input<string>; supervised?: boolean; noCache?: boolean },
            extra: pulumi.CustomResourceOptions = {}) => new docker.Container(resName, {
            name: c.name,
            image: imageId,
            restart: "always",
            networkMode: c.network ?? "bridge",
            envs: pulumi.secret(pulumi.all([httpSecret.result, args.proxy?.password]).apply(([s, upstreamPassword]) => [
                ...registryEnv(args.minTlsVersion, args.logLevel, {
                    auth: c.htpasswd !== undefined, proxy: args.proxy,
                    ...(args.proxy ? {} : { maintenance: c.readOnly ? MAINTENANCE.reader : MAINTENANCE.writer }),
                }),
                ...(upstreamPassword !== undefined ? [`REGISTRY_PROXY_PASSWORD=${upstreamPassword}`] : []),
                ...(args.proxy && c.index > 0 ? [`REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=${proxyCacheDir(c.ip!)}`] : []),
                `REGISTRY_HTTP_SECRET=${s}`,
                // an unknown cache type turns the blob descriptor cache off (both lines)
                ...(c.noCache ? ["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR=none"] : []),
            ])),
            ...(c.supervised ? { entrypoints: ["/bin/sh", SUPERVISOR], hostname: c.name } : {}),
            // behind a front, reachable on its network only
            ports: c.ip !== undefined ? [{ internal: LISTEN_PORT, external: args.port, ip: c.ip, protocol: "tcp" }] : [],
            volumes: volumeMount(c.readOnly ?? false),
            uploads: [
                { file: CERT, content: args.certPem, permissions: "0644" },
                { file: KEY, content: pulumi.secret(args.privateKeyPem), permissions: "0600" },
                ...(c.htpasswd !== undefined ? [{ file: HTPASSWD, content: pulumi.secret(c.htpasswd), permissions: "0600" }] : []),
                ...(c.supervised ? [{ file: SUPERVISOR, content: SUPERVISE_SH, permissions: "0755" }] : []),
            ],
            healthcheck: { tests: HEALTHCHECK, interval: "5s", timeout: "3s", retries: 3, startPeriod: "5s" },
            wait: true,
            waitTimeout: 60,
            mustRun: true,
        }, {
            ...childOpts,
            // the name and the published port are taken until the old container is gone
            deleteBeforeReplace: true,
            // docker ignores a changed health check on an existing container
            replaceOnChanges: ["healthcheck"],
            additionalSecretOutputs: ["envs", "uploads"],
            ...extra,
        });

        const containerResourceNames = args.bindAddresses.map((ip, i) => (i === 0 ? `${name}-container` : `${name}-container-${ip}`));
        const frontName = `${name}-front`;
        if (args.access) {
            const a = args.access;
            const network = new docker.Network(`${name}-network`, { name: `${args.containerName}-net` }, { ...childOpts, ...checked });
            const pushUsers = htpasswd!;
            const allUsers = pulumi.all([a.pullHtpasswd, pushUsers]).apply(([pull, push]) => pull + push);
            const checkedFirst = migration ? { dependsOn: [migration.copy] } : {};
            this.reader = registry(`${name}-reader`, { name: `${args.containerName}-reader`, index: 0, htpasswd: allUsers, readOnly: true, network: network.name, noCache: args.maintained }, checkedFirst);
            this.writer = registry(`${name}-writer`, { name: `${args.containerName}-writer`, index: 0, htpasswd: pushUsers, network: network.name, supervised: args.maintained }, checkedFirst);
            this.front = new RegistryFront(frontName, {
                provider: this.provider, image: a.frontImage, network: network.name, containerNames, port: args.port, bindAddresses: args.bindAddresses,
                reader: this.reader, writer: this.writer, certPem: args.certPem, privateKeyPem: args.privateKeyPem,
                pullUsers: allUsers, pushUsers, minTlsVersion: args.minTlsVersion, takeover: migration ? takeover : undefined, checked,
                // the containers that published the address before two logins: replaced (deleted first), not created beside them
                formerly: { parent: this, names: containerResourceNames },
            }, { parent: this });
            this.containers = this.front.containers;
        } else {
            // One container per bind address, each publishing one binding: the provider compares `ports` as an
            // ordered list, and dockerd reads several bindings of one port back in reverse, so a single
            // container with two bindings would be replaced on every up. They share the volume, the
            // certificate, the htpasswd and the HTTP secret, as replicas of one registry do.
            // a stack going back to one login: its fronts are replaced by these (deleted first)
            const front = pulumi.createUrn(frontName, "private-registry:index:RegistryFront", this);
            this.containers = args.bindAddresses.map((ip, i) => registry(containerResourceNames[i], { name: containerNames[i], ip, index: i, htpasswd },
                { ...takeover, aliases: [{ name: frontContainerName(frontName, ip, i), parent: front }] }));
        }
        migration?.retireAfter(this.containers);
        this.container = this.containers[0];
        this.containerName = this.container.name;
        this.imageId = imageId;
        this.volumeName = volume ? volume.name : pulumi.output(undefined);
        this.registerOutputs({ containerName: this.containerName, imageId: this.imageId, volumeName: this.volumeName });
    }
}
