// The checks of `cluster` (cluster mode) that span keys, and the defaults worked out from others.
import type { Reader, Shape } from "./configSpec";
import { SCHEMA } from "./configSchema";
import { CLUSTER_ENV_KEYS } from "../cluster/clusterEnv";

type Settings = Shape<typeof SCHEMA>;
/** Cluster mode's settings with every default worked out. */
export type ClusterSettings = NonNullable<Settings["cluster"]> & { name: string; image: string; s3: { rootDirectory: string } };

/** Keys that place the registry on the docker host, which cluster mode does not use. */
const DOCKER_HOST_ONLY = ["bindAddress", "containerName", "dataVolume", "dataHostPath"] as const;
export const NODE_PORTS = { min: 30000, max: 32767 };

export function checkCluster(r: Reader, s: Settings, raw: Record<string, unknown>, stackId: string): ClusterSettings | undefined {
    const c = s.cluster;
    if (!c) return undefined;
    if (!s.kubernetes) r.fail("cluster", "needs private-registry:kubernetes (kubeconfig or context): the registry runs in that cluster");
    if (s.mirror) r.fail("mirror", "is not available in cluster mode (each replica of a pull-through cache keeps its own expiry records): remove mirror, or cluster");
    if (s.migrate) r.fail("migrate", "takes a container over into the docker host's registry only: migrate first, then move the stack to cluster mode (docs/CLUSTER.md)");
    for (const key of DOCKER_HOST_ONLY) {
        // the engine fills in Pulumi.yaml's defaults, and readSettings gives an unset key as ""
        const v = raw[key];
        const def = (SCHEMA[key] as { default?: unknown }).default;
        const given = v !== undefined && v !== "" && JSON.stringify(typeof v === "string" && Array.isArray(def) ? v.split(",").map((x) => x.trim()) : v) !== JSON.stringify(def);
        if (given) r.fail(key, "places the registry on the docker host and does not apply in cluster mode: remove it");
    }
    if (c.service === "NodePort" && (s.port < NODE_PORTS.min || s.port > NODE_PORTS.max)) {
        r.fail("port", `is the node port with cluster.service NodePort and must be from ${NODE_PORTS.min} to ${NODE_PORTS.max} (got ${s.port})`);
    }
    if ((c.s3.accessKey === undefined) !== (c.s3.secretKey === undefined)) {
        r.fail("cluster.s3.accessKey", "and cluster.s3.secretKey go together: give both, or neither for the pods' own AWS credentials");
    }
    for (const key of Object.keys(c.extraEnv)) {
        if (!/^REGISTRY_[A-Z0-9_]+$/.test(key)) r.fail(`cluster.extraEnv.${key}`, "must be a REGISTRY_* setting (upper case, digits and '_')");
        else if (CLUSTER_ENV_KEYS.some((k) => k === key || key.startsWith(`${k}_`) || k.startsWith(`${key}_`))) {
            r.fail(`cluster.extraEnv.${key}`, "is set by the program (its own key for it, or its TLS, login, storage and health settings): use that key, or leave it");
        }
    }
    return {
        ...c,
        name: c.name ?? `registry-${stackId.replace(/^private-registry-/, "")}`.slice(0, 63).replace(/-+$/, ""),
        image: c.image ?? s.image,
        s3: { ...c.s3, rootDirectory: c.s3.rootDirectory ?? `/${stackId}` },
    };
}
