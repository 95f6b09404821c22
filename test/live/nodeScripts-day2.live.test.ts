// Real runs of the node scripts in the situations of a node's later life (test/live/scriptNode.ts): two
// stacks on one node, runs at the same time, a restart that fails, a node without python3 or flock,
// /etc/hosts lines of the user's, and the RHEL and SUSE layouts of the system CA store.
// Run: node --import tsx --test test/live/nodeScripts-day2.live.test.ts   (root)
//
// What runs for real: bash, flock, containerd's own parser (Debian's containerd 1.6, `config dump`), python3,
// glibc's resolver (getent) and Debian's update-ca-certificates (in nodeScripts.live.test.ts). What does not:
// RHEL's update-ca-trust and SUSE's update-ca-certificates are not on this Debian machine, so a stand-in that
// records its call takes their place, first on the script's PATH; the tests check where the CA goes and that
// the distribution's tool is called, not that tool's work. The restart commands only count their calls.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { NodeScriptOptions, nodeTrustScript } from "../../components/nodes/nodeScripts";
import { cycle, diff, HOST, ID, lines, Node, opts, pki, REG, setUp, skipReason, tearDown } from "./scriptNode";

const CFG = "/etc/containerd/config.toml";
const HUB = "/etc/containerd/certs.d/docker.io/hosts.toml";
const UPSTREAM_URL = "https://registry-1.docker.io";
const mirrorA = { address: `${HOST}:5001`, upstream: "docker.io", upstreamUrl: UPSTREAM_URL };
// the second stack: its own id, registry and mirror
const B_ID = "private-registry-other";
const B_HOST = "other.registry.com";
const B_REG = `${B_HOST}:6000`;
const stackB = (over: Partial<NodeScriptOptions>): NodeScriptOptions => opts({
    id: B_ID, registry: B_REG, hostname: B_HOST, mirror: { address: `${B_HOST}:6001`, upstream: "docker.io", upstreamUrl: UPSTREAM_URL }, ...over,
});
const hubHost = (mirror: string, reg: string): string =>
    `\n[host."https://${mirror}"]\n  capabilities = ["pull", "resolve"]\n  ca = "/etc/containerd/certs.d/${reg}/ca.crt"\n`;
/** What containerd itself reads as config_path from the node's config.toml. */
const configPath = (node: Node): string => {
    const r = node.exec(["containerd", "--config", CFG, "config", "dump"]);
    assert.equal(r.status, 0, r.stderr);
    return /^\s*config_path = "(.*)"$/m.exec(r.stdout)?.[1] ?? "";
};
const V2 = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n';
// the review's odd layout: a dotted key in the cri table, so the edit appends a second registry table
const DOTTED = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  registry.config_path = ""\n';

