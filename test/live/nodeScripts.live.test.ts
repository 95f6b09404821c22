// Real runs of the generated node scripts on private copies of this machine's /etc and
// /usr/local/share/ca-certificates (mount namespace per step), checking create → create → delete.
// Run: node --import tsx --test test/live/nodeScripts.live.test.ts   (root; Debian packages, see PREREQS)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NodeScriptOptions, nodeCommand, nodeTrustScript } from "../../components/nodeScripts";

const ID = "private-registry-live";
const REG = "docker.registry.com:5000";
const HOST = "docker.registry.com";
const PREREQS = ["bash", "unshare", "mount", "cp", "openssl", "update-ca-certificates", "python3", "sudo"];

function missingPrereqs(): string[] {
    if (process.platform !== "linux" || process.getuid?.() !== 0) return ["root on Linux"];
    const missing = PREREQS.filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
    if (missing.length === 0 && spawnSync("unshare", ["--mount", "--propagation", "private", "true"]).status !== 0) {
        missing.push("a working `unshare --mount` (CAP_SYS_ADMIN)");
    }
    if (missing.length === 0 && spawnSync("python3", ["-c", "import tomllib"]).status !== 0) missing.push("python3 >= 3.11 (tomllib)");
    return missing;
}
const missing = missingPrereqs();
const skipReason = missing.length ? `node script live tests need ${missing.join(", ")}` : undefined;
if (skipReason && process.env.CI === "true") {
    test("node script live prerequisites", () => assert.fail(`${skipReason} (CI=true: failing instead of skipping)`));
} else if (skipReason) {
    console.warn(`\n*** SKIPPING node script live tests: ${skipReason} ***\n`);
}

let work = "";
let caPem = "";
let caPem2 = "";
let leaf = "";

function sh(cmd: string): void {
    const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
    assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
}

interface Run { status: number | null; stdout: string; stderr: string }
type Tree = Map<string, string>;

/** A "node": private copies of the node-private trees, mounted over the real ones for each step. */
class Node {
    readonly dir: string;
    constructor(name: string) {
        this.dir = fs.mkdtempSync(path.join(work, `${name}-`));
        sh(`cp -a /etc ${this.dir}/etc && cp -a /usr/local/share/ca-certificates ${this.dir}/ca && mkdir -m 755 ${this.dir}/run`);
        // update-ca-certificates hooks (ca-certificates-java) reach the shared /var/lib/dpkg and rewrite a Java
        // keystore that is not byte-stable; neither is the script's doing, so the copies run without hooks.
        sh(`find ${this.dir}/etc/ca-certificates/update.d -mindepth 1 -delete 2>/dev/null || true`);
    }
    /** Path of a node file (e.g. "/etc/hosts") in the copy. */
    p(nodePath: string): string {
        if (nodePath.startsWith("/etc/")) return path.join(this.dir, "etc", nodePath.slice(5));
        if (nodePath.startsWith("/usr/local/share/ca-certificates/")) return path.join(this.dir, "ca", nodePath.slice(33));
        throw new Error(`not node-private: ${nodePath}`);
    }
    read(nodePath: string): string {
        return fs.readFileSync(this.p(nodePath), "utf8");
    }
    write(nodePath: string, text: string): void {
        fs.mkdirSync(path.dirname(this.p(nodePath)), { recursive: true });
        fs.writeFileSync(this.p(nodePath), text);
    }
    // /run is a per-node directory rather than a fresh tmpfs per step: like a real node's, it lasts from one
    // run to the next (the script keeps pending restarts there).
    exec(argv: string[], input = ""): Run {
        const mount = 'set -e; mount --bind "$1/etc" /etc; mount --bind "$1/ca" /usr/local/share/ca-certificates; mount --bind "$1/run" /run; shift; exec "$@"';
        const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", mount, "_", this.dir, ...argv], {
            input, encoding: "utf8", timeout: 30_000,
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }
    /** Runs the script the way the remote command does: the command line from nodeCommand, the script on stdin. */
    run(script: string, mode: "create" | "delete", user = "root"): Run {
        return this.exec(["bash", "-c", nodeCommand(mode, user)], script);
    }
    ok(script: string, mode: "create" | "delete", user = "root"): string {
        const r = this.run(script, mode, user);
        assert.equal(r.status, 0, `${mode} failed:\n${r.stdout}\n${r.stderr}`);
        assert.equal(r.stderr, "", `${mode} wrote to stderr`);
        return r.stdout;
    }
    /** Every entry under both trees: type, mode, content hash or link target; with mtimes when asked. */
    tree(withTimes = false): Tree {
        const out: Tree = new Map();
        const walk = (abs: string, rel: string): void => {
            const st = fs.lstatSync(abs, { bigint: true });
            const mode = (st.mode & 0o7777n).toString(8);
            const time = withTimes ? ` ${st.mtimeNs}` : "";
            if (st.isSymbolicLink()) out.set(rel, `link ${fs.readlinkSync(abs)}`);
            else if (st.isFile()) out.set(rel, `file ${mode} ${createHash("sha256").update(fs.readFileSync(abs)).digest("hex")}${time}`);
            else if (st.isDirectory()) {
                out.set(rel, `dir ${mode}${time}`);
                for (const e of fs.readdirSync(abs)) walk(path.join(abs, e), `${rel}/${e}`);
            } else out.set(rel, `other ${mode}`);
        };
        walk(path.join(this.dir, "etc"), "/etc");
        walk(path.join(this.dir, "ca"), "/usr/local/share/ca-certificates");
        return out;
    }
    count(log: string): number {
        const f = path.join(this.dir, log);
        return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean).length : 0;
    }
    /** A restart command that only counts. */
    restart(log: string): string {
        return `echo restart >> '${path.join(this.dir, log)}'`;
    }
}

