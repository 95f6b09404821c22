import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KubernetesSettings } from "../config/config";

export interface PullSecretArgs {
    kubernetes: KubernetesSettings;
    /** `host:port` of the registry, for the KEP-1755 hosting ConfigMap. */
    registry: string;
    /** The docker config.json to store as `.dockerconfigjson` (secret). */
    dockerConfigJson: pulumi.Input<string>;
}

/**
 * The kubeconfig setting as the provider and kubectl read it. It stays a secret (the provider's schema does
 * not mark it one); a path under ~/ is the home of whoever runs pulumi, worked out here (as for nodes'
 * privateKeyPath) so that the provider (which would ask the user database) and kubectl read the same file.
 */
export function kubeconfigOf(k: KubernetesSettings): pulumi.Output<string> | undefined {
    return k.kubeconfig !== undefined
        ? pulumi.secret(pulumi.output(k.kubeconfig).apply((c) => (isKubeconfigPath(c) ? c.replace(/^~(?=\/)/, os.homedir()) : c)))
        : undefined;
}

/** A provider for the cluster the settings name. */
export function kubernetesProvider(name: string, k: KubernetesSettings, parent: pulumi.Resource): k8s.Provider {
    const kubeconfig = kubeconfigOf(k);
    return new k8s.Provider(name, {
        ...(kubeconfig !== undefined ? { kubeconfig } : {}),
        ...(k.context !== undefined ? { context: k.context } : {}),
        // a changed password updates the secret in place instead of delete-and-recreate
        enableSecretMutable: true,
        enableConfigMapMutable: true,
    }, { parent });
}

/** Namespaces every cluster has: never created, never deleted. */
export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
const SCRIPT = fs.readFileSync(path.join(__dirname, "scripts", "kubernetes.sh"), "utf8");
/**
 * How every kubectl step runs: `bash -c <script> kubernetes.sh <mode>`, the mode being the command string.
 * The command provider repeats the command string in each failure message, so a failing step shows its
 * own message, not the script's text.
 */
export const KUBECTL_INTERPRETER = ["/bin/bash", "-c", SCRIPT, "kubernetes.sh"];

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

/** The error for a listed namespace that does not exist and is not to be created. */
export function missingNamespace(ns: string): string {
    return `private-registry:kubernetes.namespaces: namespace "${ns}" does not exist in the cluster; create it, or set private-registry:kubernetes.createNamespaces to true`;
}

/**
 * Reads what `kubernetes.sh check` printed: the problems (a cluster that does not answer, a namespace of
 * `mustExist` that does not exist, a namespace it gave no answer for) and the namespaces an earlier
 * version of the program took over.
 */
export function readNamespaceCheck(stdout: string, namespaces: string[], mustExist: string[]): { problems: string[]; legacy: string[] } {
    const problems: string[] = [];
    const legacy = new Set<string>();
    const answered = new Set<string>();
    for (const line of stdout.split("\n")) {
        const [word, ...rest] = line.trim().split(" ");
        const arg = rest.join(" ");
        if (word === "fail") return { problems: [arg], legacy: [] };
        if (word === "present" || word === "missing") answered.add(arg);
        if (word === "missing" && mustExist.includes(arg)) problems.push(missingNamespace(arg));
        if (word === "legacy") legacy.add(arg);
    }
    for (const ns of namespaces.filter((n) => !answered.has(n))) {
        problems.push(`private-registry:kubernetes.namespaces: the namespace check gave no answer for "${ns}"`);
    }
    return { problems, legacy: [...legacy] };
}

/**
 * An error the language host reports by its message alone. While the program's main module runs, the
 * host shows a ResourceError that hides its stack by its message; once that module has returned (an
 * invoke's answer comes later), it shows any unhandled error's `stack`, so that is the message too.
 */
export function messageAlone(message: string, resource: pulumi.Resource): pulumi.ResourceError {
    const e = new pulumi.ResourceError(message, resource, true);
    e.stack = message;
    return e;
}

/**
 * The Kubernetes side: a `kubernetes.io/dockerconfigjson` secret in each namespace, optionally named in
 * each namespace's `default` ServiceAccount so pods need no edit, and optionally the KEP-1755
 * `local-registry-hosting` ConfigMap in kube-public. Objects that exist already (the recipe's
 * `regcred`, kind's ConfigMap) are taken over; destroy deletes them. Namespaces are another matter: the
 * program deletes only one it created itself.
 */
export class PullSecret extends pulumi.ComponentResource {
    /** namespace → secret name. */
    public readonly secretNames: pulumi.Output<Record<string, string>>;
    /** The namespace check, run at preview too: fails with the problems found, else lists the legacy namespaces. */
    public readonly namespaceCheck: pulumi.Output<string[]>;

