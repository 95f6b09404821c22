import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { AUTH_DIR, CERT_DIR, CLUSTER_PORT, clusterEnv, ClusterEnvOptions, S3_CA_DIR, SECRET_KEYS, yamlString } from "./clusterEnv";
import { FRONT_FILES, frontConfig } from "../registry/frontConfig";
import { messageAlone } from "../kubernetes/PullSecret";

export interface RegistryClusterArgs {
    /** The cluster's provider (its kubeconfig or context). */
    provider: k8s.Provider;
    namespace: pulumi.Input<string>;
    /** Name of the Deployment, Service, PodDisruptionBudget and Secrets. */
    name: string;
    replicas: number;
    image: pulumi.Input<string>;
    /** NodePort (`port` is the node port), LoadBalancer or ClusterIP (`port` is the Service's port). */
    service: "NodePort" | "LoadBalancer" | "ClusterIP";
    port: number;
    certPem: pulumi.Input<string>;
    privateKeyPem: pulumi.Input<string>;
    /** The push logins; with `access`, the pull login is apart (see RegistryServer's `access`). */
    htpasswd: pulumi.Input<string>;
    /** Pull-only logins: each pod runs a read-only reader and a writer on loopback behind an nginx front. */
    access?: { frontImage: pulumi.Input<string>; pullHtpasswd: pulumi.Input<string> };
    s3: {
        bucket: string; endpoint?: string; region: string; rootDirectory: string; redirect: boolean;
        accessKey?: pulumi.Input<string>; secretKey?: pulumi.Input<string>; caPem?: pulumi.Input<string>;
    };
    minTlsVersion: "tls1.2" | "tls1.3";
    logLevel: string;
    drainSeconds: number;
    cpu: string;
    memory: string;
    extraEnv?: Record<string, string>;
    /**
     * With `access`: the writer runs under the maintenance supervisor, which polls the runner at `url`
     * (supervise.sh from the ConfigMap), and the reader keeps no blob cache.
     */
    maintenance?: { url: pulumi.Input<string>; supervisorConfigMap: pulumi.Input<string> };
}

/** `bash -c <script> s3check.sh check`: the store, checked where pulumi runs (at preview too). */
export const S3CHECK_INTERPRETER = ["/bin/bash", "-c", fs.readFileSync(path.join(__dirname, "scripts", "s3check.sh"), "utf8"), "s3check.sh"];

/** What s3check.sh printed: the problem, if any (a note is not one: the pods' readiness checks the store too). */
export function readStoreCheck(stdout: string): { problem?: string; note?: string } {
    const line = stdout.trim().split("\n").pop() ?? "";
    if (line.startsWith("fail ")) return { problem: line.slice(5) };
    if (line.startsWith("note ")) return { note: line.slice(5) };
    return line === "ok" ? {} : { problem: `private-registry:cluster.s3: the store check gave no answer (${line || "nothing"})` };
}

/** Seconds before a Deployment that does not turn Available fails the `up`. */
export const ROLLOUT_TIMEOUT_SECONDS = 150;
const LABEL = "app.kubernetes.io/instance";
/** Behind a front, the reader and the writer listen on the pod's loopback only. */
const READER = { addr: "127.0.0.1:5002", debug: "127.0.0.1:5012" };
const WRITER = { addr: "127.0.0.1:5003", debug: "127.0.0.1:5013" };

/**
 * The registry as a Kubernetes workload on S3-compatible storage: a Deployment of replicas that share one
 * HTTP secret (an upload may start on one and finish on another), a Service, a PodDisruptionBudget, and
 * Secrets that the pods read by reference (nothing secret in the Deployment's spec). A changed certificate,
 * login or store setting rolls the pods (an annotation keyed with the HTTP secret, so it reveals nothing).
 * Rollouts never drop below the wanted replicas, and a rollout whose pods do not turn ready (a broken
 * store) fails the `up` with the old pods still serving.
 */
