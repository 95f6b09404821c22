import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesSettings } from "./config";

export interface PullSecretArgs {
    kubernetes: KubernetesSettings;
    /** `host:port` of the registry, for the KEP-1755 hosting ConfigMap. */
    registry: string;
    /** The docker config.json to store as `.dockerconfigjson` (secret). */
    dockerConfigJson: pulumi.Input<string>;
}

/** The `local-registry-hosting` ConfigMap body (KEP-1755). */
export function hostingConfigMapData(registry: string): Record<string, string> {
    return {
        "localRegistryHosting.v1": `host: "${registry}"\nhelp: "https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry"\n`,
    };
}

/**
 * The Kubernetes side: a `kubernetes.io/dockerconfigjson` secret in each namespace, optionally named in
 * each namespace's `default` ServiceAccount so pods need no edit, and optionally the KEP-1755
 * `local-registry-hosting` ConfigMap in kube-public.
 */
export class PullSecret extends pulumi.ComponentResource {
    /** namespace → secret name. */
    public readonly secretNames: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: PullSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:PullSecret", name, {}, opts);
        const k = args.kubernetes;
        const provider = new k8s.Provider(`${name}-k8s`, {
            ...(k.kubeconfig !== undefined ? { kubeconfig: k.kubeconfig } : {}),
            ...(k.context !== undefined ? { context: k.context } : {}),
            // a changed password updates the secret in place instead of delete-and-recreate
            enableSecretMutable: true,
        }, { parent: this });
        const childOpts = { parent: this, provider };
        const names: Record<string, pulumi.Output<string>> = {};
        for (const ns of k.namespaces) {
            const secret = new k8s.core.v1.Secret(`${name}-${ns}`, {
                metadata: { name: k.secretName, namespace: ns, labels: { "app.kubernetes.io/managed-by": "private-registry" } },
                type: "kubernetes.io/dockerconfigjson",
                stringData: { ".dockerconfigjson": pulumi.secret(args.dockerConfigJson) },
            }, childOpts);
            names[ns] = secret.metadata.name;
            if (k.patchDefaultServiceAccount) {
                new k8s.core.v1.ServiceAccountPatch(`${name}-${ns}-default-sa`, {
                    metadata: {
                        name: "default",
                        namespace: ns,
                        // the controller manager owns this object; take just our field
                        annotations: { "pulumi.com/patchForce": "true" },
                    },
                    imagePullSecrets: [{ name: k.secretName }],
                }, { ...childOpts, dependsOn: [secret] });
            }
        }
        if (k.publishHostingConfigMap) {
            new k8s.core.v1.ConfigMap(`${name}-hosting`, {
                metadata: { name: "local-registry-hosting", namespace: "kube-public" },
                data: hostingConfigMapData(args.registry),
            }, childOpts);
        }
        this.secretNames = pulumi.output(names);
        this.registerOutputs({ secretNames: this.secretNames });
    }
}