describe("node scripts over a node's later life, on a private copy of this system", { skip: skipReason }, () => {
    before(setUp);
    after(tearDown);

    test("two stacks, one containerd node: the first to leave keeps config_path and the shared hosts.toml; the last gives /etc back", () => {
        const node = new Node("two-ctd");
        node.write(CFG, V2);
        const start = node.tree();
        const a = nodeTrustScript(opts({ runtime: "containerd", mirror: mirrorA, containerdRestartCommand: node.restart("ctd.log") }));
        const b = nodeTrustScript(stackB({ runtime: "containerd", containerdRestartCommand: node.restart("ctd.log") }));
        node.ok(a, "create");
        assert.equal(node.count("ctd.log"), 1, "config_path had to be enabled");
        const created = node.ok(b, "create");
        assert.ok(lines(created).includes(`unchanged: ${CFG}`), created);
        assert.equal(node.read(HUB), `server = "${UPSTREAM_URL}"\n${hubHost(mirrorA.address, REG)}${hubHost(`${B_HOST}:6001`, B_REG)}`);

        const gone = node.ok(a, "delete");
        assert.equal(configPath(node), "/etc/containerd/certs.d", gone);
        assert.equal(node.count("ctd.log"), 1, "no restart while another stack relies on config_path");
        assert.equal(node.read(HUB), `server = "${UPSTREAM_URL}"\n${hubHost(`${B_HOST}:6001`, B_REG)}`);
        assert.equal(node.read(`/etc/containerd/certs.d/${B_REG}/ca.crt`), pki.caPem);
        assert.ok(fs.existsSync(node.p(`/etc/containerd/certs.d/${B_REG}/hosts.toml`)));
        assert.equal(fs.existsSync(node.p(`/etc/containerd/certs.d/${REG}`)), false, "the first stack's own files went");

        const last = node.ok(b, "delete");
        assert.match(last, /^restarted: containerd \(restored \/etc\/containerd\/config.toml\)$/m);
        assert.equal(node.count("ctd.log"), 2);
        assert.deepEqual(diff(start, node.tree()), []);
    });

    test("two stacks, one docker node: daemon.json entries counted per stack; after both, the original bytes", () => {
        const node = new Node("two-docker");
        const original = '{\n    "log-driver": "json-file"\n}\n';
        node.write("/etc/docker/daemon.json", original);
        const start = node.tree();
        const reload = node.restart("reload.log");
        const a = nodeTrustScript(opts({ runtime: "docker", mirror: mirrorA, reloadCommand: reload }));
        const b = nodeTrustScript(stackB({ runtime: "docker", reloadCommand: reload }));
        node.ok(a, "create");
        node.ok(b, "create");
        assert.deepEqual(JSON.parse(node.read("/etc/docker/daemon.json")), {
            "log-driver": "json-file", "registry-mirrors": [`https://${mirrorA.address}`, `https://${B_HOST}:6001`],
        });
        node.ok(a, "delete");
        assert.deepEqual(JSON.parse(node.read("/etc/docker/daemon.json")), { "log-driver": "json-file", "registry-mirrors": [`https://${B_HOST}:6001`] });
        assert.equal(node.read(`/etc/docker/certs.d/${B_REG}/ca.crt`), pki.caPem);
        node.ok(b, "delete");
        assert.equal(node.read("/etc/docker/daemon.json"), original);
        assert.deepEqual(diff(start, node.tree()), []);
        assert.equal(node.count("reload.log"), 4, "a reload per run, never a restart");
    });

    test("one run at a time per node: a run waits while another holds the node lock", async () => {
        const node = new Node("lock");
        fs.mkdirSync(path.join(node.dir, "run", "lock"));
        const held = path.join(node.dir, "held");
        const holder = spawn("flock", [path.join(node.dir, "run", "lock", "private-registry.lock"), "sh", "-c", `touch '${held}'; sleep 2`]);
        const exited = new Promise((resolve) => holder.on("exit", resolve));
        while (!fs.existsSync(held)) await new Promise((r) => setTimeout(r, 20));
        const t0 = Date.now();
        const r = await node.runAsync(nodeTrustScript(opts({ runtime: "docker" })), "create");
        const waited = Date.now() - t0;
        await exited;
        assert.equal(r.status, 0, r.stderr);
        assert.ok(waited >= 1500, `the run waited for the lock (${waited} ms)`);
    });

    test("without flock (a minimal node): a lock directory; a live holder is waited for, a dead one taken over", async () => {
        const node = new Node("nolock");
        node.hide("/usr/bin/flock");
        const dir = path.join(node.dir, "run", "lock", "private-registry.lock.d");
        fs.mkdirSync(dir, { recursive: true });
        const holder = spawn("sleep", ["2"]);
        const exited = new Promise((resolve) => holder.on("exit", resolve));
        fs.writeFileSync(path.join(dir, "pid"), `${holder.pid}\n`);
        const script = nodeTrustScript(opts({ runtime: "docker" }));
        const t0 = Date.now();
        const r = await node.runAsync(script, "create");
        assert.equal(r.status, 0, r.stderr);
        assert.ok(Date.now() - t0 >= 1500, "the run waited for the live holder");
        await exited;
        assert.equal(fs.existsSync(dir), false, "released at the end");
        // a holder that died without releasing it (its pid is gone: the holder above has been reaped)
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "pid"), `${holder.pid}\n`);
        const t1 = Date.now();
        const d = await node.runAsync(script, "delete");
        assert.equal(d.status, 0, d.stderr);
        assert.ok(Date.now() - t1 < 1500, "taken over at once");
        assert.equal(fs.existsSync(dir), false);
    });

    test("a containerd restart that fails with config_path: the original config.toml comes back and the restart runs again", () => {
        const node = new Node("ctd-rollback");
        node.write(CFG, V2);
        const start = node.tree();
        const log = path.join(node.dir, "ctd.log");
        // containerd that cannot start with the edit, and starts again with the original
        const restart = `echo "restart $(grep -c config_path ${CFG})" >> '${log}'; if grep -q config_path ${CFG}; then echo 'failed to load plugin' >&2; exit 1; fi`;
        const script = nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: restart }));
        const r = node.run(script, "create");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /^private-registry\[private-registry-live\]: restart containerd: `echo .*` failed \(exit 1: failed to load plugin\) after config_path was enabled in \/etc\/containerd\/config.toml; the original \/etc\/containerd\/config.toml is back and containerd was restarted with it\. /m);
        assert.match(r.stdout, /^restored: \/etc\/containerd\/config.toml$/m);
        assert.equal(node.read(CFG), V2);
        assert.deepEqual(fs.readFileSync(log, "utf8").split("\n").filter(Boolean), ["restart 1", "restart 0"]);
        node.ok(script, "delete");
        assert.deepEqual(diff(start, node.tree()), []);
    });

    test("a node without python3: containerd works, its own parser checks the edit, and an edit it refuses changes nothing", () => {
        const node = new Node("ctd-nopy");
        node.hide("/usr/bin/python3");
        node.path = "/usr/sbin:/usr/bin:/sbin:/bin";
        assert.notEqual(node.exec(["bash", "-c", "command -v python3"]).status, 0, "python3 is hidden");
        node.write(CFG, V2);
        const script = nodeTrustScript(opts({ runtime: "containerd", mirror: mirrorA, containerdRestartCommand: node.restart("ctd.log") }));
        cycle(node, script, { created: () => assert.equal(configPath(node), "/etc/containerd/certs.d") });
        assert.equal(node.count("ctd.log"), 2);

        node.write(CFG, DOTTED);
        const before = node.tree();
        const r = node.run(script, "create");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /enable config_path in \/etc\/containerd\/config.toml: containerd refuses the edited file \(containerd: failed to load TOML: the edit: .*defined twice.*\); set config_path = "\/etc\/containerd\/certs.d" yourself/);
        assert.deepEqual(diff(before, node.tree()), [], "the node's files as they were");
        assert.equal(node.count("ctd.log"), 2, "no restart");
    });

    test("no containerd binary on PATH: Python's tomllib checks the edit; with neither, a note says it went unchecked", () => {
        const node = new Node("ctd-nobin");
        node.hide("/usr/bin/containerd");
        node.write(CFG, DOTTED);
        const script = nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: node.restart("ctd.log") }));
        const r = node.run(script, "create");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /the edit would not give valid TOML with config_path set/);
        node.write(CFG, V2);
        node.hide("/usr/bin/python3");
        node.path = "/usr/sbin:/usr/bin:/sbin:/bin";
        const out = node.ok(script, "create");
        assert.ok(lines(out).includes(`note: ${CFG} not checked before the restart (no containerd and no Python 3.11 on PATH)`), out);
        assert.match(out, /^restarted: containerd /m);
    });

    test("insecureRegistry: insecure-registries applied by the reload command, never a docker restart; original bytes back", () => {
        const node = new Node("insecure");
        const original = '{\n    "log-driver": "json-file"\n}\n';
        node.write("/etc/docker/daemon.json", original);
        // the restart command earlier versions ran for it: given, it must not run. The reload records what it read.
        const seen = path.join(node.dir, "seen");
        const reload = `${node.restart("reload.log")}; tr -d ' \\n' < /etc/docker/daemon.json > '${seen}'`;
        const script = nodeTrustScript(opts({ runtime: "docker", insecureRegistry: true, reloadCommand: reload, dockerRestartCommand: node.restart("restart.log") }));
        cycle(node, script, {
            created: (out) => {
                assert.match(out, /^changed: \/etc\/docker\/daemon.json$/m);
                assert.match(out, /^reloaded: the runtime's mirror settings \(added docker.registry.com:5000 to insecure-registries in \/etc\/docker\/daemon.json\)$/m);
                assert.deepEqual(JSON.parse(node.read("/etc/docker/daemon.json")), { "log-driver": "json-file", "insecure-registries": [REG] });
                assert.equal(node.count("reload.log"), 1);
            },
            deleted: (out) => assert.match(out, /^restored: \/etc\/docker\/daemon.json$/m),
        });
        assert.equal(node.read("/etc/docker/daemon.json"), original);
        // dockerd's reload changes only the keys the file has: the one reload of the delete saw the key, empty
        assert.equal(fs.readFileSync(seen, "utf8"), '{"log-driver":"json-file","insecure-registries":[]}');
        assert.equal(node.count("reload.log"), 2);
        assert.equal(node.count("restart.log"), 0, "dockerd never restarted");
    });

    const HOSTS = `127.0.0.1 localhost ${HOST}\n::1 localhost ip6-localhost\n10.8.8.8 ${HOST} # private-registry-staging\n10.9.9.9 ${HOST} # old registry`;

    test("/etc/hosts: other lines that map the name are reported on every run, and left alone", () => {
        const node = new Node("hosts-report");
        node.write("/etc/hosts", HOSTS); // no final newline, on purpose
        const other = (l: string): string => `hosts: other line maps ${HOST}: ${l}`;
        const report = [other(`127.0.0.1 localhost ${HOST}`), other(`10.8.8.8 ${HOST} # private-registry-staging`), other(`10.9.9.9 ${HOST} # old registry`)];
        cycle(node, nodeTrustScript(opts({ hostsAddress: "10.213.0.1" })), {
            created: (out) => {
                assert.deepEqual(lines(out), ["changed: /etc/hosts", ...report]);
                assert.equal(node.read("/etc/hosts"), `${HOSTS}\n10.213.0.1 ${HOST} # ${ID}\n`);
            },
            deleted: (out) => assert.deepEqual(lines(out), ["changed: /etc/hosts"]),
        });
    });

    test("/etc/hosts with hostsCommentOut: the user's lines commented out (a stand-in keeps their other names), given back on delete", () => {
        const node = new Node("hosts-out");
        const hosts = HOSTS.replace(/\n10\.8\.8\.8[^\n]*/, "");
        node.write("/etc/hosts", hosts);
        const start = node.tree();
        const on = nodeTrustScript(opts({ hostsAddress: "10.213.0.1", hostsCommentOut: true }));
        const out = node.ok(on, "create");
        const pre = `# private-registry ${ID}: `;
        assert.equal(node.read("/etc/hosts"), `${pre}127.0.0.1 localhost ${HOST}\n127.0.0.1 localhost # private-registry ${ID}: without ${HOST}\n` +
            `::1 localhost ip6-localhost\n${pre}10.9.9.9 ${HOST} # old registry\n10.213.0.1 ${HOST} # ${ID}\n`);
        assert.deepEqual(lines(out).filter((l) => l.startsWith("hosts: ")), [
            `hosts: commented out (restored on delete): 127.0.0.1 localhost ${HOST}`, `hosts: commented out (restored on delete): 10.9.9.9 ${HOST} # old registry`]);
        const getent = (name: string): string => node.exec(["getent", "hosts", name]).stdout.split(/\s+/)[0];
        assert.equal(getent(HOST), "10.213.0.1", "glibc now finds our line first");
        assert.ok(["127.0.0.1", "::1"].includes(getent("localhost")), "localhost still resolves");
        assert.deepEqual(lines(node.ok(on, "create")).filter((l) => !l.startsWith("hosts: ")), ["unchanged: /etc/hosts"]);
        // switched off on an update: the lines come back, our line stays
        node.ok(nodeTrustScript(opts({ hostsAddress: "10.213.0.1" })), "create");
        assert.equal(node.read("/etc/hosts"), `${hosts}\n10.213.0.1 ${HOST} # ${ID}\n`);
        node.ok(on, "create");
        node.ok(on, "delete");
        assert.deepEqual(diff(start, node.tree()), []);
    });

    /** A node whose /etc says it is that distribution, with its anchors directory; os-release is a link on Debian. */
    const distro = (name: string, osRelease: string, anchors: string): Node => {
        const node = new Node(name);
        fs.rmSync(node.p("/etc/os-release"));
        node.write("/etc/os-release", osRelease);
        fs.mkdirSync(node.p(anchors), { recursive: true });
        return node;
    };
    const FILE = `${ID}-docker.registry.com_5000.crt`;
    const layouts = [
        { name: "RHEL family (Rocky)", os: 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n', dir: "/etc/pki/ca-trust/source/anchors",
            tool: "update-ca-trust", call: "update-ca-trust extract" },
        { name: "SUSE (openSUSE Leap)", os: 'NAME="openSUSE Leap"\nID="opensuse-leap"\nID_LIKE="suse opensuse"\n', dir: "/etc/pki/trust/anchors",
            tool: "update-ca-certificates", call: "update-ca-certificates " },
    ];
    for (const l of layouts) {
        test(`systemTrust on the ${l.name} layout: ${l.dir} and ${l.tool} (a stand-in here)`, () => {
            const node = distro(`trust-${l.tool}`, l.os, l.dir);
            node.standIn(l.tool, "trust.log");
            const calls = (): string[] => fs.readFileSync(path.join(node.dir, "trust.log"), "utf8").split("\n").filter(Boolean);
            cycle(node, nodeTrustScript(opts({ systemTrust: true })), {
                created: (out) => {
                    assert.deepEqual(lines(out), [`changed: ${l.dir}/${FILE}`, `updated: system CA bundle (installed ${l.dir}/${FILE})`]);
                    assert.equal(node.read(`${l.dir}/${FILE}`), pki.caPem);
                    assert.equal(fs.existsSync(node.p(`/usr/local/share/ca-certificates/${FILE}`)), false);
                    assert.deepEqual(calls(), [l.call]);
                },
                deleted: (out) => assert.deepEqual(lines(out), [`removed: ${l.dir}/${FILE}`, `updated: system CA bundle (removed ${l.dir}/${FILE})`]),
            });
            assert.deepEqual(calls(), [l.call, l.call]);
        });
    }

    test("systemTrust refuses, naming the node, a layout it does not know and a RHEL node without update-ca-trust", () => {
        for (const [os, err] of [
            ['ID=flatcar\nNAME="Flatcar Container Linux by Kinvolk"\n', /system trust on node n1: no supported system CA store \(os-release ID=flatcar, ID_LIKE=none\)/],
            ['ID="rhel"\nID_LIKE="fedora"\n', /system trust on node n1: update-ca-trust not found, which the rhel layout of its CA store needs/],
        ] as const) {
            const node = distro("trust-refused", os, "/etc/pki/ca-trust/source/anchors");
            const start = node.tree();
            const r = node.run(nodeTrustScript(opts({ systemTrust: true, nodeName: "n1" })), "create");
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, err);
            assert.deepEqual(diff(start, node.tree()), []);
        }
    });
});
