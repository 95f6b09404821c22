// Live section: what follows the first up — no perpetual diff, rotation, a node moving host, an
// unreachable node, secrets in state and argv, interrupted runs, and destroy.
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as tls from "tls";
import { describe, it } from "node:test";
import { changed, nameOf, run } from "./cli";
import { configure, containerId, env, live, log, readOutputs, sshSessions, stack, state, upOk } from "./context";
import { pullOnNode } from "./nodes.live";
import { interrupted } from "./interrupt";
import { checkAfterDestroy, checkAfterRotation, KUBECONFIG, secretUid } from "./kubernetes.live";
import { diffSnapshots, httpsGet, leaks, sampleArgv, secretForms, skopeo, snapshot } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
// /etc/ca-certificates' Java hook rewrites a keystore with fresh timestamps on every run; it is not ours
export const NOT_OURS = [/java\/cacerts$/];
const nodeNames = (): string[] => live.config.nodes.map((n: { name: string }) => n.name);

async function noChanges(): Promise<void> {
    const p = await stack.preview(["--expect-no-changes"]);
    assert.equal(p.code, 0, `preview --expect-no-changes: ${changed(p).join(", ")}\n${p.stderr.slice(-2000)}`);
    const r = await stack.refresh(["--expect-no-changes"]);
    assert.equal(r.code, 0, `refresh --expect-no-changes: ${changed(r).join(", ")}\n${r.stderr.slice(-2000)}`);
}

/** The secrets the program holds: from the state with secrets shown (the test's view, not a user's). */
async function secretValues(): Promise<Record<string, string>> {
    const full = (await stack.must(["stack", "export", "--show-secrets"])).stdout;
    const res: any[] = JSON.parse(full).deployment.resources ?? [];
    // with --show-secrets a secret reads {"<sig>": "1b47…", "plaintext": "<JSON of the value>"}
    const plain = (v: any): string => (v && typeof v === "object" && "plaintext" in v ? JSON.parse(v.plaintext) : v);
    const out = (type: string, key: string): string[] => res.filter((r) => r.type === type).map((r) => plain(r.outputs?.[key])).filter(Boolean);
    // the push login's line: in the front's push file, or the only registry's htpasswd
    const htpasswd = await run("docker", ["-H", env.dockerHost, "exec", live.config.containerName, "cat", live.pullOnly ? "/auth/push.htpasswd" : "/auth/htpasswd"]);
    const values: Record<string, string> = {
        password: state.password,
        auth: Buffer.from(`${live.user}:${state.password}`).toString("base64"),
        "pull password": state.pullPassword,
        "pull auth": Buffer.from(`${state.pullUser}:${state.pullPassword}`).toString("base64"),
        htpasswd: htpasswd.stdout.trim(),
        "ssh private key": fs.readFileSync(env.sshKeyPath, "utf8"),
        ...Object.fromEntries(out("tls:index/privateKey:PrivateKey", "privateKeyPem").map((k, i) => [`tls key ${i}`, k])),
        ...(live.secrets["mirror.password"] ? { "upstream password": live.secrets["mirror.password"] } : {}),
    };
    assert.ok(values.htpasswd.startsWith(`${live.user}:$2`), "read the htpasswd line");
    const kubeconfig = live.secrets["kubernetes.kubeconfig"];
    if (kubeconfig) {
        values.kubeconfig = kubeconfig;
        values["kubeconfig client key"] = /client-key-data:\s*"?([A-Za-z0-9+/=]+)/.exec(kubeconfig)?.[1] ?? "";
        assert.ok(values["kubeconfig client key"], "the kubeconfig carries a client key");
    }
    return values;
}

/** Starts a node's sshd again as env/up.sh did (same config, in the node's namespaces), waiting until it listens. */
async function startSshd(n: { name: string; host: string; nodeDir: string }): Promise<void> {
    const nsPid = fs.readFileSync(`${n.nodeDir}/ns.pid`, "utf8").trim();
    const r = await run("bash", ["-c", `setsid nsenter -t ${nsPid} -n -m -- /usr/sbin/sshd -D -e -f "$1/sshd_config" </dev/null >>"$1/sshd.log" 2>&1 9>&- & echo $! > "$1/sshd.pid"; ` +
        `for _ in $(seq 100); do (exec 3<>"/dev/tcp/${n.host}/22") 2>/dev/null && exit 0; sleep 0.1; done; exit 1`, "_", n.nodeDir]);
    assert.equal(r.code, 0, `sshd of node ${n.name} did not come back: ${r.stderr}`);
}