export class RegistryCluster extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    /** `namespace/name` of the Service. */
    public readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: RegistryClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryCluster", name, {}, opts);
        const labels = { [LABEL]: args.name, "app.kubernetes.io/name": "registry", "app.kubernetes.io/managed-by": "private-registry" };
        const selector = { [LABEL]: args.name };
        const metadata = (suffix = "") => ({ name: `${args.name}${suffix}`, namespace: args.namespace, labels });
        const s3 = args.s3;
        const keys = s3.accessKey !== undefined && s3.secretKey !== undefined;

        // The store, checked before anything is made (an invoke, so at preview too): a wrong bucket, key,
        // region or CA fails naming its key. The pods' readiness checks it again from where they run.
        const checked = s3.endpoint === undefined ? pulumi.output([]) : command.local.runOutput({
            interpreter: S3CHECK_INTERPRETER, command: "check", logging: "none",
            environment: { ENDPOINT: s3.endpoint, REGION: s3.region, BUCKET: s3.bucket, PREFIX: s3.rootDirectory, ...(s3.caPem !== undefined ? { CA_PEM: s3.caPem } : {}) },
            stdin: pulumi.secret(pulumi.all([s3.accessKey ?? "", s3.secretKey ?? ""]).apply(([a, k]) => `${a}\n${k}\n`)),
        }, { parent: this }).stdout.apply((out) => {
            const r = readStoreCheck(out);
            if (r.problem) throw messageAlone(r.problem, this);
            if (r.note) void pulumi.log.warn(r.note, this);
            return [] as pulumi.Resource[];
        });
        const childOpts = { parent: this, provider: args.provider, dependsOn: checked };

        // one secret for every replica and every rollout, kept in state
        const httpSecret = new random.RandomPassword(`${name}-http-secret`, { length: 32, special: false }, { parent: this }).result;
        const tls = new k8s.core.v1.Secret(`${name}-tls`, {
            metadata: metadata("-tls"), type: "kubernetes.io/tls",
            stringData: { "tls.crt": args.certPem, "tls.key": pulumi.secret(args.privateKeyPem) },
        }, childOpts);
        const secret = new k8s.core.v1.Secret(`${name}-secret`, {
            metadata: metadata(), type: "Opaque",
            stringData: pulumi.secret(pulumi.all([args.htpasswd, args.access?.pullHtpasswd, httpSecret, s3.accessKey, s3.secretKey]).apply(([htpasswd, pull, http, ak, sk]) => ({
                // with access: every login reads, the push logins write
                [SECRET_KEYS.htpasswd]: (pull ?? "") + htpasswd, [SECRET_KEYS.httpSecret]: http,
                ...(args.access ? { [SECRET_KEYS.pushHtpasswd]: htpasswd } : {}),
                // the registry reads storage parameters as YAML: quoted, a digits-only key stays a string
                ...(keys ? { [SECRET_KEYS.accessKey]: yamlString(ak!), [SECRET_KEYS.secretKey]: yamlString(sk!) } : {}),
            }))),
        }, childOpts);
        const ca = s3.caPem !== undefined
            ? new k8s.core.v1.ConfigMap(`${name}-s3-ca`, { metadata: metadata("-s3-ca"), data: { "ca.crt": s3.caPem } }, childOpts)
            : undefined;

        const envOf = (role: Partial<ClusterEnvOptions>) => clusterEnv({
            secretName: args.name, minTlsVersion: args.minTlsVersion, logLevel: args.logLevel, drainSeconds: args.drainSeconds,
            s3: { bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, rootDirectory: s3.rootDirectory, redirect: s3.redirect, keys, ca: ca !== undefined },
            extraEnv: args.extraEnv, ...role,
        });
        const env = args.access ? envOf({ addr: READER.addr, debugAddr: READER.debug, readOnly: true, noCache: args.maintenance !== undefined }) : envOf({});
        const writerEnv = envOf({ addr: WRITER.addr, debugAddr: WRITER.debug });
        const frontText = frontConfig({
            port: CLUSTER_PORT, reader: READER.addr, writer: WRITER.addr, certFile: `${CERT_DIR}/tls.crt`, keyFile: `${CERT_DIR}/tls.key`, minTlsVersion: args.minTlsVersion,
        });
        const front = args.access
            ? new k8s.core.v1.ConfigMap(`${name}-front`, { metadata: metadata("-front"), data: { [path.basename(FRONT_FILES.config)]: frontText } }, childOpts)
            : undefined;
        // what the pods read at start, hashed with the HTTP secret as key: a change rolls them, the value reveals nothing
        const configHash = pulumi.secret(pulumi.all([httpSecret, args.certPem, args.privateKeyPem, args.htpasswd, args.access?.pullHtpasswd, s3.accessKey, s3.secretKey, s3.caPem])
            .apply(([key, ...parts]) => crypto.createHmac("sha256", key).update(JSON.stringify([parts, env, args.access ? [writerEnv, frontText] : []])).digest("hex")));

        const hardened = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };
        // GET / answers 200, or 503 once the storage check fails: ready follows the store
        const readinessProbe = { httpGet: { scheme: "HTTPS", path: "/", port: CLUSTER_PORT }, periodSeconds: 3, timeoutSeconds: 2, failureThreshold: 2 };
        // alive while it listens: a store outage turns pods unready, it never restarts them all
        const livenessProbe = { tcpSocket: { port: CLUSTER_PORT }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 6 };
        // the registry itself, or (behind a front, on loopback) the reader and the writer
        const registry = (containerName: string, containerEnv: typeof env, auth: string, behindFront: boolean) => ({
            name: containerName,
            image: args.image,
            imagePullPolicy: "IfNotPresent",
            // on the pod's address with the probes; behind the front on loopback, which no probe reaches (a registry that
            // exits is restarted; the front's readiness follows the reader's store check)
            ...(behindFront ? {} : { ports: [{ name: "https", containerPort: CLUSTER_PORT }], readinessProbe, livenessProbe }),
            env: containerEnv,
            resources: { requests: { cpu: args.cpu, memory: args.memory }, limits: { memory: args.memory } },
            securityContext: hardened,
            // the endpoints go first, then the registry drains for drainSeconds
            lifecycle: { preStop: { sleep: { seconds: 5 } } },
            volumeMounts: [
                { name: "tls", mountPath: CERT_DIR, readOnly: true },
                { name: auth, mountPath: AUTH_DIR, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
                ...(ca ? [{ name: "s3-ca", mountPath: S3_CA_DIR, readOnly: true }] : []),
            ],
        });
        const m = args.maintenance;
        // the writer under the maintenance supervisor: it stops while the runner holds a window open
        const supervised = (c: ReturnType<typeof registry>) => m ? {
            ...c, command: ["/bin/sh", "/maint/supervise.sh"], env: [...c.env, { name: "MAINT_URL", value: m.url }],
            volumeMounts: [...c.volumeMounts, { name: "supervisor", mountPath: "/maint", readOnly: true }],
        } : c;
        this.deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata: metadata(),
            spec: {
                replicas: args.replicas,
                selector: { matchLabels: selector },
                // a new pod counts only once it has been ready for longer than two storage health checks
                minReadySeconds: 15,
                progressDeadlineSeconds: ROLLOUT_TIMEOUT_SECONDS - 30,
                strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
                template: {
                    metadata: { labels, annotations: { "private-registry.io/config-hash": pulumi.unsecret(configHash) } },
                    spec: {
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        terminationGracePeriodSeconds: args.drainSeconds + 15,
                        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } }],
                        containers: [
                            ...(args.access ? [{
                                name: "front",
                                image: args.access.frontImage,
                                imagePullPolicy: "IfNotPresent",
                                command: ["nginx", "-c", FRONT_FILES.config],
                                ports: [{ name: "https", containerPort: CLUSTER_PORT }],
                                resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                                securityContext: hardened,
                                // the reader's GET / through the front: ready follows the store and the front
                                readinessProbe, livenessProbe,
                                // the endpoints go first, then nginx stops taking requests and finishes the ones in flight
                                lifecycle: { preStop: { exec: { command: ["/bin/sh", "-c", `sleep 5; nginx -c ${FRONT_FILES.config} -s quit; while [ -e /tmp/nginx.pid ]; do sleep 1; done`] } } },
                                volumeMounts: [
                                    { name: "tls", mountPath: CERT_DIR, readOnly: true },
                                    { name: "front-auth", mountPath: path.dirname(FRONT_FILES.pullUsers), readOnly: true },
                                    { name: "front", mountPath: path.dirname(FRONT_FILES.config), readOnly: true },
                                    { name: "tmp", mountPath: "/tmp" },
                                ],
                            }] : []),
                            registry("registry", env, "auth", args.access !== undefined),
                            ...(args.access ? [supervised(registry("writer", writerEnv, "push-auth", true))] : []),
                        ],
                        volumes: [
                            { name: "tls", secret: { secretName: tls.metadata.name, defaultMode: 0o440 } },
                            { name: "auth", secret: { secretName: secret.metadata.name, items: [{ key: SECRET_KEYS.htpasswd, path: "htpasswd" }], defaultMode: 0o440 } },
                            { name: "tmp", emptyDir: {} },
                            ...(ca ? [{ name: "s3-ca", configMap: { name: ca.metadata.name } }] : []),
                            ...(m ? [{ name: "supervisor", configMap: { name: m.supervisorConfigMap, defaultMode: 0o555 } }] : []),
                            ...(front ? [
                                { name: "push-auth", secret: { secretName: secret.metadata.name, items: [{ key: SECRET_KEYS.pushHtpasswd, path: "htpasswd" }], defaultMode: 0o440 } },
                                { name: "front-auth", secret: { secretName: secret.metadata.name, defaultMode: 0o440, items: [
                                    { key: SECRET_KEYS.htpasswd, path: path.basename(FRONT_FILES.pullUsers) }, { key: SECRET_KEYS.pushHtpasswd, path: path.basename(FRONT_FILES.pushUsers) }] } },
                                { name: "front", configMap: { name: front.metadata.name } },
                            ] : []),
                        ],
                    },
                },
            },
        }, { ...childOpts, dependsOn: [tls, secret, ...(ca ? [ca] : []), ...(front ? [front] : [])], customTimeouts: { create: `${ROLLOUT_TIMEOUT_SECONDS}s`, update: `${ROLLOUT_TIMEOUT_SECONDS}s` } });

        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: metadata(),
            spec: {
                type: args.service,
                selector,
                ports: [{
                    name: "https", port: args.service === "NodePort" ? CLUSTER_PORT : args.port, targetPort: CLUSTER_PORT, protocol: "TCP",
                    ...(args.service === "NodePort" ? { nodePort: args.port } : {}),
                }],
            },
        }, { ...childOpts, dependsOn: [this.deployment] });
        new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
            metadata: metadata(),
            // one pod at a time; a pod that is not ready may always go (a drain never waits on a broken one)
            spec: { maxUnavailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: "AlwaysAllow" },
        }, childOpts);
        this.serviceName = pulumi.interpolate`${this.service.metadata.namespace}/${this.service.metadata.name}`;
        this.registerOutputs({ serviceName: this.serviceName });
    }
}