function diff(a: Tree, b: Tree): string[] {
    const d: string[] = [];
    for (const [k, v] of a) if (b.get(k) !== v) d.push(`${k}: ${v} -> ${b.get(k) ?? "(gone)"}`);
    for (const [k, v] of b) if (!a.has(k)) d.push(`${k}: (new) ${v}`);
    return d;
}

function opts(over: Partial<NodeScriptOptions>): NodeScriptOptions {
    return {
        registry: REG, hostname: HOST, caPem, runtime: "none", systemTrust: false, insecureRegistry: false,
        containerdConfigFile: "/etc/containerd/config.toml",
        containerdRestartCommand: "echo unexpected containerd restart >&2; exit 1",
        dockerRestartCommand: "echo unexpected docker restart >&2; exit 1", id: ID, ...over,
    };
}

function lines(out: string): string[] {
    return out.split("\n").filter(Boolean);
}

/** create → create (nothing changes, not even mtimes, nothing restarts) → delete (trees back to the start). */
function cycle(node: Node, script: string, checks: { user?: string; created?: (out: string) => void; deleted?: (out: string) => void } = {}): void {
    const start = node.tree();
    const first = node.ok(script, "create", checks.user);
    checks.created?.(first);
    const once = node.tree(true);
    const second = node.ok(script, "create", checks.user);
    for (const l of lines(second)) assert.match(l, /^unchanged: /, `second create changed something:\n${second}`);
    assert.deepEqual(diff(once, node.tree(true)), [], "second create touched files");
    const gone = node.ok(script, "delete", checks.user);
    checks.deleted?.(gone);
    assert.deepEqual(diff(start, node.tree()), [], "delete did not restore /etc and /usr/local/share/ca-certificates");
}

