// Cluster mode with Pulumi mocks: the config's rules, the pods' environment (the traps of configuring the
// registry by environment), and the objects: nothing secret in the Deployment, rollouts that keep the
// wanted replicas, a readiness that follows the store, a liveness that does not, a hardened pod.
import * as assert from "node:assert/strict";
import { before, beforeEach, describe, it } from "node:test";
import { configProblems } from "../support/configProblems";
import { byType, captureOptions, one, reset, settle, setupMocks, valueOf } from "./mocks";

let config: typeof import("../../components/config/config");
let reg: typeof import("../../components/PrivateRegistry");
let envs: typeof import("../../components/cluster/clusterEnv");
const S3 = { bucket: "registry", endpoint: "https://10.213.0.1:7070", accessKey: "0123456789", secretKey: "s3-secret-value" };
const base = { port: 30500, kubernetes: { context: "kind" }, cluster: { s3: S3 } };

before(async () => {
    await setupMocks(false);
    config = await import("../../components/config/config");
    reg = await import("../../components/PrivateRegistry");
    envs = await import("../../components/cluster/clusterEnv");
});
beforeEach(reset);

describe("cluster: config", () => {
    it("defaults worked out from the stack and the image", () => {
        const c = config.parseSettings(base, "dev").cluster!;
        assert.equal(c.name, "registry-dev");
        assert.equal(c.namespace, "default");
        assert.equal(c.replicas, 2);
        assert.equal(c.service, "NodePort");
        assert.equal(c.image, "registry:3.1.2");
        assert.equal(c.s3.rootDirectory, "/private-registry-dev");
        assert.equal(c.s3.region, "us-east-1");
        assert.equal(c.s3.redirect, false);
    });

    it("refuses what does not fit, naming the key", () => {
        const p = (raw: Record<string, unknown>) => configProblems(raw).join("\n");
        assert.match(p({ ...base, kubernetes: undefined }), /private-registry:cluster needs private-registry:kubernetes/);
        assert.match(p({ ...base, cluster: {} }), /private-registry:cluster\.s3\.bucket is required/);
        assert.match(p({ ...base, port: 5000 }), /private-registry:port is the node port with cluster\.service NodePort and must be from 30000 to 32767 \(got 5000\)/);
        assert.deepEqual(configProblems({ ...base, port: 443, cluster: { service: "LoadBalancer", s3: S3 } }), []);
        assert.match(p({ ...base, mirror: {} }), /private-registry:mirror is not available in cluster mode/);
        assert.match(p({ ...base, bindAddress: "10.0.0.1" }), /private-registry:bindAddress places the registry on the docker host/);
        assert.match(p({ ...base, dataVolume: "v" }), /private-registry:dataVolume places the registry on the docker host/);
        assert.match(p({ ...base, cluster: { s3: { bucket: "registry", accessKey: "a" } } }), /cluster\.s3\.accessKey and cluster\.s3\.secretKey go together/);
        assert.match(p({ ...base, cluster: { s3: S3, extraEnv: { REGISTRY_STORAGE_S3_BUCKET: "x" } } }), /cluster\.extraEnv\.REGISTRY_STORAGE_S3_BUCKET is set by the program/);
        assert.match(p({ ...base, cluster: { s3: S3, extraEnv: { PATH: "/x" } } }), /cluster\.extraEnv\.PATH must be a REGISTRY_\* setting/);
        assert.deepEqual(configProblems({ ...base, cluster: { s3: S3, extraEnv: { REGISTRY_HTTP_HEADERS_CONNECTION: "[close]" } } }), []);
        assert.match(p({ ...base, cluster: { s3: { ...S3, endpoint: "https://s3/path" } } }), /cluster\.s3\.endpoint must be http\(s\):\/\/host\[:port\] with no path/);
        assert.match(p({ ...base, cluster: { s3: S3, replicas: 0 } }), /cluster\.replicas must be an integer from 1 to 50/);
    });
});

