// The pull-through mirror: its settings and their errors, the container it becomes, and what each
// runtime's node script does with it. Real runs of those scripts: test/live/mirror.live.ts.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";
import { parseSettings } from "../../components/config/config";
import { NodeScriptOptions, nodeTrustScript } from "../../components/nodes/nodeScripts";
import { configProblems, sshKey } from "../support/configProblems";
import { byType, captureOptions, reset, secret, settle, setupMocks, valueOf } from "./mocks";

const node = (extra: Record<string, unknown> = {}) => ({ host: "10.0.0.5", privateKey: sshKey, runtime: "containerd", ...extra });
const problems = configProblems;

describe("mirror settings", () => {
    it("off unless set; set, every default is worked out from the registry's", () => {
        assert.equal(parseSettings({}, "dev").mirror, undefined);
        const s = parseSettings({ port: 5443, bindAddress: ["10.1.0.1"], mirror: {} }, "dev");
        assert.deepEqual(s.mirror, {
            upstream: "docker.io", remoteUrl: "https://registry-1.docker.io", username: undefined, password: undefined, port: 5444,
            bindAddresses: ["10.1.0.1"], containerName: "registry-dev-mirror", dataVolume: "registry-dev-mirror-data", dataVolumeDerived: true, ttl: undefined,
        });
        assert.equal(parseSettings({ mirror: { dataVolume: "cache" } }, "dev").mirror!.dataVolumeDerived, false);
        assert.equal(parseSettings({ mirror: { ttl: "36h" } }, "dev").mirror!.ttl, "36h");
        const q = parseSettings({ mirror: { upstream: "quay.io", bindAddress: "10.1.0.2" } }, "dev").mirror!;
        assert.equal(q.remoteUrl, "https://quay.io");
        assert.deepEqual(q.bindAddresses, ["10.1.0.2"]);
        assert.equal(parseSettings({ nodes: [node()] }, "dev").nodes[0].useMirror, true);
    });

    it("the reload command defaults per runtime", () => {
        const s = parseSettings({ nodes: [node({ runtime: "docker" }), node({ host: "10.0.0.6", runtime: "crio" }), node({ host: "10.0.0.7" })] }, "dev");
        assert.deepEqual(s.nodes.map((n) => n.mirrorReloadCommand), ["systemctl reload docker", "systemctl reload crio", "true"]);
    });

    const cases: [string, Record<string, unknown>, RegExp][] = [
        ["same port as the registry", { port: 5000, mirror: { port: 5000 } }, /^private-registry:mirror\.port must differ from private-registry:port \(both are 5000\)$/],
        ["a wildcard address of its own", { mirror: { bindAddress: "0.0.0.0" } }, /^private-registry:mirror\.bindAddress 0\.0\.0\.0 would publish the mirror, which has no login, on every interface/],
        ["the registry's wildcard, inherited", { bindAddress: "::", mirror: {} }, /^private-registry:bindAddress :: would publish the mirror.*give mirror\.bindAddress/],
        ["a login without its password", { mirror: { username: "hub" } }, /^private-registry:mirror\.username and mirror\.password go together/],
        ["an upstream with a path", { mirror: { remoteUrl: "https://hub.example/v2" } }, /^private-registry:mirror\.remoteUrl must be http\(s\):\/\/host\[:port\] with no path/],
        ["a bad upstream", { mirror: { upstream: "not a host" } }, /^private-registry:mirror\.upstream must be a registry host/],
        ["an unknown key", { mirror: { maxSize: "1G" } }, /^private-registry:mirror\.maxSize is not a known setting/],
        ["a ttl that is no duration", { mirror: { ttl: "7 days" } }, /^private-registry:mirror\.ttl must be a duration such as 72h or 90m \(or 0 to never expire\) \(got "7 days"\)$/],
        ["a ttl on the registry:2 line", { image: "registry:2.8.3", mirror: { ttl: "1h" } }, /^private-registry:mirror\.ttl is not honoured by the registry:2 line \(image registry:2\.8\.3\)/],
        ["the registry's volume", { mirror: { dataVolume: "registry-dev-data" } }, /^private-registry:mirror\.dataVolume must differ from the registry's volume/],
        ["a docker node for another upstream", { mirror: { upstream: "quay.io" }, nodes: [node({ runtime: "docker" })] },
            /^private-registry:nodes\[0\]\.useMirror cannot be true on a docker node with mirror\.upstream quay\.io: dockerd mirrors Docker Hub only/],
        ["a multi-line reload command", { nodes: [node({ mirrorReloadCommand: "a\nb" })] }, /^private-registry:nodes\[0\]\.mirrorReloadCommand must be a single-line shell command/],
    ];
    for (const [what, raw, re] of cases) {
        it(`refused: ${what}`, () => {
            const found = problems(raw);
            assert.ok(found.some((p) => re.test(p)), found.join("\n") || "no problem reported");
        });
    }

    it("a docker node opted out of a non-Docker-Hub mirror is fine", () => {
        assert.deepEqual(problems({ mirror: { upstream: "quay.io" }, nodes: [node({ runtime: "docker", useMirror: false })] }), []);
    });
});

describe("the mirror container", () => {
    before(async () => setupMocks());

    it("a second registry on the same engine and image: no login, proxy settings, its own port, volume and names; the upstream password secret", async () => {
        reset();
        const { PrivateRegistry } = await import("../../components/PrivateRegistry");
        // one login: the registry is one container beside the mirror's
        const s = parseSettings({ hostname: "reg.example", mirror: { username: "hub", password: "hub-token" }, nodes: [node()], access: { pullOnly: false } }, "test");
        const r = new PrivateRegistry("registry", { settings: s, id: "private-registry-test" }, { transformations: [captureOptions] });
        await valueOf(r.server!.containerName);
        await settle();
        assert.equal(byType("pulumi:providers:docker").length, 1, "one engine");
        assert.equal(byType("docker:index/remoteImage:RemoteImage").length, 1, "one image");
        const ctrs = byType("docker:index/container:Container");
        assert.deepEqual(ctrs.map((c) => c.inputs.name).sort(), ["registry-test", "registry-test-mirror"]);
        const reg = ctrs.find((c) => c.inputs.name === "registry-test")!;
        const mirror = ctrs.find((c) => c.inputs.name === "registry-test-mirror")!;
        assert.equal(mirror.inputs.image, reg.inputs.image);
        assert.deepEqual(mirror.inputs.ports.map((p: { external: number }) => p.external), [5001]);
        assert.deepEqual(mirror.inputs.volumes, [{ volumeName: "registry-test-mirror-data", containerPath: "/var/lib/registry", readOnly: false }]);
        const envs = mirror.inputs.envs as string[];
        for (const e of ["REGISTRY_PROXY_REMOTEURL=https://registry-1.docker.io", "REGISTRY_PROXY_USERNAME=hub", "REGISTRY_PROXY_PASSWORD=hub-token",
            "OTEL_TRACES_EXPORTER=none", "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/registry.crt"]) {
            assert.ok(envs.includes(e), `mirror env has ${e}`);
        }
        // the cache expires through the storage's delete: on for the mirror, off for the registry
        assert.ok(envs.includes("REGISTRY_STORAGE_DELETE_ENABLED=true"), "the mirror can expire its cache");
        assert.ok((reg.inputs.envs as string[]).includes("REGISTRY_STORAGE_DELETE_ENABLED=false"), "the registry deletes nothing");
        assert.ok(!envs.some((e) => e.startsWith("REGISTRY_PROXY_TTL=")), "the registry's own TTL unless one is set");
        assert.ok(!envs.some((e) => e.startsWith("REGISTRY_AUTH")), "no login");
        assert.ok(!envs.some((e) => e.startsWith("REGISTRY_STORAGE_MAINTENANCE=")), "the mirror keeps the image's maintenance");
        assert.ok(!(reg.inputs.envs as string[]).some((e) => e.startsWith("REGISTRY_PROXY")), "the registry itself is no proxy");
        assert.deepEqual(mirror.inputs.uploads.map((u: { file: string }) => u.file), ["/certs/registry.crt", "/certs/registry.key"]);
        const volumes = byType("docker:index/volume:Volume");
        assert.deepEqual(volumes.map((v) => v.inputs.name).sort(), ["registry-test-data", "registry-test-mirror-data"]);
        assert.equal(await secret(r.mirror!.container.envs), true, "the envs, upstream password included, are secret");
        assert.equal(r.mirrorAddress, "reg.example:5001");
    });

    it("several addresses: one cache (and so one expiry scheduler) per mirror container; registry replicas share theirs", async () => {
        reset();
        const { PrivateRegistry } = await import("../../components/PrivateRegistry");
        new PrivateRegistry("registry", { settings: parseSettings({ bindAddress: ["10.1.0.1", "127.0.0.1"], mirror: {}, access: { pullOnly: false } }, "test"), id: "private-registry-test" });
        await settle();
        const root = (name: string) => (byType("docker:index/container:Container").find((c) => c.inputs.name === name)!.inputs.envs as string[])
            .filter((e) => e.startsWith("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="));
        assert.deepEqual(root("registry-test-mirror"), [], "the first keeps the volume's root, where its cache has been");
        assert.deepEqual(root("registry-test-mirror-127-0-0-1"), ["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/registry/by-address/127-0-0-1"]);
        assert.deepEqual(root("registry-test-127-0-0-1"), [], "the registry's containers serve one store");
    });

    it("mirror.ttl reaches the mirror only; derived volume names keep their first name", async () => {
        reset();
        const { PrivateRegistry } = await import("../../components/PrivateRegistry");
        const s = parseSettings({ mirror: { ttl: "90m" } }, "test");
        new PrivateRegistry("registry", { settings: s, id: "private-registry-test" }, { transformations: [captureOptions] });
        await settle();
        const ctrs = byType("docker:index/container:Container");
        const mirror = ctrs.find((c) => c.inputs.name === "registry-test-mirror")!;
        assert.ok((mirror.inputs.envs as string[]).includes("REGISTRY_PROXY_TTL=90m"));
        // a stack rename or a new containerName changes the derived names: the volumes keep theirs
        for (const v of byType("docker:index/volume:Volume")) assert.deepEqual(v.opts?.ignoreChanges, ["name"], v.name);
        reset();
        new PrivateRegistry("registry", { settings: parseSettings({ dataVolume: "mine", mirror: { dataVolume: "cache" } }, "test"), id: "private-registry-test" },
            { transformations: [captureOptions] });
        await settle();
        // a name the user gives is the user's to change
        for (const v of byType("docker:index/volume:Volume")) assert.equal(v.opts?.ignoreChanges, undefined, v.name);
    });
});

describe("node scripts with a mirror", () => {
    const CA = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=Unit CA", "-keyout", "/dev/null"], { encoding: "utf8" }).stdout;
    const mirror = { address: "docker.registry.com:5001", upstream: "docker.io", upstreamUrl: "https://registry-1.docker.io" };
    const opts = (over: Partial<NodeScriptOptions> = {}): NodeScriptOptions => ({
        registry: "docker.registry.com:5000", hostname: "docker.registry.com", caPem: CA, runtime: "docker", systemTrust: false, insecureRegistry: false,
        containerdConfigFile: "/etc/containerd/config.toml", containerdRestartCommand: "systemctl restart containerd",
        dockerRestartCommand: "systemctl restart docker", id: "private-registry-dev", mirror, reloadCommand: "systemctl reload docker", ...over,
    });
    const items = (s: string) => /^create_items\(\) \{\n([\s\S]*?)^\}$/m.exec(s)![1].split("\n").map((l) => l.trim()).filter(Boolean);
    const bashVar = (s: string, name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(s)?.[1];

    it("each runtime gets the mirror its own way", () => {
        assert.deepEqual(items(nodeTrustScript(opts())), [
            `put '/etc/docker/certs.d/docker.registry.com:5000/ca.crt' whole "$(ca_pem)"`,
            `put '/etc/docker/certs.d/docker.registry.com:5001/ca.crt' whole "$(ca_pem)"`, "docker_json", "hosts_line ''"]);
        assert.deepEqual(items(nodeTrustScript(opts({ runtime: "crio" }))), [
            `put '/etc/containers/certs.d/docker.registry.com:5000/ca.crt' whole "$(ca_pem)"`,
            `put '/etc/containers/certs.d/docker.registry.com:5001/ca.crt' whole "$(ca_pem)"`, "crio_mirror", "hosts_line ''"]);
        // containerd_trust writes the upstream's hosts.toml next to the registry's
        assert.deepEqual(items(nodeTrustScript(opts({ runtime: "containerd" }))), ["containerd_trust", "hosts_line ''"]);
        const s = nodeTrustScript(opts({ runtime: "containerd" }));
        assert.equal(bashVar(s, "MIRROR"), "'docker.registry.com:5001'");
        assert.equal(bashVar(s, "UPSTREAM"), "'docker.io'");
        assert.equal(bashVar(s, "UPSTREAM_URL"), "'https://registry-1.docker.io'");
        assert.equal(bashVar(nodeTrustScript(opts({ mirror: undefined })), "MIRROR"), "''");
        assert.deepEqual(items(nodeTrustScript(opts({ mirror: undefined }))), [`put '/etc/docker/certs.d/docker.registry.com:5000/ca.crt' whole "$(ca_pem)"`, "hosts_line ''"]);
    });

    it("refuses what cannot work before any of it reaches bash", () => {
        assert.throws(() => nodeTrustScript(opts({ mirror: { ...mirror, address: "other.host:5001" } })), /invalid mirror\.address .*expected docker\.registry\.com:<port>/);
        assert.throws(() => nodeTrustScript(opts({ mirror: { ...mirror, address: "docker.registry.com:5000" } })), /must differ from the registry's address/);
        assert.throws(() => nodeTrustScript(opts({ mirror: { ...mirror, upstream: "quay.io" } })), /dockerd mirrors docker\.io only/);
        assert.throws(() => nodeTrustScript(opts({ runtime: "crio", mirror: { ...mirror, upstreamUrl: "https://x/$(id)" } })), /invalid mirror\.upstreamUrl/);
        assert.throws(() => nodeTrustScript(opts({ reloadCommand: " " })), /invalid reloadCommand/);
    });

    it("the script still parses with every runtime and a mirror", () => {
        for (const runtime of ["docker", "containerd", "crio", "none"] as const) {
            const r = spawnSync("bash", ["-n"], { input: nodeTrustScript(opts({ runtime })), encoding: "utf8" });
            assert.equal(r.status, 0, `${runtime}: ${r.stderr}`);
        }
    });
});
