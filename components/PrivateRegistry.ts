import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { registryAddress, RegistrySettings } from "./config/config";
import { NodeTrust } from "./nodes/NodeTrust";
import { kubernetesProvider, PullSecret } from "./kubernetes/PullSecret";
import { RegistryCertificate } from "./identity/RegistryCertificate";
import { RegistryCluster } from "./cluster/RegistryCluster";
import { RegistryCredentials } from "./identity/RegistryCredentials";
import { RegistryServer } from "./registry/RegistryServer";
import { ServiceImages } from "./images/ServiceImages";
import { ClusterMaintenance } from "./maintenance/ClusterMaintenance";
import { RegistryMaintenance, RunnerSettings } from "./maintenance/RegistryMaintenance";

/**
 * Where the image builder (the registry's docker host) pushes: `pushAddress` if set; else the host's
 * loopback when the registry is published there; else the registry's address, which that daemon must
 * then trust (`/etc/docker/certs.d/<host:port>/ca.crt`, e.g. by listing the host as a docker node).
 */
export function pushAddress(s: RegistrySettings): string {
    if (s.pushAddress) return s.pushAddress;
    if (s.cluster) return registryAddress(s.hostname, s.port);
    if (s.bindAddresses.some((a) => a === "127.0.0.1" || a === "0.0.0.0")) return `127.0.0.1:${s.port}`;
    return registryAddress(s.hostname, s.port);
}

export interface PrivateRegistryArgs {
    settings: RegistrySettings;
    /** Names the CA and marks what is written on nodes; usually `<project>-<stack>`. */
    id: string;
}

/**
 * The whole graph: certificate and credentials feed the registry container, every node's trust and the
 * pull secret; the service images wait for the running registry.
 */
export class PrivateRegistry extends pulumi.ComponentResource {
    public readonly address: string;
    public readonly url: string;
    public readonly certificate: RegistryCertificate;
    /** The login nodes, pull secrets and consumers get: the pull login, or with `access.pullOnly` false the only one. */
    public readonly credentials: RegistryCredentials;
    /** The login that pushes (`username`): CI and the image builder. */
    public readonly pushCredentials: RegistryCredentials;
    /** The registry on the docker host, or… */
    public readonly server?: RegistryServer;
    /** …in the cluster (cluster mode). */
    public readonly cluster?: RegistryCluster;
    /** The pull-through cache of `mirror.upstream`, when configured: `host:port`, and its container. */
    public readonly mirrorAddress?: string;
    public readonly mirror?: RegistryServer;
    public readonly nodes: NodeTrust[];
    public readonly pullSecret?: PullSecret;
    public readonly images?: ServiceImages;
    /** Garbage collection and retention, with `maintenance`. */
    public readonly maintenance?: RegistryMaintenance;
    public readonly clusterMaintenance?: ClusterMaintenance;

