// Live section: after the first up, every node trusts the registry the scoped way for its runtime.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { nodeCommand, nodeTrustScript } from "../../components/nodes/nodeScripts";
import { run } from "./cli";
import { env, live, state, work } from "./context";
import { criPull, LiveNode, nodeExec } from "./support";

const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Pulls the pushed test image on a node through its runtime's trust; returns the digest it got. */
export async function pullOnNode(n: LiveNode, authfile: string, user: string, password: string, ctrNamespace = "live"): Promise<string> {
    const ref = `${live.registry}/test/app:1`;
    if (n.runtime === "containerd") {
        // the login goes in on stdin, so any character in the password is safe from the shell
        const ctr = q(n.ctr ?? "ctr");
        const r = await nodeExec(env, n.name, `${ctr} -a ${q(n.containerdSocket!)} -n ${ctrNamespace} images pull --hosts-dir /etc/containerd/certs.d --user "$(cat)" ${q(ref)} >/dev/null && ` +
            `${ctr} -a ${q(n.containerdSocket!)} -n ${ctrNamespace} images ls | awk -v r=${q(ref)} '$1==r{print $3}'`, `${user}:${password}`);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        return r.stdout.trim();
    }
    // skopeo with no --cert-dir reads exactly the scoped certs.d files of docker and CRI-O
    const r = await nodeExec(env, n.name, `skopeo inspect --authfile ${q(authfile)} --format '{{.Digest}}' ${q(`docker://${ref}`)}`);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
}

export function nodeChecks(): void {
    describe("live: every node trusts the registry the scoped way", () => {
        const authOnNode = () => path.join(work, "client", "auth.json"); // /tmp is shared with the nodes
        const { registry, hostname } = live;

        for (const n of env.nodes.filter((x) => live.config.nodes.some((c: { name: string }) => c.name === x.name))) {
            it(`node ${n.name} (${n.runtime}${n.user !== "root" ? `, via sudo as ${n.user}` : ""}): its trust works`, async () => {
                if (n.runtime === "docker" || n.runtime === "crio") {
                    const dir = n.runtime === "docker" ? "/etc/docker/certs.d" : "/etc/containers/certs.d";
                    const ca = await nodeExec(env, n.name, `cat ${q(`${dir}/${registry}/ca.crt`)}`);
                    assert.equal(ca.stdout.trim(), state.caPem.trim());
                    const other = n.runtime === "docker" ? "/etc/containers/certs.d" : "/etc/docker/certs.d";
                    assert.notEqual((await nodeExec(env, n.name, `test -e ${q(`${other}/${registry}`)}`)).code, 0, "only the node's runtime is configured");
                } else if (n.runtime === "containerd") {
                    const toml = await nodeExec(env, n.name, `cat ${q(`/etc/containerd/certs.d/${registry}/hosts.toml`)}`);
                    assert.match(toml.stdout, new RegExp(`\\[host\\."https://${re(registry)}"\\]`));
                    const cfg = await nodeExec(env, n.name, "cat /etc/containerd/config.toml");
                    assert.match(cfg.stdout, /config_path\s*=\s*"\/etc\/containerd\/certs\.d"/);
                }
                // nodes pull with the pull login, as the pull secret does
                assert.equal(await pullOnNode(n, authOnNode(), state.pullUser, state.pullPassword), state.pushedDigest);
                if (n.runtime === "containerd") {
                    // and as kubelet pulls: through the running containerd's CRI plugin, which reads hosts.toml per pull
                    const imageRef = await criPull(n.containerdSocket!, `${registry}/test/app:1`, state.pullUser, state.pullPassword);
                    assert.match(imageRef, /^sha256:[0-9a-f]{64}$/);
                }
                const daemon = await nodeExec(env, n.name, "cat /etc/docker/daemon.json 2>/dev/null || true");
                assert.doesNotMatch(daemon.stdout, /insecure-registries/);
                const hosts = await nodeExec(env, n.name, "cat /etc/hosts");
                const line = new RegExp(`^${re(env.hostAddress)}\\s+${re(hostname)}\\b`, "m");
                if (live.hostsLines) assert.match(hosts.stdout, line);
                else assert.doesNotMatch(hosts.stdout, line);
                // system trust only where switched on: curl with no --cacert
                const curl = await nodeExec(env, n.name, `curl -s -o /dev/null -w '%{http_code}' ${q(`https://${registry}/v2/`)}`);
                if (n.name === "d") assert.equal(curl.stdout, "401", curl.stderr);
                else assert.notEqual(curl.stdout, "401", "no system-wide trust unless opted in");
            });
        }

        it("node a: the insecureRegistry opt-in of a second stack reaches dockerd by a reload (same pid); its delete keeps this stack's mirror", async () => {
            const a = env.nodes.find((n) => n.name === "a")!;
            const reg = "insecure.registry.test:5999";
            const script = nodeTrustScript({
                registry: reg, hostname: "insecure.registry.test", caPem: state.caPem, runtime: "docker", systemTrust: false, insecureRegistry: true,
                containerdConfigFile: "/etc/containerd/config.toml", containerdRestartCommand: "exit 1", reloadCommand: a.reloadCommand!,
                id: "private-registry-insecure-check", nodeName: "a",
            });
            const pid = fs.readFileSync(a.dockerPidFile!, "utf8").trim();
            const daemonJson = (await nodeExec(env, "a", "cat /etc/docker/daemon.json")).stdout;
            const info = async (): Promise<{ insecure: boolean; mirrors: string[] }> => {
                const r = await run("docker", ["-H", `unix://${a.dockerSocket}`, "info", "--format", "{{json .RegistryConfig}}"]);
                const c = JSON.parse(r.stdout) as { IndexConfigs: Record<string, { Secure: boolean }>; Mirrors: string[] };
                return { insecure: c.IndexConfigs[reg]?.Secure === false, mirrors: c.Mirrors ?? [] };
            };
            // the reload is a signal: dockerd applies it a moment later
            const until = async (insecure: boolean): Promise<void> => {
                for (let i = 0; i < 100 && (await info()).insecure !== insecure; i++) await new Promise((r) => setTimeout(r, 100));
            };
            const created = await nodeExec(env, "a", nodeCommand("create", "root"), script);
            assert.equal(created.code, 0, created.stderr);
            assert.match(created.stdout, /^reloaded: the runtime's mirror settings \(added insecure\.registry\.test:5999 to insecure-registries/m);
            await until(true);
            assert.equal((await info()).insecure, true, "dockerd treats the registry as insecure");
            const deleted = await nodeExec(env, "a", nodeCommand("delete", "root"), script);
            assert.equal(deleted.code, 0, deleted.stderr);
            await until(false);
            const after = await info();
            assert.equal(after.insecure, false);
            assert.deepEqual(after.mirrors, [`https://${state.outputs.mirrorHost}/`], "this stack's registry-mirrors entry stays");
            assert.equal((await nodeExec(env, "a", "cat /etc/docker/daemon.json")).stdout, daemonJson, "daemon.json as it was");
            assert.equal(fs.readFileSync(a.dockerPidFile!, "utf8").trim(), pid, "dockerd kept running: no restart");
            assert.equal(fs.readFileSync(path.join(a.nodeDir, "dockerd", "dockerd.started.pid"), "utf8").trim(), pid);
        });

        it("containerd: enabled config_path once and restarted where it was off; no restart where it was on", () => {
            for (const n of env.nodes.filter((x) => x.runtime === "containerd")) {
                const report = state.outputs.nodeReports[n.name] as string;
                if (n.containerdConfigPathPreset) assert.doesNotMatch(report, /restarted/);
                else assert.match(report, /restarted: containerd/);
            }
        });
    });
}
