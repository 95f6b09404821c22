// The live suite: the program (index.ts) runs under the stand-in engine, which carries out what it
// declares on a real dockerd, real SSH nodes and a real containerd; then the outcome is checked from
// outside with real clients (node's TLS stack, skopeo, ctr, curl).
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { after, before, describe, it } from "node:test";
import { LiveEngine, RunResult, run } from "./engine";
import { clientFiles, containerdPid, criPull, diffSnapshots, httpsGet, LiveEnv, loadEnv, nodeExec, plainHttpGet, skopeo, snapshot } from "./support";
import { isIpv4 } from "../../components/config";

/* eslint-disable @typescript-eslint/no-explicit-any */
const ROOT = path.resolve(__dirname, "../..");
const env: LiveEnv = loadEnv();
const stackFile = process.env.LIVE_STACK_FILE ?? path.join(__dirname, "Pulumi.live.yaml");
const work = fs.mkdtempSync(path.join(env.liveDir, "suite-"));
const engine = new LiveEngine(work, (l) => console.log(`# ${l}`));
const log = (s: string) => console.log(`# ${s}`);

// /etc/ca-certificates' Java hook rewrites a keystore with fresh timestamps on every run; it is not ours
const NOT_OURS = [/java\/cacerts$/];

/** The stack file's settings, plus what only the suite knows: its nodes, docker socket and image. */
function stackConfig(extra: Record<string, any> = {}): Record<string, any> {
    const doc = yaml.load(fs.readFileSync(stackFile, "utf8")) as { config?: Record<string, unknown> };
    const cfg: Record<string, any> = {};
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        if (k.startsWith("private-registry:")) cfg[k.slice("private-registry:".length)] = v;
    }
    const hostname: string = cfg.hostname ?? "127.0.0.1";
    const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : String(v).split(",").map((s) => s.trim()));
    cfg.bindAddress = [...new Set([...asList(cfg.bindAddress ?? "127.0.0.1"), "127.0.0.1", env.hostAddress])];
    if (!isIpv4(hostname)) cfg.ipAddresses = [...new Set([...asList(cfg.ipAddresses), env.hostAddress])];
    cfg.dockerHost = env.dockerHost;
    cfg.image = env.registryImage;
    cfg.dataVolume = "live-registry-data";
    cfg.containerName = "live-registry";
    cfg.services = (cfg.services ?? []).map((s: any) => ({ ...s, context: path.resolve(ROOT, s.context) }));
    const hostsAddress = isIpv4(hostname) ? undefined : env.hostAddress;
    cfg.nodes = env.nodes.map((n) => ({
        name: n.name, host: n.host, port: n.port, user: n.user, runtime: n.runtime, privateKeyPath: env.sshKeyPath, hostKey: n.hostKey,
        ...(hostsAddress ? { hostsAddress } : {}),
        ...(n.containerdRestartCommand ? { containerdRestartCommand: n.containerdRestartCommand } : {}),
        // one node also gets the system store, to prove that opt-in; the others must trust through the scoped files alone
        ...(n.name === "d" ? { systemTrust: true } : {}),
        perDialTimeout: 5, dialErrorLimit: 2,
    }));
    cfg.kubernetes = { context: "live-suite", namespaces: ["default", "apps"], patchDefaultServiceAccount: true };
    return { ...cfg, ...extra };
}

const base = stackConfig();
const hostname: string = base.hostname ?? "127.0.0.1";
const port = Number(base.port ?? 5000);
const registry = `${hostname}:${port}`;
const user: string = base.username ?? "admin";
const minTls: string = base.tls?.minVersion ?? "tls1.2";

let first: RunResult;
let before0: Map<string, Map<string, string>>;
let caPem: string;
let password: string;
let pullSecretJson: string;
let client: { authfile: string; certDir: string };
let pushedDigest: string;

function pullSecretOf(result: RunResult): string {
    const secret = result.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && r.inputs.metadata.namespace === "default");
    assert.ok(secret, "the program declares a pull secret in namespace default");
    assert.equal(secret.inputs.type, "kubernetes.io/dockerconfigjson");
    return secret.inputs.stringData[".dockerconfigjson"];
}

function noErrors(result: RunResult): void {
    assert.deepEqual([...result.errors.entries()], [], "no resource failed");
}

async function onNode(name: string, cmd: string): Promise<{ stdout: string; stderr: string; code: number }> {
    return nodeExec(env, name, cmd);
}