    constructor(name: string, args: PrivateRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:PrivateRegistry", name, {}, opts);
        const s = args.settings;
        this.address = registryAddress(s.hostname, s.port);
        this.url = `https://${this.address}`;

        this.certificate = new RegistryCertificate(`${name}-tls`, {
            hostname: s.hostname, dnsNames: s.dnsNames, ipAddresses: s.ipAddresses, tls: s.tls,
            caCommonName: `${args.id} registry CA`,
        }, { parent: this });
        this.pushCredentials = new RegistryCredentials(`${name}-auth`, {
            registry: this.address, username: s.username, password: s.password,
            passwordLength: s.passwordLength, bcryptCost: s.bcryptCost,
        }, { parent: this });
        const pullOnly = s.access.pullOnly;
        this.credentials = pullOnly ? new RegistryCredentials(`${name}-pull-auth`, {
            registry: this.address, username: s.access.pullUsername, password: s.access.pullPassword,
            passwordLength: s.passwordLength, bcryptCost: s.bcryptCost,
        }, { parent: this }) : this.pushCredentials;
        const access = pullOnly ? { frontImage: s.access.frontImage, pullHtpasswd: this.credentials.htpasswd } : undefined;
        const k = s.kubernetes;
        const mt = s.maintenance;
        // the runner's rules; what it protects is known once the stack's images are built
        const runner: Omit<RunnerSettings, "protect"> | undefined = mt && {
            schedule: mt.schedule, windowMinutes: mt.windowMinutes, untaggedGraceHours: mt.untaggedGraceHours, maxDeletePercent: mt.maxDeletePercent,
            uploadAgeHours: mt.uploadAgeHours, retention: mt.retention,
        };
        if (s.cluster && k) {
            const c = s.cluster;
            const provider = kubernetesProvider(`${name}-cluster-k8s`, k, this);
            this.clusterMaintenance = mt && runner && pullOnly ? new ClusterMaintenance(`${name}-cluster-maintenance`, {
                ...runner, provider, namespace: c.namespace, name: c.name, registryImage: c.image, nodeImage: mt.nodeImage,
                s3: { bucket: c.s3.bucket, endpoint: c.s3.endpoint, region: c.s3.region, rootDirectory: c.s3.rootDirectory, redirect: c.s3.redirect,
                    keys: c.s3.accessKey !== undefined && c.s3.secretKey !== undefined, ca: c.s3.caPem !== undefined },
            }, { parent: this }) : undefined;
            const cm = this.clusterMaintenance;
            this.cluster = new RegistryCluster(`${name}-cluster`, {
                provider, namespace: c.namespace, name: c.name, replicas: c.replicas,
                image: c.image, service: c.service, port: s.port,
                certPem: this.certificate.certPem, privateKeyPem: this.certificate.privateKeyPem, htpasswd: this.pushCredentials.htpasswd, access,
                s3: c.s3, minTlsVersion: s.tls.minVersion, logLevel: s.logLevel, drainSeconds: c.drainSeconds, cpu: c.cpu, memory: c.memory,
                extraEnv: c.extraEnv, ...(cm ? { maintenance: { url: cm.url, supervisorConfigMap: cm.supervisorConfigMap } } : {}),
            }, { parent: this });
        } else {
            this.server = new RegistryServer(`${name}-server`, {
                dockerHost: s.dockerHost, dockerSshOpts: s.dockerSshOpts, image: s.image, containerName: s.containerName,
                port: s.port, bindAddresses: s.bindAddresses, dataVolume: s.dataVolume, keepVolumeName: s.dataVolumeDerived, dataHostPath: s.dataHostPath,
                certPem: this.certificate.certPem, privateKeyPem: this.certificate.privateKeyPem,
                htpasswd: this.pushCredentials.htpasswd, access, minTlsVersion: s.tls.minVersion, logLevel: s.logLevel,
                maintained: s.maintenance !== undefined,
                ...(s.migrate ? { migrate: { ...s.migrate, username: s.username } } : {}),
            }, { parent: this });
        }
        const server = this.server;
        const m = s.mirror;
        if (m && server) {
            // the same engine, image, certificate and settings; no login, its own port and cache volume
            this.mirrorAddress = registryAddress(s.hostname, m.port);
            this.mirror = new RegistryServer(`${name}-mirror`, {
                dockerHost: s.dockerHost, image: s.image, shared: { provider: server.provider, imageId: server.imageId },
                containerName: m.containerName, port: m.port, bindAddresses: m.bindAddresses, dataVolume: m.dataVolume, keepVolumeName: m.dataVolumeDerived,
                certPem: this.certificate.certPem, privateKeyPem: this.certificate.privateKeyPem,
                proxy: { remoteUrl: m.remoteUrl, username: m.username, password: m.password, ttl: m.ttl },
                minTlsVersion: s.tls.minVersion, logLevel: s.logLevel,
            }, { parent: this });
        }
        const mirrorFor = this.mirrorAddress && m ? { address: this.mirrorAddress, upstream: m.upstream, upstreamUrl: m.remoteUrl } : undefined;
        this.nodes = s.nodes.map((node) => new NodeTrust(`${name}-node-${node.name}`, {
            node, registry: this.address, hostname: s.hostname, caCertPem: this.certificate.caCertPem, id: args.id,
            mirror: node.useMirror ? mirrorFor : undefined,
        }, { parent: this, dependsOn: this.mirror ? this.mirror.containers : [] }));
        if (k) {
            this.pullSecret = new PullSecret(`${name}-k8s`, {
                kubernetes: k, registry: this.address, dockerConfigJson: this.credentials.dockerConfigJson,
            }, { parent: this });
        }
        if (s.services.length > 0) {
            this.images = new ServiceImages(`${name}-images`, {
                services: s.services, registry: this.address, pushAddress: pushAddress(s),
                username: this.pushCredentials.username, password: this.pushCredentials.password,
                // cluster mode: the docker host only builds
                provider: server?.provider ?? new docker.Provider(`${name}-builder`, {
                    host: s.dockerHost, ...(s.dockerSshOpts.length ? { sshOpts: s.dockerSshOpts } : {}),
                }, { parent: this }),
            }, { parent: this, dependsOn: server ? server.containers : [this.cluster!.service] });
        }
        // the stack's own images always stay, named as the registry knows them (no host), and maintenance.protect
        const own = this.images ? this.images.refs.apply((r) => Object.values(r).map((ref) => ref.slice(this.address.length + 1))) : pulumi.output([]);
        const protect = own.apply((a) => [...a, ...(mt?.protect ?? [])]);
        if (mt && runner && server?.writer) {
            this.maintenance = new RegistryMaintenance(`${name}-maintenance`, {
                ...runner, protect, provider: server.provider, containerName: s.containerName, registryImage: s.image, nodeImage: mt.nodeImage,
                ...(s.dataHostPath !== undefined ? { dataHostPath: s.dataHostPath } : { dataVolume: server.volumeName as pulumi.Output<string> }),
                writers: [server.writer],
            }, { parent: this, dependsOn: [...server.containers, ...(this.images ? [this.images] : [])] });
        }
        this.clusterMaintenance?.runAfter([this.cluster!.deployment, ...(this.images ? [this.images] : [])], protect);
        this.registerOutputs({});
    }
}
