// Real runs of the generated node scripts on private copies of this machine's /etc and
// /usr/local/share/ca-certificates (mount namespace per step), checking create → create → delete.
// Run: node --import tsx --test test/live/nodeScripts.live.test.ts   (root; Debian packages, see PREREQS)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { nodeCommand, nodeTrustScript } from "../../components/nodes/nodeScripts";
import * as path from "node:path";
import { cycle, diff, HOST, ID, lines, Node, opts, pki, REG, setUp, skipReason, tearDown } from "./scriptNode";

describe("node trust scripts on a private copy of this system", { skip: skipReason }, () => {
    before(setUp);
    after(tearDown);

    test("docker: certs.d/<registry>/ca.crt, no daemon.json, nothing else", () => {
        const node = new Node("docker");
        const script = nodeTrustScript(opts({ runtime: "docker" }));
        cycle(node, script, {
            created: (out) => {
                assert.deepEqual(lines(out), [`changed: /etc/docker/certs.d/${REG}/ca.crt`]);
                assert.equal(node.read(`/etc/docker/certs.d/${REG}/ca.crt`), pki.caPem);
                assert.equal(fs.existsSync(node.p("/etc/docker/daemon.json")), false);
                assert.ok(fs.existsSync(node.p(`/etc/${ID}/${REG}.manifest`)));
            },
            deleted: (out) => assert.ok(lines(out).includes(`removed: /etc/docker/certs.d/${REG}/ca.crt`), out),
        });
    });

    test("crio through sudo -n: containers/certs.d/<registry>/ca.crt", () => {
        const node = new Node("crio");
        assert.match(nodeCommand("create", "deploy"), /^sudo -n /);
        cycle(node, nodeTrustScript(opts({ runtime: "crio" })), {
            user: "deploy",
            created: (out) => {
                assert.deepEqual(lines(out), [`changed: /etc/containers/certs.d/${REG}/ca.crt`]);
                assert.equal(node.read(`/etc/containers/certs.d/${REG}/ca.crt`), pki.caPem);
            },
        });
    });

    test("containerd with config_path set: hosts.toml in that dir, no restart", () => {
        const node = new Node("ctd-set");
        const cfg = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/hosts.d"\n';
        node.write("/etc/containerd/config.toml", cfg);
        const script = nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: node.restart("ctd.log") }));
        cycle(node, script, {
            created: (out) => {
                assert.deepEqual(lines(out), [
                    "unchanged: /etc/containerd/config.toml",
                    `changed: /etc/containerd/hosts.d/${REG}/ca.crt`,
                    `changed: /etc/containerd/hosts.d/${REG}/hosts.toml`,
                ]);
                assert.equal(node.read(`/etc/containerd/hosts.d/${REG}/hosts.toml`),
                    `server = "https://${REG}"\n\n[host."https://${REG}"]\n  capabilities = ["pull", "resolve", "push"]\n  ca = "/etc/containerd/hosts.d/${REG}/ca.crt"\n`);
                assert.equal(node.read(`/etc/containerd/hosts.d/${REG}/ca.crt`), pki.caPem);
                assert.equal(node.read("/etc/containerd/config.toml"), cfg);
            },
        });
        assert.equal(node.count("ctd.log"), 0);
    });

    const enableCases: { name: string; file: string; config?: string; plugin: string }[] = [
        {
            name: "v2, registry section absent (appended)", file: "/etc/containerd/config.toml", plugin: "io.containerd.grpc.v1.cri",
            config: 'version = 2\nroot = "/var/lib/containerd"\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    sandbox_image = "registry.k8s.io/pause:3.9"\n',
        },
        {
            name: "v2, section present without the key (inserted)", file: "/etc/containerd/config.toml", plugin: "io.containerd.grpc.v1.cri",
            config: 'version = 2\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".registry]\n' +
                '      [plugins."io.containerd.grpc.v1.cri".registry.mirrors]\n',
        },
        {
            name: "v3 (containerd 2.x), single-quoted, config_path = '' (filled in)", file: "/etc/containerd/config.toml", plugin: "io.containerd.cri.v1.images",
            config: "version = 3\n\n[plugins]\n  [plugins.'io.containerd.cri.v1.images']\n    [plugins.'io.containerd.cri.v1.images'.registry]\n      config_path = ''\n",
        },
        {
            // containerd 2.2+ defaults to such a list, which its CRI pulls ignore: the first directory alone
            name: "v3, a colon list (its first directory, alone)", file: "/etc/containerd/config.toml", plugin: "io.containerd.cri.v1.images",
            config: "version = 3\n\n[plugins.'io.containerd.cri.v1.images'.registry]\n  config_path = '/etc/containerd/certs.d:/etc/docker/certs.d'\n",
        },
        { name: "no config file, in a missing dir (created)", file: "/etc/containerd/custom/config.toml", plugin: "io.containerd.grpc.v1.cri" },
    ];
    for (const c of enableCases) {
        test(`containerd without config_path: enables it once, restarts, restores on delete — ${c.name}`, () => {
            const node = new Node("ctd-enable");
            if (c.config !== undefined) node.write(c.file, c.config);
            const script = nodeTrustScript(opts({ runtime: "containerd", containerdConfigFile: c.file, containerdRestartCommand: node.restart("ctd.log") }));
            cycle(node, script, {
                created: (out) => {
                    assert.ok(lines(out).includes(`changed: ${c.file}`), out);
                    assert.match(out, /^restarted: containerd \(enabled config_path = "\/etc\/containerd\/certs.d" in .*\)$/m);
                    assert.equal(node.count("ctd.log"), 1);
                    const got = spawnSync("python3", ["-c",
                        "import sys,tomllib; print(tomllib.load(open(sys.argv[1],'rb'))['plugins'][sys.argv[2]]['registry']['config_path'])",
                        node.p(c.file), c.plugin], { encoding: "utf8" });
                    assert.equal(got.stdout.trim(), "/etc/containerd/certs.d", got.stderr);
                    // the original is kept node-wide, for whichever stack relying on config_path leaves last
                    if (c.config !== undefined) {
                        assert.equal(fs.readFileSync(node.p(`/etc/private-registry/orig/${c.file.replace(/\//g, "%")}`), "utf8"), c.config);
                    } else {
                        assert.ok(fs.existsSync(node.p(`/etc/private-registry/orig/${c.file.replace(/\//g, "%")}.absent`)));
                    }
                    assert.equal(node.read(`/etc/private-registry/shared.d/${ID}@${REG}`), `config_path\t${c.file}\n`);
                    assert.match(node.read(`/etc/containerd/certs.d/${REG}/hosts.toml`), /ca = "\/etc\/containerd\/certs.d\/docker.registry.com:5000\/ca.crt"/);
                },
                deleted: (out) => {
                    assert.ok(lines(out).includes(`${c.config === undefined ? "removed" : "restored"}: ${c.file}`), out);
                    assert.match(out, /^restarted: containerd \(restored /m);
                },
            });
            assert.equal(node.count("ctd.log"), 2, "one restart on create, one on delete");
        });
    }

    test("containerd: a failed restart gives the original config back; the next run enables it again; a mirrors config is refused untouched", () => {
        const node = new Node("ctd-retry");
        node.write("/etc/containerd/config.toml", "version = 2\n");
        const start = node.tree();
        const bad = node.run(nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: "echo no bus >&2; exit 3" })), "create");
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /^private-registry\[private-registry-live\]: restart containerd: `echo no bus >&2; exit 3` failed \(exit 3: no bus\) after config_path was enabled in \/etc\/containerd\/config.toml; the original \/etc\/containerd\/config.toml is back and the restart with it failed too \(exit 3: no bus\)/m);
        assert.equal(node.read("/etc/containerd/config.toml"), "version = 2\n");
        const script = nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: node.restart("ctd.log") }));
        const retry = node.ok(script, "create");
        assert.match(retry, /^changed: \/etc\/containerd\/config.toml$/m);
        assert.match(retry, /^restarted: containerd \(enabled config_path/m);
        node.ok(script, "delete");
        assert.equal(node.count("ctd.log"), 2);
        assert.deepEqual(diff(start, node.tree()), []);

        node.write("/etc/containerd/config.toml", 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m.example"]\n');
        const before = node.tree();
        const refused = node.run(script, "create");
        assert.notEqual(refused.status, 0);
        assert.match(refused.stderr, /^private-registry\[private-registry-live\]: enable config_path in \/etc\/containerd\/config.toml: registry.mirrors/m);
        assert.deepEqual(diff(before, node.tree()), []);
        assert.equal(node.ok(script, "delete"), "");
    });

    test("system trust: openssl verifies a leaf of the CA only between create and delete", () => {
        const node = new Node("trust");
        // update-ca-certificates forks per certificate and link, 5-15 s here for the ~140 Mozilla ones, so this
        // node's ca-certificates.conf keeps three and /etc/ssl/certs is rebuilt from that: the state any node
        // is in after update-ca-certificates (this machine's /etc/ssl/certs was not quite).
        const conf = node.read("/etc/ca-certificates.conf").split("\n").filter((l) => l && !l.startsWith("#")).slice(0, 3);
        node.write("/etc/ca-certificates.conf", `${conf.join("\n")}\n`);
        const certs = node.p("/etc/ssl/certs/x").slice(0, -2);
        for (const e of fs.readdirSync(certs)) if (fs.lstatSync(path.join(certs, e)).isSymbolicLink()) fs.unlinkSync(path.join(certs, e));
        assert.equal(node.exec(["update-ca-certificates", "--fresh"]).status, 0);
        const verify = (): number | null => node.exec(["openssl", "verify", "-CAfile", "/etc/ssl/certs/ca-certificates.crt", pki.leaf]).status;
        assert.notEqual(verify(), 0);
        const file = `/usr/local/share/ca-certificates/${ID}-docker.registry.com_5000.crt`;
        cycle(node, nodeTrustScript(opts({ systemTrust: true })), {
            created: (out) => {
                assert.deepEqual(lines(out), [`changed: ${file}`, `updated: system CA bundle (installed ${file})`]);
                assert.equal(verify(), 0);
            },
            deleted: (out) => assert.deepEqual(lines(out), [`removed: ${file}`, `updated: system CA bundle (removed ${file})`]),
        });
        assert.notEqual(verify(), 0);
    });

    test("/etc/hosts: marked line, replaced when the address changes, removed byte for byte", () => {
        const node = new Node("hosts");
        node.write("/etc/hosts", "127.0.0.1 localhost\n10.0.0.9 other # not ours"); // no final newline, on purpose
        const start = node.tree();
        const script = nodeTrustScript(opts({ hostsAddress: "10.213.0.1" }));
        cycle(node, script, {
            created: (out) => {
                assert.deepEqual(lines(out), ["changed: /etc/hosts"]);
                assert.equal(node.read("/etc/hosts"), `127.0.0.1 localhost\n10.0.0.9 other # not ours\n10.213.0.1 ${HOST} # ${ID}\n`);
            },
        });
        node.ok(script, "create");
        const moved = nodeTrustScript(opts({ hostsAddress: "fd00::5" }));
        assert.deepEqual(lines(node.ok(moved, "create")), ["changed: /etc/hosts"]);
        assert.equal(node.read("/etc/hosts"), `127.0.0.1 localhost\n10.0.0.9 other # not ours\nfd00::5 ${HOST} # ${ID}\n`);
        node.ok(moved, "delete");
        assert.deepEqual(diff(start, node.tree()), []);
    });

    test("update in place: new CA and another runtime; the old runtime's files go", () => {
        const node = new Node("update");
        const start = node.tree();
        node.ok(nodeTrustScript(opts({ runtime: "docker" })), "create");
        const next = nodeTrustScript(opts({ runtime: "crio", caPem: pki.caPem2 }));
        assert.deepEqual(lines(node.ok(next, "create")), [
            `changed: /etc/containers/certs.d/${REG}/ca.crt`,
            `removed: /etc/docker/certs.d/${REG}/ca.crt`,
            `removed: /etc/docker/certs.d/${REG}`,
            "removed: /etc/docker/certs.d",
        ]);
        assert.equal(node.read(`/etc/containers/certs.d/${REG}/ca.crt`), pki.caPem2);
        node.ok(next, "delete");
        assert.deepEqual(diff(start, node.tree()), []);
    });

    test("a failing step names itself and its path; delete after it leaves nothing behind", () => {
        const node = new Node("failing");
        node.write("/etc/docker/certs.d", "a file where create wants a directory\n");
        const start = node.tree();
        const script = nodeTrustScript(opts({ runtime: "docker" }));
        const r = node.run(script, "create");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /^private-registry\[private-registry-live\]: create directory \/etc\/docker\/certs.d failed \(exit 1\)$/m);
        node.ok(script, "delete");
        assert.deepEqual(diff(start, node.tree()), []);
    });

    test("delete where create never ran: quiet no-op", () => {
        const node = new Node("fresh");
        const start = node.tree();
        const r = node.run(nodeTrustScript(opts({ runtime: "containerd", systemTrust: true, hostsAddress: "10.213.0.1" })), "delete");
        assert.deepEqual([r.status, r.stdout, r.stderr], [0, "", ""]);
        assert.deepEqual(diff(start, node.tree()), []);
    });
});