/** The leaf's private key PEMs in state (not the CA's). */
async function leafKeys(): Promise<string[]> {
    const res: any[] = JSON.parse((await stack.must(["stack", "export", "--show-secrets"])).stdout).deployment.resources ?? [];
    const plain = (v: any): string => (v && typeof v === "object" && "plaintext" in v ? JSON.parse(v.plaintext) : v);
    return res.filter((r) => r.type === "tls:index/privateKey:PrivateKey" && /::registry-tls-key(-r\d+)?$/.test(r.urn)).map((r) => plain(r.outputs?.privateKeyPem));
}

export function lifecycleChecks(): void {
    describe("live: re-running, rotating, moving, failing, interrupting, destroying", () => {
        let afterFirst: Map<string, Map<string, string>>;

        it("no perpetual diff: preview and refresh with --expect-no-changes pass right after up", async () => {
            afterFirst = new Map();
            for (const n of env.nodes) afterFirst.set(n.name, await snapshot(env, n.name));
            await noChanges();
        });

        it("a second up changes nothing, opens no SSH session and keeps the container", async () => {
            const id = await containerId();
            assert.notEqual(id, "");
            const ssh = sshSessions();
            const o = await upOk();
            assert.deepEqual(changed(o), []);
            assert.deepEqual(sshSessions(), ssh, "no SSH session when nothing changed");
            assert.equal(await containerId(), id);
            for (const n of env.nodes) assert.deepEqual(diffSnapshots(afterFirst.get(n.name)!, await snapshot(env, n.name)), [], `node ${n.name}`);
        });

        it("secrets: no plaintext or base64 secret in the backend's files or in `pulumi stack export`", async () => {
            const forms = secretForms(await secretValues());
            const files = stack.stateFiles();
            assert.ok(files.some((f) => f.endsWith(".json")), "the backend wrote state files");
            let scanned = 0;
            for (const f of files) {
                assert.deepEqual(leaks(fs.readFileSync(f, "utf8"), forms), [], f);
                scanned++;
            }
            assert.deepEqual(leaks(await stack.exportState(), forms), [], "pulumi stack export");
            log(`secret scan: ${forms.size} secret forms, ${scanned} state files + the export, 0 found`);
        });

        it("rotation: a new leaf and a new password replace the container; images stay; nodes still trust; the old password is refused", async () => {
            const newPassword = `rotated-'"$\`-password-${Date.now()}`;
            const oldLeaf = (await httpsGet({ host: env.hostAddress, port: live.port, servername: live.hostname, ca: state.caPem })).cert?.fingerprint256;
            const oldKeys = await leafKeys();
            assert.equal(oldKeys.length, 1, "one leaf key in state");
            const oldId = await containerId();
            const oldClient = { ...state.client };
            fs.copyFileSync(oldClient.authfile, `${oldClient.authfile}.old`);
            const ssh = sshSessions();
            const uid = KUBECONFIG ? await secretUid() : "";
            live.config.tls = { ...(live.config.tls ?? {}), rotation: 7 };
            live.secrets.password = newPassword;
            await configure();
            const sampler = sampleArgv();
            const o = await upOk();
            const argv = sampler.stop();
            const replaced = changed(o).filter((c) => c.startsWith("replace"));
            // the container that serves the address: the front, or the only registry container
            assert.ok(replaced.includes(live.pullOnly ? "replace registry-server-front-container" : "replace registry-server-container"), changed(o).join(", "));
            assert.ok(replaced.some((c) => c.endsWith("-leaf")), changed(o).join(", "));
            assert.ok(!changed(o).some((c) => / registry-tls-ca(-key)?$/.test(c)), "the CA stays");
            assert.ok(!changed(o).some((c) => c.endsWith("-trust")), "nodes trust the CA, not the leaf: not re-run");
            assert.deepEqual(sshSessions(), ssh);
            assert.notEqual(await containerId(), oldId);
            const caBefore = state.caPem;
            await readOutputs();
            assert.equal(state.caPem, caBefore);
            assert.equal(state.password, newPassword);
            const served = (await httpsGet({ host: env.hostAddress, port: live.port, servername: live.hostname, ca: state.caPem })).cert!;
            assert.notEqual(served.fingerprint256, oldLeaf);
            // a rotation after a leak: the leaf's key is new, and the old key does not belong to what is served
            assert.ok(changed(o).includes("create registry-tls-key-r7"), changed(o).join(", "));
            assert.ok(changed(o).includes("delete registry-tls-key"), changed(o).join(", "));
            const newKeys = await leafKeys();
            assert.equal(newKeys.length, 1);
            assert.notEqual(newKeys[0], oldKeys[0], "a new private key");
            const servedCert = new crypto.X509Certificate(served.raw);
            assert.equal(servedCert.checkPrivateKey(crypto.createPrivateKey(newKeys[0])), true, "the registry serves the new key's certificate");
            assert.equal(servedCert.checkPrivateKey(crypto.createPrivateKey(oldKeys[0])), false, "the leaked key does not match it");
            assert.throws(() => tls.createSecureContext({ cert: servedCert.toString(), key: oldKeys[0] }), /key values mismatch/,
                "the old key cannot complete a handshake as the registry's certificate");
            let r = await skopeo(["inspect", "--cert-dir", state.client.certDir, "--authfile", state.client.authfile, "--format", "{{.Digest}}", `docker://${live.registry}/test/app:1`], env);
            assert.equal(r.stdout.trim(), state.pushedDigest, r.stderr);
            r = await skopeo(["inspect", "--cert-dir", oldClient.certDir, "--authfile", `${oldClient.authfile}.old`, `docker://${live.registry}/test/app:1`], env);
            assert.notEqual(r.code, 0, "the old password is refused");
            for (const n of env.nodes.filter((x) => nodeNames().includes(x.name))) {
                assert.equal(await pullOnNode(n, state.client.authfile, live.user, newPassword, "rotated"), state.pushedDigest, `node ${n.name}`);
            }
            const forms = secretForms(await secretValues());
            const seen = argv.filter((a) => leaks(a, forms).length > 0);
            assert.deepEqual(seen, [], "no secret in the argv of any process during up");
            log(`argv sampling during the rotation up: ${argv.length} distinct command lines, 0 with a secret`);
            if (KUBECONFIG) await checkAfterRotation(uid);
            await noChanges();
        });

        // a stack file pinned to the 2 line moves to 3 (the default) as a user upgrading would
        if (live.config.image === env.registryImages["2"]) {
            it("the registry moves from 2.8 to 3.1: containers replaced, pushed images and nodes untouched", async () => {
                const ssh = sshSessions();
                live.config.image = env.registryImages["3"];
                await configure();
                const o = await upOk();
                for (const c of live.pullOnly ? ["registry-server-reader", "registry-server-writer"] : ["registry-server-container"]) {
                    assert.ok(changed(o).includes(`replace ${c}`), changed(o).join(", "));
                }
                assert.ok(changed(o).includes("replace registry-mirror-container"), changed(o).join(", "));
                assert.ok(!changed(o).some((c) => c.endsWith("-trust")), "nodes are not re-run");
                assert.deepEqual(sshSessions(), ssh);
                const r = await skopeo(["inspect", "--cert-dir", state.client.certDir, "--authfile", state.client.authfile, "--format", "{{.Digest}}",
                    `docker://${live.registry}/test/app:1`], env);
                assert.equal(r.stdout.trim(), state.pushedDigest, r.stderr);
                const logs = await run("docker", ["-H", env.dockerHost, "logs", live.pullOnly ? `${live.config.containerName}-writer` : live.config.containerName]);
                assert.match(logs.stdout + logs.stderr, /version=v3\.1\.2/, "the 3 line serves");
                await noChanges();
            });
        }

        it("a node's host changes under the same name: the old host is clean, the new one trusts", async () => {
            const from = env.nodes.find((n) => n.name === "a")!;
            const to = env.nodes.find((n) => n.name === "f");
            assert.ok(to, "the suite's environment has the spare node f (LIVE_EXTRA_NODES=1)");
            const moved = live.config.nodes.map((n: any) => (n.name === "a" ? { ...n, host: to.host, hostKey: to.hostKey } : n));
            await configure({ nodes: moved });
            const o = await upOk();
            assert.ok(changed(o).includes("replace registry-node-a-trust"), changed(o).join(", "));
            assert.deepEqual(diffSnapshots(state.before.get(from.name)!, await snapshot(env, from.name), NOT_OURS), [], "old host clean");
            assert.equal(await pullOnNode(to, state.client.authfile, live.user, state.password), state.pushedDigest);
            await configure();
            await upOk();
            assert.deepEqual(diffSnapshots(state.before.get(to.name)!, await snapshot(env, to.name), NOT_OURS), [], "spare node clean again");
            assert.deepEqual(diffSnapshots(afterFirst.get(from.name)!, await snapshot(env, from.name), NOT_OURS), [], "node a as after the first up");
        });

        it("an unreachable node fails the up within seconds, naming it; the others converge", async () => {
            const gone = { name: "gone", host: env.unreachable.host, runtime: "docker", privateKeyPath: env.sshKeyPath, perDialTimeout: 3, dialErrorLimit: 2 };
            await configure({ nodes: [...live.config.nodes, gone] });
            const o = await stack.up();
            assert.notEqual(o.code, 0);
            const failed = [...o.ops].filter(([, op]) => op.startsWith("failed")).map(([u]) => nameOf(u));
            assert.deepEqual(failed, ["registry-node-gone-trust"]);
            const msg = o.errors.map((e) => e.message).join("\n");
            assert.match(msg, new RegExp(env.unreachable.host.replace(/\./g, "\\.")));
            assert.ok(o.ms < 60_000, `took ${o.ms} ms`);
            log(`unreachable node: up failed after ${o.ms} ms`);
            await configure();
            await upOk();
            await noChanges();
        });

        it("a node that is gone: removing it fails as before; retired: true and then its removal never connect to it", async () => {
            const f = env.nodes.find((n) => n.name === "f")!;
            const entry = { name: "retiring", host: f.host, port: f.port, user: f.user, runtime: f.runtime, privateKeyPath: env.sshKeyPath,
                hostKey: f.hostKey, perDialTimeout: 2, dialErrorLimit: 1, useMirror: false };
            await configure({ nodes: [...live.config.nodes, entry] });
            await upOk();
            const fConfigured = await snapshot(env, "f");
            // the machine is gone: nothing listens on its SSH port any more (refused at once, and nothing
            // leaves this host). A stopped sshd would not do: the provider's dial timeout covers the TCP
            // connect only, and a handshake that never comes holds the run forever.
            process.kill(Number(fs.readFileSync(`${f.nodeDir}/sshd.pid`, "utf8")), "SIGTERM");
            try {
                await configure();
                const gone = await stack.up();
                assert.notEqual(gone.code, 0, "the delete of a node that is gone fails, as it always did");
                assert.deepEqual([...gone.ops].filter(([, op]) => op.startsWith("failed")).map(([u]) => nameOf(u)), ["registry-node-retiring-trust"]);
                await configure({ nodes: [...live.config.nodes, { ...entry, retired: true }] });
                let o = await upOk();
                assert.ok(!changed(o).some((c) => c.includes("retiring")), `nothing runs for a retired node: ${changed(o).join(", ")}`);
                await readOutputs();
                assert.match(state.outputs.nodeReports.retiring, /^retired: retiring is not contacted/);
                await configure();
                o = await upOk();
                // the node's component and its command leave the stack; the command's delete (the script) is not run
                assert.deepEqual(changed(o).filter((c) => c.includes("retiring")), ["delete registry-node-retiring", "delete registry-node-retiring-trust"]);
                const exported = await stack.exportState();
                assert.ok(!exported.includes("registry-node-retiring"), "no longer in the stack");
            } finally {
                await startSshd(f);
            }
            assert.deepEqual(diffSnapshots(fConfigured, await snapshot(env, "f"), NOT_OURS), [], "nothing touched the retired node");
            // the machine back for the checks that follow: adopted again, then removed the usual way
            await configure({ nodes: [...live.config.nodes, entry] });
            await upOk();
            await configure();
            await upOk();
            assert.deepEqual(diffSnapshots(state.before.get("f")!, await snapshot(env, "f"), NOT_OURS), [], "node f clean again");
            await readOutputs();
            await noChanges();
        });

        interrupted(() => afterFirst);

        it("destroy: every node byte-equal to before the first up; the container gone, the volume kept", async () => {
            const o = await stack.destroy();
            assert.equal(o.code, 0, o.stderr.slice(-3000));
            for (const n of env.nodes) {
                assert.deepEqual(diffSnapshots(state.before.get(n.name)!, await snapshot(env, n.name), NOT_OURS), [], `node ${n.name} differs after destroy`);
            }
            assert.equal(await containerId(), "");
            if (live.config.dataVolume) {
                const vol = await run("docker", ["-H", env.dockerHost, "volume", "inspect", live.config.dataVolume]);
                assert.equal(vol.code, 0, "the data volume is retained on destroy");
            }
            if (KUBECONFIG) await checkAfterDestroy();
        });
    });
}
