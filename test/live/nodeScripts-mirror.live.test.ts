// Real runs of the node scripts with a pull-through mirror, on private copies of this machine's /etc
// (test/live/scriptNode.ts): each runtime pointed at the mirror, reloaded rather than restarted, and
// every file given back exactly on delete or when the mirror is switched off.
// Run: node --import tsx --test test/live/nodeScripts-mirror.live.test.ts   (root)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { NodeScriptOptions, nodeTrustScript } from "../../components/nodes/nodeScripts";
import { cycle, diff, HOST, ID, lines, Node, opts, pki, REG, setUp, skipReason, tearDown } from "./scriptNode";

const MIRROR = `${HOST}:5001`;
const mirror = { address: MIRROR, upstream: "docker.io", upstreamUrl: "https://registry-1.docker.io" };
const DROPIN = `/etc/containers/registries.conf.d/50-${ID}-mirror.conf`;
const mopts = (node: Node, over: Partial<NodeScriptOptions>): NodeScriptOptions =>
    opts({ mirror, reloadCommand: node.restart("reload.log"), ...over });

describe("node scripts with a mirror, on a private copy of this system", { skip: skipReason }, () => {
    before(setUp);
    after(tearDown);

    test("docker: registry-mirrors in daemon.json beside the user's keys, one reload, no restart; original bytes back", () => {
        const node = new Node("docker-mirror");
        const original = '{\n    "log-driver": "json-file",\n    "registry-mirrors": ["https://other.mirror"]\n}\n';
        node.write("/etc/docker/daemon.json", original);
        // the restart command earlier versions took for daemon.json: it must not run
        const script = nodeTrustScript(mopts(node, { runtime: "docker", dockerRestartCommand: node.restart("restart.log") }));
        cycle(node, script, {
            created: (out) => {
                assert.deepEqual(JSON.parse(node.read("/etc/docker/daemon.json")),
                    { "log-driver": "json-file", "registry-mirrors": ["https://other.mirror", `https://${MIRROR}`] });
                assert.equal(node.read(`/etc/docker/certs.d/${MIRROR}/ca.crt`), pki.caPem);
                assert.match(out, new RegExp(`^reloaded: the runtime's mirror settings \\(added https://${MIRROR} to registry-mirrors in /etc/docker/daemon.json\\)$`, "m"));
                assert.ok(lines(out).includes(`mirror: docker.io through https://${MIRROR}: registry-mirrors in /etc/docker/daemon.json`), out);
                assert.equal(node.count("reload.log"), 1);
            },
            deleted: (out) => {
                assert.match(out, /^restored: \/etc\/docker\/daemon.json$/m);
                assert.match(out, /^reloaded: /m);
            },
        });
        assert.equal(node.read("/etc/docker/daemon.json"), original);
        assert.equal(node.count("reload.log"), 2, "one reload on create, one on delete");
        assert.equal(node.count("restart.log"), 0, "dockerd never restarted");
    });

    test("docker: edited since create, delete takes out only the mirror entry; without a daemon.json, it goes", () => {
        const node = new Node("docker-edited");
        const script = nodeTrustScript(mopts(node, { runtime: "docker" }));
        node.ok(script, "create");
        assert.deepEqual(JSON.parse(node.read("/etc/docker/daemon.json")), { "registry-mirrors": [`https://${MIRROR}`] });
        const edited = JSON.parse(node.read("/etc/docker/daemon.json"));
        edited.debug = true;
        node.write("/etc/docker/daemon.json", JSON.stringify(edited));
        const out = node.ok(script, "delete");
        assert.match(out, /^changed: \/etc\/docker\/daemon.json$/m);
        assert.deepEqual(JSON.parse(node.read("/etc/docker/daemon.json")), { debug: true });
        assert.equal(fs.existsSync(node.p(`/etc/${ID}`)), false, "no state left");

        const fresh = new Node("docker-none");
        const start = fresh.tree();
        fresh.ok(script, "create");
        fresh.ok(script, "delete");
        assert.deepEqual(diff(start, fresh.tree()), [], "daemon.json and certs.d gone again");
    });

    test("docker: switching the mirror off on an update takes out its entry and CA, with one reload", () => {
        const node = new Node("docker-off");
        const original = '{"log-driver": "local"}\n';
        node.write("/etc/docker/daemon.json", original);
        node.ok(nodeTrustScript(mopts(node, { runtime: "docker" })), "create");
        const out = node.ok(nodeTrustScript(mopts(node, { runtime: "docker", mirror: undefined })), "create");
        assert.match(out, /^restored: \/etc\/docker\/daemon.json$/m);
        assert.match(out, new RegExp(`^removed: /etc/docker/certs.d/${MIRROR}/ca.crt$`, "m"));
        assert.equal(node.read("/etc/docker/daemon.json"), original);
        assert.equal(node.count("reload.log"), 2);
        assert.ok(fs.existsSync(node.p(`/etc/docker/certs.d/${REG}/ca.crt`)), "the registry's own trust stays");
    });

    test("crio: a registries.conf.d drop-in and the mirror's CA; a reload only when the drop-in changes", () => {
        const node = new Node("crio-mirror");
        cycle(node, nodeTrustScript(mopts(node, { runtime: "crio" })), {
            created: (out) => {
                assert.equal(node.read(DROPIN), `# private-registry (${ID}): pull docker.io images through the mirror ${MIRROR} first.\n` +
                    `[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${MIRROR}"\n`);
                assert.equal(node.read(`/etc/containers/certs.d/${MIRROR}/ca.crt`), pki.caPem);
                assert.ok(lines(out).includes(`mirror: docker.io through ${MIRROR}: ${DROPIN}`), out);
                assert.equal(node.count("reload.log"), 1);
            },
            deleted: (out) => assert.ok(lines(out).includes(`removed: ${DROPIN}`), out),
        });
        assert.equal(node.count("reload.log"), 2, "create and delete, not the unchanged run");
    });

    test("containerd 2.x (v3, no config_path): one directory set, the upstream's hosts.toml with the mirror first", () => {
        const node = new Node("ctd-mirror");
        const cfg = "version = 3\n\n[plugins.'io.containerd.cri.v1.images']\n  snapshotter = \"overlayfs\"\n";
        node.write("/etc/containerd/config.toml", cfg);
        cycle(node, nodeTrustScript(mopts(node, { runtime: "containerd", containerdRestartCommand: node.restart("ctd.log") })), {
            created: (out) => {
                assert.match(node.read("/etc/containerd/config.toml"), /\[plugins\."io\.containerd\.cri\.v1\.images"\.registry\]\n {2}config_path = "\/etc\/containerd\/certs\.d"/);
                assert.equal(node.read("/etc/containerd/certs.d/docker.io/hosts.toml"),
                    `server = "https://registry-1.docker.io"\n\n[host."https://${MIRROR}"]\n  capabilities = ["pull", "resolve"]\n` +
                    `  ca = "/etc/containerd/certs.d/${REG}/ca.crt"\n`);
                assert.ok(lines(out).includes(`mirror: docker.io through ${MIRROR}: /etc/containerd/certs.d/docker.io/hosts.toml`), out);
                assert.equal(node.count("reload.log"), 0, "containerd reads hosts.toml per pull");
            },
        });
        assert.equal(node.read("/etc/containerd/config.toml"), cfg);
        assert.equal(node.count("ctd.log"), 2, "config_path enabled once (create) and restored once (delete)");
    });

    test("an upstream's hosts.toml the user had is backed up and given back", () => {
        const node = new Node("ctd-own-hub");
        node.write("/etc/containerd/config.toml", 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n');
        const mine = 'server = "https://registry-1.docker.io"\n';
        node.write("/etc/containerd/certs.d/docker.io/hosts.toml", mine);
        cycle(node, nodeTrustScript(mopts(node, { runtime: "containerd" })), {
            created: () => assert.match(node.read("/etc/containerd/certs.d/docker.io/hosts.toml"), new RegExp(`\\[host\\."https://${MIRROR}"\\]`)),
        });
        assert.equal(node.read("/etc/containerd/certs.d/docker.io/hosts.toml"), mine);
    });
});
