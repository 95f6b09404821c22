import * as pulumi from "@pulumi/pulumi";
import { readSettings, stackId } from "./components/config/config";
import { PrivateRegistry } from "./components/PrivateRegistry";

const stack = pulumi.getStack();
const settings = readSettings(stack);
const registry = new PrivateRegistry("registry", { settings, id: stackId(stack) });

/** `host:port` for docker/skopeo/containerd. */
export const registryHost = registry.address;
export const registryUrl = registry.url;
export const caCertificatePem = registry.certificate.caCertPem;
/** The login that pulls (the pull login; with access.pullOnly false, the only one). */
export const username = registry.credentials.username;
export const password = registry.credentials.password;
/** A docker config.json with that login: what the pull secrets hold and consumer stacks read. */
export const dockerConfigJson = registry.credentials.dockerConfigJson;
/** The login that pushes, for CI. */
export const pushUsername = registry.pushCredentials.username;
export const pushPassword = registry.pushCredentials.password;
export const pushDockerConfigJson = registry.pushCredentials.dockerConfigJson;
/** namespace → pull secret name (empty without Kubernetes). */
export const pullSecrets = registry.pullSecret?.secretNames ?? {};
/** service → digest-pinned image reference. */
export const images = registry.images?.refs ?? {};
export const certificateExpiry = registry.certificate.expiry;
/** The registry container (empty in cluster mode). */
export const containerName = registry.server?.containerName ?? "";
/** `namespace/name` of the registry's Service (empty on a docker host). */
export const clusterService = registry.cluster?.serviceName ?? "";
/** node → what its last trust run changed. */
export const nodeReports = pulumi.output(Object.fromEntries(registry.nodes.map((n, i) => [settings.nodes[i].name, n.report])));
/** `host:port` of the pull-through mirror (empty without one). */
export const mirrorHost = registry.mirrorAddress ?? "";
/** node → where it was pointed at the mirror. */
export const nodeMirrors = pulumi.output(Object.fromEntries(registry.nodes.map((n, i) => [settings.nodes[i].name, n.mirror])));
/** What the take-over of a registry container started by hand did (empty without `migrate`). */
export const migration = registry.server?.migration?.report ?? "";
/** Where `npm run maintenance` runs a maintenance now (empty without `maintenance`). */
export const maintenance = registry.maintenance
    ? pulumi.output({ dockerHost: settings.dockerHost, container: registry.maintenance.containerName })
    : registry.clusterMaintenance
        ? { namespace: settings.cluster!.namespace, deployment: registry.clusterMaintenance.deploymentName }
        : "";