before(async () => {
    if (!isIpv4(hostname)) {
        // the suite's private /etc/hosts, shared with its dockerd: the registry's name resolves to the host address
        fs.appendFileSync(path.join(env.liveDir, "hosts"), `${env.hostAddress} ${hostname}\n`);
    }
    // node d gets the system store: start it from a store as update-ca-certificates leaves it (the host's
    // copy may hold hand-placed files that a rebuild would turn into links)
    const r = await nodeExec(env, "d", "update-ca-certificates --fresh >/dev/null 2>&1");
    assert.equal(r.code, 0, r.stderr);
    before0 = new Map();
    for (const n of env.nodes) before0.set(n.name, await snapshot(env, n.name));
    const t = Date.now();
    first = await engine.up(base);
    log(`first up: ${Date.now() - t} ms, ${first.resources.length} resources`);
    noErrors(first);
    caPem = first.outputs.caCertificatePem;
    password = first.outputs.password;
    pullSecretJson = pullSecretOf(first);
    client = clientFiles(work, "client", pullSecretJson, caPem);
});

after(async () => {
    engine.cleanup();
});

describe("live: the registry the program declares", () => {
    it("outputs: address, URL, secrets marked secret, expiry in the future", () => {
        assert.equal(first.outputs.registryHost, registry);
        assert.equal(first.outputs.registryUrl, `https://${registry}`);
        assert.deepEqual(first.secretOutputs.sort(), ["dockerConfigJson", "password"]);
        assert.ok(Date.parse(first.outputs.certificateExpiry) > Date.now() + 24 * 3600_000);
        assert.equal(first.outputs.dockerConfigJson, pullSecretJson);
        assert.deepEqual(first.outputs.pullSecrets, { default: "regcred", apps: "regcred" });
    });

    it("TLS: verifies with the CA, for every SAN, and the leaf is not the CA", async () => {
        for (const host of ["127.0.0.1", env.hostAddress]) {
            const r = await httpsGet({ host, port, servername: hostname, ca: caPem });
            assert.equal(r.status, 401);
            assert.ok(r.cert?.subjectaltname?.includes(isIpv4(hostname) ? `IP Address:${hostname}` : `DNS:${hostname}`), r.cert?.subjectaltname);
            assert.notEqual(r.cert?.fingerprint256, undefined);
            assert.equal((r.cert as any).ca, false);
        }
        for (const name of base.dnsNames ?? []) {
            assert.equal((await httpsGet({ host: env.hostAddress, port, servername: name, ca: caPem })).status, 401, name);
        }
    });

    it("TLS: fails without the CA, and for a name not in the SANs", async () => {
        await assert.rejects(httpsGet({ host: env.hostAddress, port, servername: hostname }), /self[- ]signed|unable to (get|verify)/i);
        await assert.rejects(httpsGet({ host: env.hostAddress, port, servername: "not-in-the-sans.example", ca: caPem }),
            (e: any) => e.code === "ERR_TLS_CERT_ALTNAME_INVALID");
    });

    it("TLS: answers only over TLS; the debug listener is not published", async () => {
        const r = await plainHttpGet(env.hostAddress, port);
        assert.equal(r.status, 400);
        assert.match(r.body, /HTTP request to an HTTPS server/);
        for (const host of ["127.0.0.1", env.hostAddress]) {
            await assert.rejects(plainHttpGet(host, 5001), (e: any) => e.code === "ECONNREFUSED");
        }
    });

    it(`TLS: the minimum version (${minTls}) holds`, async () => {
        const below = minTls === "tls1.3" ? "TLSv1.2" : "TLSv1.1";
        await assert.rejects(httpsGet({ host: env.hostAddress, port, servername: hostname, ca: caPem, minVersion: "TLSv1", maxVersion: below, ciphers: "DEFAULT@SECLEVEL=0" }),
            (e: any) => /protocol version|unsupported protocol|no protocols available|wrong version/i.test(`${e.code} ${e.message}`));
        const at = minTls === "tls1.3" ? "TLSv1.3" : "TLSv1.2";
        assert.equal((await httpsGet({ host: env.hostAddress, port, servername: hostname, ca: caPem, minVersion: at, maxVersion: at })).status, 401);
    });

    it("auth: 401 without credentials and with a wrong password, 200 with the right ones", async () => {
        const get = (auth?: string) => httpsGet({ host: env.hostAddress, port, servername: hostname, ca: caPem, auth });
        assert.equal((await get()).status, 401);
        assert.equal((await get(`${user}:${password}x`)).status, 401);
        assert.equal((await get(`nobody:${password}`)).status, 401);
        assert.equal((await get(`${user}:${password}`)).status, 200);
        assert.ok(password.length >= 16, "generated password is long");
    });

    it("push and pull round trip with skopeo, authenticated by the pull secret's config.json", async () => {
        const oci = path.join(work, "oci");
        let r = await skopeo(["copy", "--src-daemon-host", env.dockerHost, `docker-daemon:${env.testImage}`, `oci:${oci}:app`], env);
        assert.equal(r.code, 0, r.stderr);
        const digestFile = path.join(work, "pushed.digest");
        r = await skopeo(["copy", "--digestfile", digestFile, "--dest-cert-dir", client.certDir, "--authfile", client.authfile, `oci:${oci}:app`, `docker://${registry}/test/app:1`], env);
        assert.equal(r.code, 0, r.stderr);
        pushedDigest = fs.readFileSync(digestFile, "utf8").trim();
        r = await skopeo(["copy", "--src-cert-dir", client.certDir, "--authfile", client.authfile, `docker://${registry}/test/app:1`, `oci:${path.join(work, "oci-pulled")}:app`], env);
        assert.equal(r.code, 0, r.stderr);
        r = await skopeo(["inspect", "--cert-dir", client.certDir, "--authfile", client.authfile, "--format", "{{.Digest}}", `docker://${registry}/test/app:1`], env);
        assert.equal(r.stdout.trim(), pushedDigest);
        const pulled = JSON.parse(fs.readFileSync(path.join(work, "oci-pulled", "index.json"), "utf8")).manifests[0].digest;
        assert.equal(pulled, pushedDigest);
        // and refused without credentials
        r = await skopeo(["inspect", "--cert-dir", client.certDir, "--no-creds", `docker://${registry}/test/app:1`], env);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /unauthorized|authentication required/i);
    });

    it("service images built and pushed by the program are pullable by their output refs", async () => {
        const services: any[] = base.services ?? [];
        assert.deepEqual(Object.keys(first.outputs.images).sort(), services.map((s) => s.name).sort());
        for (const [name, ref] of Object.entries<string>(first.outputs.images)) {
            assert.match(ref, new RegExp(`^${registry.replace(/\./g, "\\.")}/${name}@sha256:[0-9a-f]{64}$`));
            const r = await skopeo(["inspect", "--cert-dir", client.certDir, "--authfile", client.authfile, "--format", "{{.Digest}}", `docker://${ref}`], env);
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout.trim(), ref.split("@")[1]);
        }
    });

    it("data lives on the named volume", async () => {
        const r = await run("docker", ["-H", env.dockerHost, "run", "--rm", "-v", "live-registry-data:/data", "--entrypoint", "/bin/busybox", env.registryImage,
            "find", "/data/docker/registry/v2/repositories", "-maxdepth", "1"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /repositories\/test/);
    });
});

