import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { KubernetesSettings } from "./config";

export interface PullSecretArgs {
    kubernetes: KubernetesSettings;
    /** `host:port` of the registry, for the KEP-1755 hosting ConfigMap. */
    registry: string;
    /** The docker config.json to store as `.dockerconfigjson` (secret). */
    dockerConfigJson: pulumi.Input<string>;
}

/** Namespaces every cluster has: never created, never deleted. */
const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
const SCRIPT = fs.readFileSync(path.join(__dirname, "scripts", "kubernetes.sh"), "utf8");
/** The script with its mode fixed (the command's interpreter is `bash -c`, so it gets no arguments). */
const withMode = (mode: string): string => SCRIPT.replace(/^mode=.*$/m, `mode=${mode}`);

/** The `local-registry-hosting` ConfigMap body (KEP-1755). */
export function hostingConfigMapData(registry: string): Record<string, string> {
    return {
        "localRegistryHosting.v1": `host: "${registry}"\nhelp: "https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry"\n`,
    };
}

/** Whether a kubeconfig setting names a file rather than holding the content. */
export function isKubeconfigPath(kubeconfig: string): boolean {
    return !kubeconfig.includes("\n") && !kubeconfig.trimStart().startsWith("{");
}

/**
 * The Kubernetes side: a `kubernetes.io/dockerconfigjson` secret in each namespace, optionally named in
 * each namespace's `default` ServiceAccount so pods need no edit, and optionally the KEP-1755
 * `local-registry-hosting` ConfigMap in kube-public. Objects that exist already (the recipe's
 * `regcred`, kind's ConfigMap) are taken over; destroy deletes them.
 */
export class PullSecret extends pulumi.ComponentResource {
    /** namespace → secret name. */
    public readonly secretNames: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: PullSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:PullSecret", name, {}, opts);
        const k = args.kubernetes;
        // the kubeconfig stays a secret (the provider's schema does not mark it one)
        const kubeconfig = k.kubeconfig !== undefined ? pulumi.secret(k.kubeconfig) : undefined;
        const provider = new k8s.Provider(`${name}-k8s`, {
            ...(kubeconfig !== undefined ? { kubeconfig } : {}),
            ...(k.context !== undefined ? { context: k.context } : {}),
            // a changed password updates the secret in place instead of delete-and-recreate
            enableSecretMutable: true,
            enableConfigMapMutable: true,
        }, { parent: this });
        const childOpts = { parent: this, provider };
        // take over an object someone made by hand (e.g. `kubectl create secret`) instead of failing
        const takeOver = { "pulumi.com/patchForce": "true" };

        // kubectl, where a step needs it: the kubeconfig's content on stdin, a path in the environment
        const kubectl = (step: string, mode: string, environment: Record<string, string>, deps: pulumi.Resource[]) => {
            const cluster = pulumi.output(kubeconfig ?? "").apply((c) => (c && isKubeconfigPath(c) ? { path: c, content: "" } : { path: "", content: c }));
            const env = pulumi.all([environment, cluster]).apply(([e, c]) => ({
                ...e, ...(c.path ? { KUBECONFIG_PATH: c.path } : {}), ...(k.context ? { KUBE_CONTEXT: k.context } : {}),
            }));
            return new command.local.Command(`${name}-${step}`, {
                interpreter: ["/bin/bash", "-c"],
                create: withMode(mode),
                ...(mode === "add" ? { delete: withMode("remove") } : {}),
                environment: env,
                stdin: pulumi.secret(cluster.apply((c) => c.content)),
                addPreviousOutputInEnv: false,
                triggers: [JSON.stringify(environment)],
            }, { parent: this, dependsOn: deps, additionalSecretOutputs: ["stdin"] });
        };

        const ours = k.namespaces.filter((ns) => k.createNamespaces && !SYSTEM_NAMESPACES.includes(ns));
        const created = ours.map((ns) => new k8s.core.v1.Namespace(`${name}-ns-${ns}`, {
            metadata: { name: ns, labels: { "app.kubernetes.io/managed-by": "private-registry" } },
        }, childOpts));
        const others = k.namespaces.filter((ns) => !ours.includes(ns));
        // a namespace that is missing fails here, naming the config key, instead of a minute of retries later
        const present = others.length > 0 ? [kubectl("namespaces", "check", { NAMESPACES: others.join(" ") }, [])] : [];

        const names: Record<string, pulumi.Output<string>> = {};
        for (const ns of k.namespaces) {
            const secret = new k8s.core.v1.Secret(`${name}-${ns}`, {
                metadata: {
                    name: k.secretName, namespace: ns, annotations: takeOver,
                    labels: { "app.kubernetes.io/managed-by": "private-registry" },
                },
                type: "kubernetes.io/dockerconfigjson",
                stringData: { ".dockerconfigjson": pulumi.secret(args.dockerConfigJson) },
            }, { ...childOpts, dependsOn: [...created, ...present] });
            names[ns] = secret.metadata.name;
            if (k.patchDefaultServiceAccount) {
                kubectl(`${ns}-default-sa`, "add", { NAMESPACE: ns, SECRET_NAME: k.secretName }, [secret]);
            }
        }
        if (k.publishHostingConfigMap) {
            new k8s.core.v1.ConfigMap(`${name}-hosting`, {
                metadata: { name: "local-registry-hosting", namespace: "kube-public", annotations: takeOver },
                data: hostingConfigMapData(args.registry),
            }, childOpts);
        }
        this.secretNames = pulumi.output(names);
        this.registerOutputs({ secretNames: this.secretNames });
    }
}