describe("node trust scripts on a private copy of this system", { skip: skipReason }, () => {
    before(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "nodescripts-live-"));
        const ca = (n: string): void => sh(`cd ${work} && openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout ${n}.key -out ${n}.crt ` +
            `-subj "/CN=Live ${n}" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null`);
        ca("ca");
        ca("ca2");
        sh(`cd ${work} && openssl req -newkey rsa:2048 -nodes -sha256 -keyout leaf.key -out leaf.csr -subj "/CN=${HOST}" 2>/dev/null && ` +
            `printf 'subjectAltName=DNS:${HOST}\\nextendedKeyUsage=serverAuth\\n' > leaf.ext && ` +
            `openssl x509 -req -sha256 -days 1 -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile leaf.ext -out leaf.crt 2>/dev/null`);
        caPem = fs.readFileSync(path.join(work, "ca.crt"), "utf8");
        caPem2 = fs.readFileSync(path.join(work, "ca2.crt"), "utf8");
        leaf = path.join(work, "leaf.crt");
    });
    after(() => {
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    test("docker: certs.d/<registry>/ca.crt, no daemon.json, nothing else", () => {
        const node = new Node("docker");
        const script = nodeTrustScript(opts({ runtime: "docker" }));
        cycle(node, script, {
            created: (out) => {
                assert.deepEqual(lines(out), [`changed: /etc/docker/certs.d/${REG}/ca.crt`]);
                assert.equal(node.read(`/etc/docker/certs.d/${REG}/ca.crt`), caPem);
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
                assert.equal(node.read(`/etc/containers/certs.d/${REG}/ca.crt`), caPem);
            },
        });
    });

    test("containerd with config_path set: hosts.toml in that dir, no restart", () => {
        const node = new Node("ctd-set");
        const cfg = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/hosts.d:/etc/docker/certs.d"\n';
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
                assert.equal(node.read(`/etc/containerd/hosts.d/${REG}/ca.crt`), caPem);
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
                    if (c.config !== undefined) {
                        assert.equal(fs.readFileSync(node.p(`/etc/${ID}/${REG}.orig/${c.file.replace(/\//g, "%")}`), "utf8"), c.config);
                    }
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

    test("containerd: a failed restart is retried by the next run; a mirrors config is refused untouched", () => {
        const node = new Node("ctd-retry");
        node.write("/etc/containerd/config.toml", "version = 2\n");
        const start = node.tree();
        const bad = node.run(nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: "echo no bus >&2; exit 3" })), "create");
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /^private-registry\[private-registry-live\]: run echo no bus >&2; exit 3: exit 3: no bus$/m);
        const script = nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: node.restart("ctd.log") }));
        const retry = node.ok(script, "create");
        assert.match(retry, /^unchanged: \/etc\/containerd\/config.toml$/m);
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
        const verify = (): number | null => node.exec(["openssl", "verify", "-CAfile", "/etc/ssl/certs/ca-certificates.crt", leaf]).status;
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

    test("insecure-registries opt-in: daemon.json edited, docker restarted once, original bytes back", () => {
        const node = new Node("insecure");
        const original = '{\n    "log-driver": "json-file"\n}\n';
        node.write("/etc/docker/daemon.json", original);
        const script = nodeTrustScript(opts({ runtime: "docker", insecureRegistry: true, dockerRestartCommand: node.restart("docker.log") }));
        cycle(node, script, {
            created: (out) => {
                assert.match(out, /^changed: \/etc\/docker\/daemon.json$/m);
                assert.match(out, /^restarted: docker \(added docker.registry.com:5000 to insecure-registries/m);
                assert.deepEqual(JSON.parse(node.read("/etc/docker/daemon.json")), { "log-driver": "json-file", "insecure-registries": [REG] });
                assert.equal(node.count("docker.log"), 1);
            },
            deleted: (out) => assert.match(out, /^restored: \/etc\/docker\/daemon.json$/m),
        });
        assert.equal(node.read("/etc/docker/daemon.json"), original);
        assert.equal(node.count("docker.log"), 2);
    });

    test("update in place: new CA and another runtime; the old runtime's files go", () => {
        const node = new Node("update");
        const start = node.tree();
        node.ok(nodeTrustScript(opts({ runtime: "docker" })), "create");
        const next = nodeTrustScript(opts({ runtime: "crio", caPem: caPem2 }));
        assert.deepEqual(lines(node.ok(next, "create")), [
            `changed: /etc/containers/certs.d/${REG}/ca.crt`,
            `removed: /etc/docker/certs.d/${REG}/ca.crt`,
            `removed: /etc/docker/certs.d/${REG}`,
            "removed: /etc/docker/certs.d",
        ]);
        assert.equal(node.read(`/etc/containers/certs.d/${REG}/ca.crt`), caPem2);
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