describe("live: every node trusts the registry the scoped way", () => {
    const authOnNode = () => path.join(work, "client", "auth.json"); // /tmp is shared with the nodes

    for (const n of env.nodes) {
        it(`node ${n.name} (${n.runtime}${n.user !== "root" ? `, via sudo as ${n.user}` : ""}): its trust works`, async () => {
            const ref = `${registry}/test/app:1`;
            if (n.runtime === "docker" || n.runtime === "crio") {
                const dir = n.runtime === "docker" ? "/etc/docker/certs.d" : "/etc/containers/certs.d";
                const ca = await onNode(n.name, `cat '${dir}/${registry}/ca.crt'`);
                assert.equal(ca.stdout.trim(), caPem.trim().replace(/\r\n/g, "\n"));
                // skopeo with no --cert-dir reads exactly these scoped files
                const r = await onNode(n.name, `skopeo inspect --authfile '${authOnNode()}' --format '{{.Digest}}' 'docker://${ref}'`);
                assert.equal(r.code, 0, r.stderr);
                assert.equal(r.stdout.trim(), pushedDigest);
                const other = n.runtime === "docker" ? "/etc/containers/certs.d" : "/etc/docker/certs.d";
                assert.notEqual((await onNode(n.name, `test -e '${other}/${registry}'`)).code, 0, "only the node's runtime is configured");
            } else if (n.runtime === "containerd") {
                const toml = await onNode(n.name, `cat '/etc/containerd/certs.d/${registry}/hosts.toml'`);
                assert.match(toml.stdout, new RegExp(`\\[host\\."https://${registry.replace(/\./g, "\\.")}"\\]`));
                const r = await onNode(n.name, `ctr -a '${n.containerdSocket}' -n live images pull --hosts-dir /etc/containerd/certs.d --user '${user}:${password}' '${ref}'`);
                assert.equal(r.code, 0, r.stderr + r.stdout);
                const digest = await onNode(n.name, `ctr -a '${n.containerdSocket}' -n live images ls | awk '$1=="${ref}"{print $3}'`);
                assert.equal(digest.stdout.trim(), pushedDigest);
                // and as kubelet pulls: through the running containerd's CRI plugin, which reads hosts.toml per pull
                const imageRef = await criPull(n.containerdSocket!, ref, user, password);
                assert.match(imageRef, /^sha256:[0-9a-f]{64}$/);
                const cfg = await onNode(n.name, "cat /etc/containerd/config.toml");
                assert.match(cfg.stdout, /config_path\s*=\s*"\/etc\/containerd\/certs\.d"/);
            }
            // no insecure-registries anywhere
            const insecure = await onNode(n.name, "cat /etc/docker/daemon.json 2>/dev/null || true");
            assert.doesNotMatch(insecure.stdout, /insecure-registries/);
            if (!isIpv4(hostname)) {
                const hosts = await onNode(n.name, "cat /etc/hosts");
                assert.match(hosts.stdout, new RegExp(`^${env.hostAddress.replace(/\./g, "\\.")}\\s+${hostname.replace(/\./g, "\\.")}\\b`, "m"));
            }
            // system trust only where switched on: curl with no --cacert
            const curl = await onNode(n.name, `curl -s -o /dev/null -w '%{http_code}' 'https://${registry}/v2/'`);
            if (n.name === "d") assert.equal(curl.stdout, "401", curl.stderr);
            else assert.notEqual(curl.stdout, "401", "no system-wide trust unless opted in");
        });
    }

    it("containerd: enabled config_path once and restarted where it was off; no restart where it was on", () => {
        for (const n of env.nodes.filter((x) => x.runtime === "containerd")) {
            const report = first.outputs.nodeReports[n.name] as string;
            if (n.containerdConfigPathPreset) assert.doesNotMatch(report, /restarted/);
            else assert.match(report, /restarted: containerd/);
        }
    });
});