    constructor(name: string, args: PullSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:PullSecret", name, {}, opts);
        const k = args.kubernetes;
        const kubeconfig = kubeconfigOf(k);
        const provider = kubernetesProvider(`${name}-k8s`, k, this);
        const childOpts = { parent: this, provider };
        // take over an object someone made by hand (e.g. `kubectl create secret`) instead of failing
        const takeOver = { "pulumi.com/patchForce": "true" };

        // kubectl's cluster: a path in the environment (the script expands a leading ~/ when it runs, as the
        // provider does), or the content on stdin
        const cluster = pulumi.output(kubeconfig ?? "").apply((c) => (c && isKubeconfigPath(c) ? { path: c, content: "" } : { path: "", content: c }));
        const withCluster = (e: Record<string, string>) => cluster.apply((c) => ({
            ...e, ...(c.path ? { KUBECONFIG_PATH: c.path } : {}), ...(k.context ? { KUBE_CONTEXT: k.context } : {}),
        }));
        const stdin = pulumi.secret(cluster.apply((c) => c.content));
        const kubectl = (step: string, mode: string, undo: string, environment: Record<string, string>, deps: pulumi.Resource[], previousOutput = false) =>
            new command.local.Command(`${name}-${step}`, {
                interpreter: KUBECTL_INTERPRETER,
                create: mode,
                delete: undo,
                environment: withCluster(environment),
                stdin,
                addPreviousOutputInEnv: previousOutput,
                ...(previousOutput ? {} : { triggers: [JSON.stringify(environment)] }),
            }, { parent: this, dependsOn: deps, additionalSecretOutputs: ["stdin"] });

        // what goes into the cluster, declared once the namespace check has passed
        const declare = (legacy: string[]): pulumi.Output<Record<string, string>> => {
            // A stack of an earlier version holds a Namespace resource for each namespace it adopted or
            // created, which the provider would delete, with everything in it, once the program no longer
            // declares it. Reading it under the same name and id releases it from the state without a delete.
            for (const ns of legacy) k8s.core.v1.Namespace.get(`${name}-ns-${ns}`, ns, childOpts);

            // One step per namespace records whether this stack created it: release (on destroy, when the
            // namespace leaves the list, or after createNamespaces goes off) deletes only a namespace that
            // ensure created, never one that was there before. The provider's Namespace resource cannot
            // tell these apart: it upserts, so it adopts an existing namespace and would delete it.
            const owned = new Map(k.namespaces.filter((ns) => !SYSTEM_NAMESPACES.includes(ns)).map((ns) => [ns,
                kubectl(`ns-${ns}`, "ensure", "release", { NAMESPACE: ns, CREATE_NAMESPACE: k.createNamespaces ? "1" : "0" }, [], true)]));

            const names: Record<string, pulumi.Output<string>> = {};
            for (const ns of k.namespaces) {
                const secret = new k8s.core.v1.Secret(`${name}-${ns}`, {
                    metadata: {
                        name: k.secretName, namespace: ns, annotations: takeOver,
                        labels: { "app.kubernetes.io/managed-by": "private-registry" },
                    },
                    type: "kubernetes.io/dockerconfigjson",
                    stringData: { ".dockerconfigjson": pulumi.secret(args.dockerConfigJson) },
                }, { ...childOpts, dependsOn: owned.has(ns) ? [owned.get(ns)!] : [] });
                names[ns] = secret.metadata.name;
                if (k.patchDefaultServiceAccount) {
                    kubectl(`${ns}-default-sa`, "add", "remove", { NAMESPACE: ns, SECRET_NAME: k.secretName }, [secret]);
                }
            }
            if (k.publishHostingConfigMap) {
                new k8s.core.v1.ConfigMap(`${name}-hosting`, {
                    metadata: { name: "local-registry-hosting", namespace: "kube-public", annotations: takeOver },
                    data: hostingConfigMapData(args.registry),
                }, childOpts);
            }
            return pulumi.output(names);
        };

        // Every namespace is checked by an invoke, which runs at preview too, before anything in the cluster
        // is declared; the cluster resources are declared only once it has passed. A problem rejects
        // namespaceCheck, which nothing else consumes (a serialization would wrap the message), so the
        // language host reports it as an unhandled error and the program fails with the message alone.
        const mustExist = k.namespaces.filter((ns) => !k.createNamespaces || SYSTEM_NAMESPACES.includes(ns));
        const check = command.local.runOutput({
            interpreter: KUBECTL_INTERPRETER, command: "check",
            environment: withCluster({ NAMESPACES: k.namespaces.join(" ") }), stdin, logging: "none",
        }, { parent: this });
        // the lines name namespaces only; the kubeconfig in the invoke's arguments made them secret
        const found = pulumi.unsecret(check.stdout).apply((out) => readNamespaceCheck(out, k.namespaces, mustExist));
        this.namespaceCheck = found.apply((f) => {
            if (f.problems.length > 0) throw messageAlone(f.problems.join("\n"), this);
            return f.legacy;
        });
        this.secretNames = found.apply((f) => (f.problems.length > 0 ? pulumi.output<Record<string, string>>({}) : declare(f.legacy)));
        this.registerOutputs({ secretNames: this.secretNames });
    }
}
