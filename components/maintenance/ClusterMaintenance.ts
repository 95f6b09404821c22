import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { clusterEnv, ClusterEnvOptions, S3_CA_DIR } from "../cluster/clusterEnv";
import { runnerConfig, RunnerSettings } from "./RegistryMaintenance";

export interface ClusterMaintenanceArgs extends Omit<RunnerSettings, "protect"> {
    provider: k8s.Provider;
    namespace: pulumi.Input<string>;
    /** The registry's name in the cluster (its Secret and its store's CA ConfigMap are named after it). */
    name: string;
    /** The registry image: the runner copies its `registry` binary at start. */
    registryImage: pulumi.Input<string>;
    nodeImage: pulumi.Input<string>;
    /** The store, as the registry pods are given it. */
    s3: ClusterEnvOptions["s3"];
}

/** Where the runner serves the window to the writers, and its on-demand trigger (the pod's loopback). */
export const WINDOW_PORT = 8080;
const RUNNER_DIR = path.join(__dirname, "runner");
const SUPERVISE = fs.readFileSync(path.join(__dirname, "scripts", "supervise.sh"), "utf8");
const LABEL = "app.kubernetes.io/instance";
/** What the runner pod needs of the registry pods' environment: the store, nothing of TLS, logins or HTTP. */
const STORE_ENV = /^(REGISTRY_STORAGE($|_S3_)|SSL_CERT_DIR$)/;

/**
 * Maintenance in cluster mode: a one-replica Deployment whose runner keeps the schedule, holds the read-only
 * window in memory and serves it on a ClusterIP Service that every registry pod's writer supervisor polls
 * (the store is S3: no folder is shared). Made in two steps: the Service and the scripts first (the
 * registry pods need the Service's address), the runner once the registry is up (`runAfter`).
 */
export class ClusterMaintenance extends pulumi.ComponentResource {
    /** `http://<clusterIP>:8080`, for the writers' MAINT_URL (a ClusterIP: no cluster DNS needed). */
    public readonly url: pulumi.Output<string>;
    /** The ConfigMap holding supervise.sh (key `supervise.sh`), which the writers run. */
    public readonly supervisorConfigMap: pulumi.Output<string>;
    public readonly deploymentName: string;
    private readonly args: ClusterMaintenanceArgs;

    constructor(name: string, args: ClusterMaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:ClusterMaintenance", name, {}, opts);
        this.args = args;
        this.deploymentName = `${args.name}-maintenance`;
        const labels = { [LABEL]: this.deploymentName, "app.kubernetes.io/name": "registry-maintenance", "app.kubernetes.io/managed-by": "private-registry" };
        const metadata = { name: this.deploymentName, namespace: args.namespace, labels };
        const childOpts = { parent: this, provider: args.provider };
        const supervisor = new k8s.core.v1.ConfigMap(`${name}-supervisor`, {
            metadata: { ...metadata, name: `${this.deploymentName}-supervisor` }, data: { "supervise.sh": SUPERVISE },
        }, childOpts);
        const service = new k8s.core.v1.Service(`${name}-service`, {
            metadata, spec: { type: "ClusterIP", selector: { [LABEL]: this.deploymentName }, ports: [{ name: "window", port: WINDOW_PORT, targetPort: WINDOW_PORT, protocol: "TCP" }] },
        }, childOpts);
        this.url = pulumi.interpolate`http://${service.spec.clusterIP}:${WINDOW_PORT}`;
        this.supervisorConfigMap = supervisor.metadata.name;
        this.registerOutputs({ url: this.url });
    }

    /**
     * The runner's files and its Deployment, once `after` (the registry, the stack's images) exists: it reads
     * the registry's Secret and store CA, and protects the images.
     */
    runAfter(after: pulumi.Resource[], protect: RunnerSettings["protect"]): k8s.apps.v1.Deployment {
        const a = this.args;
        const labels = { [LABEL]: this.deploymentName };
        const files = Object.fromEntries(fs.readdirSync(RUNNER_DIR).filter((f) => f.endsWith(".mjs")).map((f) => [f, fs.readFileSync(path.join(RUNNER_DIR, f), "utf8")]));
        const configMap = new k8s.core.v1.ConfigMap(`${this.deploymentName}-files`, {
            metadata: { name: this.deploymentName, namespace: a.namespace, labels },
            data: runnerConfig({ ...a, protect }, []).apply((config) => ({ ...files, "config.json": config })),
        }, { parent: this, provider: a.provider, dependsOn: after });
        const env = clusterEnv({ secretName: a.name, minTlsVersion: "tls1.2", logLevel: "info", drainSeconds: 0, s3: a.s3 }).filter((e) => STORE_ENV.test(e.name));
        const hardened = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };
        return new k8s.apps.v1.Deployment(`${this.deploymentName}`, {
            metadata: { name: this.deploymentName, namespace: a.namespace, labels },
            spec: {
                replicas: 1,
                selector: { matchLabels: labels },
                // one runner at a time: it holds the window
                strategy: { type: "Recreate" },
                template: {
                    // a changed runner or configuration restarts it
                    metadata: { labels, annotations: { "private-registry.io/config-hash": configMap.metadata.resourceVersion } },
                    spec: {
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                        initContainers: [{
                            name: "registry-binary", image: a.registryImage, imagePullPolicy: "IfNotPresent", securityContext: hardened,
                            command: ["/bin/sh", "-c", "cp /bin/registry /maint-bin/registry"],
                            volumeMounts: [{ name: "bin", mountPath: "/maint-bin" }],
                        }],
                        containers: [{
                            name: "runner", image: a.nodeImage, imagePullPolicy: "IfNotPresent", securityContext: hardened,
                            command: ["node", "/maint/runner.mjs", "serve"],
                            ports: [{ name: "window", containerPort: WINDOW_PORT }],
                            env: [
                                ...env,
                                { name: "MAINT_WINDOW_PORT", value: String(WINDOW_PORT) }, { name: "MAINT_STATE_DIR", value: "/tmp/maint" },
                                { name: "MAINT_REGISTRY", value: "/maint-bin/registry" }, { name: "MAINT_CONFIG", value: "/maint/config.json" },
                                ...(a.s3.ca ? [{ name: "NODE_EXTRA_CA_CERTS", value: `${S3_CA_DIR}/ca.crt` }] : []),
                            ],
                            resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                            volumeMounts: [
                                { name: "files", mountPath: "/maint", readOnly: true }, { name: "bin", mountPath: "/maint-bin", readOnly: true },
                                { name: "tmp", mountPath: "/tmp" }, ...(a.s3.ca ? [{ name: "s3-ca", mountPath: S3_CA_DIR, readOnly: true }] : []),
                            ],
                        }],
                        volumes: [
                            { name: "files", configMap: { name: configMap.metadata.name } }, { name: "bin", emptyDir: {} }, { name: "tmp", emptyDir: {} },
                            ...(a.s3.ca ? [{ name: "s3-ca", configMap: { name: `${a.name}-s3-ca` } }] : []),
                        ],
                    },
                },
            },
        }, { parent: this, provider: a.provider, dependsOn: after });
    }
}