describe("live: re-running, replacing, failing, destroying", () => {
    it("idempotent: a second up runs nothing on the nodes; re-running every create changes no file and restarts nothing", async () => {
        const snaps = new Map<string, Map<string, string>>();
        for (const n of env.nodes) snaps.set(n.name, await snapshot(env, n.name));
        const pids = env.nodes.filter((n) => n.containerdPidFile).map((n) => [n.name, containerdPid(n)] as const);
        const runsBefore = engine.commandRuns.length;
        const second = await engine.up(base);
        noErrors(second);
        assert.equal(engine.commandRuns.length, runsBefore, "no SSH session when nothing changed");
        // everything is unchanged but the image builds, which (like the provider) build and push on every up
        for (const r of second.resources.filter((x) => x.type !== "docker:index/image:Image")) {
            assert.equal(second.actions.get(r.name), "same", `${r.name} unchanged`);
        }
        assert.equal(second.outputs.password, password);
        // now force every node's create once more, as `pulumi up --refresh` after a drift would
        for (const entry of [...engine.state.values()].filter((e) => e.type === "command:remote:Command")) {
            const out = await engine.ssh(entry.name, entry.inputs, entry.inputs.create);
            assert.doesNotMatch(out.stdout, /^(changed|restarted):/m, `${entry.name}:\n${out.stdout}`);
        }
        for (const n of env.nodes) assert.deepEqual(diffSnapshots(snaps.get(n.name)!, await snapshot(env, n.name)), [], `node ${n.name}`);
        for (const [name, pid] of pids) assert.equal(containerdPid(env.nodes.find((n) => n.name === name)!), pid, `containerd on ${name} not restarted`);
    });

    it("durable: a new leaf and a new password replace the container; images stay; nodes keep trusting without re-running", async () => {
        const cfg = { ...base, password: "a-brand-new-password-42", tls: { ...(base.tls ?? {}), rotation: 7 } };
        const runsBefore = engine.commandRuns.length;
        const oldLeaf = (await httpsGet({ host: env.hostAddress, port, servername: hostname, ca: caPem })).cert?.fingerprint256;
        const third = await engine.up(cfg, ["password"]);
        noErrors(third);
        assert.equal(third.actions.get("registry-server-container"), "replace");
        assert.equal(third.actions.get("registry-tls-leaf"), "replace");
        assert.equal(third.actions.get("registry-tls-ca"), "same");
        assert.equal(third.outputs.caCertificatePem, caPem);
        assert.equal(engine.commandRuns.length, runsBefore, "nodes were not touched: they trust the CA, not the leaf");
        const newLeaf = (await httpsGet({ host: env.hostAddress, port, servername: hostname, ca: caPem })).cert?.fingerprint256;
        assert.notEqual(newLeaf, oldLeaf);
        const newClient = clientFiles(work, "client2", pullSecretOf(third), caPem);
        let r = await skopeo(["inspect", "--cert-dir", newClient.certDir, "--authfile", newClient.authfile, "--format", "{{.Digest}}", `docker://${registry}/test/app:1`], env);
        assert.equal(r.stdout.trim(), pushedDigest, r.stderr);
        r = await skopeo(["inspect", "--cert-dir", client.certDir, "--authfile", client.authfile, `docker://${registry}/test/app:1`], env);
        assert.notEqual(r.code, 0, "the old password is refused");
        // the nodes, untouched, still trust the renewed registry
        fs.copyFileSync(newClient.authfile, path.join(work, "client", "auth.json"));
        const a = env.nodes.find((n) => n.runtime === "docker" || n.runtime === "crio");
        if (a) {
            const out = await onNode(a.name, `skopeo inspect --authfile '${path.join(work, "client", "auth.json")}' --format '{{.Digest}}' 'docker://${registry}/test/app:1'`);
            assert.equal(out.stdout.trim(), pushedDigest, out.stderr);
        }
        const b = env.nodes.find((n) => n.runtime === "containerd");
        if (b) {
            const out = await onNode(b.name, `ctr -a '${b.containerdSocket}' -n live2 images pull --hosts-dir /etc/containerd/certs.d --user '${user}:a-brand-new-password-42' '${registry}/test/app:1'`);
            assert.equal(out.code, 0, out.stderr);
        }
        password = "a-brand-new-password-42";
        base.password = password;
        base.tls = cfg.tls;
    });

    it("faults: an unreachable node fails fast with its name; the others stay configured", async () => {
        const cfg = { ...base, nodes: [...base.nodes, { name: "gone", host: env.unreachable.host, runtime: "docker", privateKeyPath: env.sshKeyPath, perDialTimeout: 3, dialErrorLimit: 2 }] };
        const t = Date.now();
        const r = await engine.up(cfg, ["password"]);
        const ms = Date.now() - t;
        assert.deepEqual([...r.errors.keys()], ["registry-node-gone-trust"]);
        assert.match(r.errors.get("registry-node-gone-trust")!, new RegExp(env.unreachable.host.replace(/\./g, "\\.")));
        for (const n of env.nodes) assert.equal(r.actions.get(`registry-node-${n.name}-trust`), "same");
        assert.ok(ms < 30_000, `took ${ms} ms`);
        log(`unreachable node reported in ${ms} ms`);
        // drop it again
        noErrors(await engine.up(base, ["password"]));
    });

    it("reversible: destroy runs the deletes and every node's files are exactly as before", async () => {
        const errors = await engine.destroy();
        assert.deepEqual([...errors.entries()], []);
        for (const n of env.nodes) {
            const diff = diffSnapshots(before0.get(n.name)!, await snapshot(env, n.name), NOT_OURS);
            assert.deepEqual(diff, [], `node ${n.name} differs after destroy`);
        }
        const ps = await run("docker", ["-H", env.dockerHost, "ps", "-aq", "--filter", "name=live-registry"]);
        assert.equal(ps.stdout.trim(), "", "container removed");
        const vol = await run("docker", ["-H", env.dockerHost, "volume", "inspect", "live-registry-data"]);
        assert.equal(vol.code, 0, "the data volume is retained on destroy");
    });
});