describe("cluster: the pods' environment", () => {
    const opts = { secretName: "r", minTlsVersion: "tls1.2" as const, logLevel: "info", drainSeconds: 30,
        s3: { bucket: "0123", endpoint: "https://s3.example:7070/", region: "us-east-1", rootDirectory: "/r", redirect: false, keys: true, ca: true } };

    it("the s3 driver replaces the storage map, with the cache set again; S3 strings quoted; flags unquoted", () => {
        const env = Object.fromEntries(envs.clusterEnv(opts).map((e) => [e.name, e.value ?? e.valueFrom]));
        assert.equal(env.REGISTRY_STORAGE, "s3");
        assert.equal(env.REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR, "inmemory");
        // a digits-only value stays a string
        assert.equal(env.REGISTRY_STORAGE_S3_BUCKET, "\"0123\"");
        assert.equal(env.REGISTRY_STORAGE_S3_REGIONENDPOINT, "\"https://s3.example:7070\"");
        assert.equal(env.REGISTRY_STORAGE_S3_FORCEPATHSTYLE, "\"true\"");
        assert.equal(env.REGISTRY_STORAGE_S3_SECURE, "\"true\"");
        assert.equal(env.REGISTRY_STORAGE_REDIRECT_DISABLE, "true");
        assert.equal(env.REGISTRY_STORAGE_DELETE_ENABLED, "false");
        // the whole map, never the leaf form that panics or is ignored
        assert.equal(env.REGISTRY_STORAGE_MAINTENANCE, "{readonly: {enabled: false}, uploadpurging: {enabled: true, age: 168h, interval: 24h, dryrun: false}}");
        assert.equal(env.REGISTRY_HTTP_ADDR, "0.0.0.0:5000");
        assert.equal(env.REGISTRY_HTTP_DEBUG_ADDR, "127.0.0.1:5001");
        assert.ok(!Object.keys(env).some((k) => k.startsWith("REGISTRY_STORAGE_MAINTENANCE_")));
        assert.equal(env.SSL_CERT_DIR, `/etc/ssl/certs:${envs.S3_CA_DIR}`);
        assert.deepEqual(env.REGISTRY_STORAGE_S3_ACCESSKEY, { secretKeyRef: { name: "r", key: "s3-access-key" } });
        assert.deepEqual(env.REGISTRY_HTTP_SECRET, { secretKeyRef: { name: "r", key: "http-secret" } });
        assert.equal(env.REGISTRY_HTTP_DRAINTIMEOUT, "30s");
        const ro = Object.fromEntries(envs.clusterEnv({ ...opts, readOnly: true, addr: "127.0.0.1:5002", debugAddr: "127.0.0.1:5012",
            s3: { ...opts.s3, redirect: true, keys: false, ca: false, endpoint: "http://s3:9000" } }).map((e) => [e.name, e.value]));
        assert.equal(ro.REGISTRY_STORAGE_MAINTENANCE, "{readonly: {enabled: true}, uploadpurging: {enabled: false}}");
        assert.equal(ro.REGISTRY_HTTP_ADDR, "127.0.0.1:5002");
        assert.equal(ro.REGISTRY_HTTP_DEBUG_ADDR, "127.0.0.1:5012");
        assert.equal(ro.REGISTRY_STORAGE_REDIRECT_DISABLE, "false");
        assert.equal(ro.REGISTRY_STORAGE_S3_SECURE, "\"false\"");
        assert.ok(!("REGISTRY_STORAGE_S3_ACCESSKEY" in ro) && !("SSL_CERT_DIR" in ro));
    });
});

describe("cluster: the objects", () => {
    // one login, one container per pod (the pull-only shape: access.test.ts)
    const deploy = async (password: string) => {
        reset();
        const s = config.parseSettings({ ...base, password, access: { pullOnly: false }, cluster: { s3: S3, replicas: 3 } }, "dev");
        const r = new reg.PrivateRegistry("registry", { settings: config.withSecrets(s), id: "private-registry-dev" }, { transformations: [captureOptions] });
        await valueOf(r.cluster!.serviceName);
        await settle();
        return one("kubernetes:apps/v1:Deployment");
    };

    it("Deployment, Service, PDB and Secrets; no docker resource; nothing secret in the Deployment", async () => {
        const d = await deploy("first-password-1");
        assert.deepEqual(byType("docker:index/container:Container"), []);
        assert.deepEqual(byType("docker:index/volume:Volume"), []);
        const spec = d.inputs.spec;
        assert.equal(spec.replicas, 3);
        assert.deepEqual(spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
        assert.ok(spec.minReadySeconds >= 10, "longer than two storage health checks");
        const pod = spec.template.spec;
        assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } });
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(pod.topologySpreadConstraints[0].whenUnsatisfiable, "ScheduleAnyway");
        assert.deepEqual(pod.containers.map((x: { name: string }) => x.name), ["registry"]);
        const c = pod.containers[0];
        assert.deepEqual(c.ports, [{ name: "https", containerPort: 5000 }]);
        assert.deepEqual(c.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        assert.equal(c.readinessProbe.httpGet.path, "/");
        assert.ok(c.livenessProbe.tcpSocket, "liveness does not follow the store");
        assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
        assert.ok(pod.terminationGracePeriodSeconds > 30);
        const text = JSON.stringify(d.inputs);
        for (const secret of ["first-password-1", S3.secretKey, "0123456789", "PRIVATE KEY"]) assert.ok(!text.includes(secret), `${secret} is not in the Deployment`);
        const svc = one("kubernetes:core/v1:Service");
        assert.equal(svc.inputs.spec.type, "NodePort");
        assert.equal(svc.inputs.spec.ports[0].nodePort, 30500);
        const pdb = one("kubernetes:policy/v1:PodDisruptionBudget");
        assert.equal(pdb.inputs.spec.maxUnavailable, 1);
        assert.equal(pdb.inputs.spec.unhealthyPodEvictionPolicy, "AlwaysAllow");
        const secret = byType("kubernetes:core/v1:Secret").find((x) => x.inputs.type === "Opaque")!;
        assert.equal(secret.inputs.stringData["s3-access-key"], "\"0123456789\"");
        assert.match(secret.inputs.stringData.htpasswd, /^admin:\$2[^\n]*\n$/);
        assert.deepEqual(Object.keys(secret.inputs.stringData).sort(), ["htpasswd", "http-secret", "s3-access-key", "s3-secret-key"]);
        assert.equal(byType("kubernetes:core/v1:ConfigMap").length, 0, "no front configuration");
        const tls = byType("kubernetes:core/v1:Secret").find((x) => x.inputs.type === "kubernetes.io/tls")!;
        assert.match(tls.inputs.stringData["tls.key"], /PRIVATE KEY/);
    });

    it("a new password rolls the pods: the config hash changes, and reveals nothing", async () => {
        const a = (await deploy("first-password-1")).inputs.spec.template.metadata.annotations["private-registry.io/config-hash"];
        const b = (await deploy("second-password-2")).inputs.spec.template.metadata.annotations["private-registry.io/config-hash"];
        assert.match(a, /^[0-9a-f]{64}$/);
        assert.notEqual(a, b);
        assert.equal((await deploy("first-password-1")).inputs.spec.template.metadata.annotations["private-registry.io/config-hash"], a);
    });
});
