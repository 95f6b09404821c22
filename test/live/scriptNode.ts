// The harness for real runs of the generated node scripts: a "node" is a private copy of this machine's
// /etc and /usr/local/share/ca-certificates, mounted over the real ones (a mount namespace per step), with
// a private /run and /usr/local/sbin (for stand-ins of other distributions' tools, first on the script's PATH).
// Used by nodeScripts.live.test.ts, nodeScripts-mirror.live.test.ts, nodeScripts-day2.live.test.ts and nodeScripts-recipe.live.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NodeScriptOptions, nodeCommand } from "../../components/nodes/nodeScripts";

export const ID = "private-registry-live";
export const REG = "docker.registry.com:5000";
export const HOST = "docker.registry.com";
const PREREQS = ["bash", "unshare", "mount", "cp", "openssl", "update-ca-certificates", "python3", "sudo", "containerd", "flock"];

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
export const skipReason = missing.length ? `node script live tests need ${missing.join(", ")}` : undefined;
if (skipReason && process.env.CI === "true") {
    test("node script live prerequisites", () => assert.fail(`${skipReason} (CI=true: failing instead of skipping)`));
} else if (skipReason) {
    console.warn(`\n*** SKIPPING node script live tests: ${skipReason} ***\n`);
}

/** The scratch dir and the PKI of a test file, made by setUp(). */
export const pki = { work: "", caPem: "", caPem2: "", leaf: "" };

export function sh(cmd: string): void {
    const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
    assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
}

export interface Run { status: number | null; stdout: string; stderr: string }
export type Tree = Map<string, string>;

/** A "node": private copies of the node-private trees, mounted over the real ones for each step. */
export class Node {
    readonly dir: string;
    /** Programs this node lacks, by directory (see hide). */
    private hidden = new Map<string, string[]>();
    /** PATH the script inherits (it puts the system directories first); by default the test runner's. */
    path?: string;
    constructor(name: string) {
        this.dir = fs.mkdtempSync(path.join(pki.work, `${name}-`));
        sh(`cp -a /etc ${this.dir}/etc && cp -a /usr/local/share/ca-certificates ${this.dir}/ca && mkdir -m 755 ${this.dir}/run && ` +
            `cp -a /usr/local/sbin ${this.dir}/sbin`);
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
    /**
     * Makes programs missing on this node: their directory is overlaid with a whiteout for each (bash's
     * `command -v` would still name a file that is there but not executable). Give every copy on the script's PATH.
     */
    hide(...programs: string[]): void {
        for (const p of programs) this.hidden.set(path.dirname(p), [...(this.hidden.get(path.dirname(p)) ?? []), path.basename(p)]);
    }
    /** An executable in this node's /usr/local/sbin, first on the script's PATH: a stand-in that records its calls in `log`. */
    standIn(name: string, log: string, body = ""): void {
        const f = path.join(this.dir, "sbin", name);
        fs.writeFileSync(f, `#!/bin/sh\necho "${name} $*" >> '${path.join(this.dir, log)}'\n${body}`);
        fs.chmodSync(f, 0o755);
    }
    // /run is a per-node directory rather than a fresh tmpfs per step: like a real node's, it lasts from one
    // run to the next (the script keeps pending restarts there).
    exec(argv: string[], input = ""): Run {
        const r = spawnSync("unshare", this.unshare(argv), { input, encoding: "utf8", timeout: 60_000, env: this.env() });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }
    /** exec without blocking the event loop, so that other children of the test (lock holders) are reaped meanwhile. */
    execAsync(argv: string[], input = ""): Promise<Run> {
        return new Promise((resolve, reject) => {
            const c = spawn("unshare", this.unshare(argv), { env: this.env(), timeout: 60_000 });
            let stdout = "";
            let stderr = "";
            c.stdout.on("data", (d) => (stdout += d));
            c.stderr.on("data", (d) => (stderr += d));
            c.on("error", reject);
            c.on("close", (status) => resolve({ status, stdout, stderr }));
            c.stdin.end(input);
        });
    }
    private env(): NodeJS.ProcessEnv {
        return this.path === undefined ? process.env : { ...process.env, PATH: this.path };
    }
    private unshare(argv: string[]): string[] {
        const mount = 'set -e; mount --bind "$1/etc" /etc; mount --bind "$1/ca" /usr/local/share/ca-certificates; mount --bind "$1/run" /run; ' +
            'mount --bind "$1/sbin" /usr/local/sbin; root=$1; n=0; shift; while [ "$1" != -- ]; do ' +
            'n=$((n + 1)); o="$root/overlay$n"; mkdir -p "$o"; mount -t tmpfs tmpfs "$o"; mkdir "$o/u" "$o/w"; IFS=: read -r -a w <<<"$1"; ' +
            'for x in "${w[@]:1}"; do mknod "$o/u/$x" c 0 0; done; mount -t overlay overlay -o "lowerdir=${w[0]},upperdir=$o/u,workdir=$o/w" "${w[0]}"; shift; ' +
            'done; shift; exec "$@"';
        const hidden = [...this.hidden].map(([dir, names]) => [dir, ...names].join(":"));
        return ["--mount", "--propagation", "private", "bash", "-c", mount, "_", this.dir, ...hidden, "--", ...argv];
    }
    /** Runs the script the way the remote command does: the command line from nodeCommand, the script on stdin. */
    run(script: string, mode: "create" | "delete", user = "root"): Run {
        return this.exec(["bash", "-c", nodeCommand(mode, user)], script);
    }
    runAsync(script: string, mode: "create" | "delete"): Promise<Run> {
        return this.execAsync(["bash", "-c", nodeCommand(mode, "root")], script);
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
    /** A restart or reload command that only counts; it reads daemon.json as dockerd's reload does (the script waits for that). */
    restart(log: string): string {
        return `cat /etc/docker/daemon.json >/dev/null 2>&1; echo restart >> '${path.join(this.dir, log)}'`;
    }
}

export function diff(a: Tree, b: Tree): string[] {
    const d: string[] = [];
    for (const [k, v] of a) if (b.get(k) !== v) d.push(`${k}: ${v} -> ${b.get(k) ?? "(gone)"}`);
    for (const [k, v] of b) if (!a.has(k)) d.push(`${k}: (new) ${v}`);
    return d;
}

export function opts(over: Partial<NodeScriptOptions>): NodeScriptOptions {
    return {
        registry: REG, hostname: HOST, caPem: pki.caPem, runtime: "none", systemTrust: false, insecureRegistry: false,
        containerdConfigFile: "/etc/containerd/config.toml",
        containerdRestartCommand: "echo unexpected containerd restart >&2; exit 1", id: ID, ...over,
    };
}

export function lines(out: string): string[] {
    return out.split("\n").filter(Boolean);
}

/** create → create (nothing changes, not even mtimes, nothing restarts) → delete (trees back to the start). */
export function cycle(node: Node, script: string, checks: { user?: string; created?: (out: string) => void; deleted?: (out: string) => void } = {}): void {
    const start = node.tree();
    const first = node.ok(script, "create", checks.user);
    checks.created?.(first);
    const once = node.tree(true);
    const second = node.ok(script, "create", checks.user);
    for (const l of lines(second)) assert.match(l, /^(unchanged|mirror|hosts): /, `second create changed something:\n${second}`);
    assert.deepEqual(diff(once, node.tree(true)), [], "second create touched files");
    const gone = node.ok(script, "delete", checks.user);
    checks.deleted?.(gone);
    assert.deepEqual(diff(start, node.tree()), [], "delete did not restore /etc and /usr/local/share/ca-certificates");
}

/** Makes the scratch dir and the CAs (before all tests of a file). */
export function setUp(): void {
    pki.work = fs.mkdtempSync(path.join(os.tmpdir(), "nodescripts-live-"));
    const ca = (n: string): void => sh(`cd ${pki.work} && openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout ${n}.key -out ${n}.crt ` +
        `-subj "/CN=Live ${n}" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null`);
    ca("ca");
    ca("ca2");
    sh(`cd ${pki.work} && openssl req -newkey rsa:2048 -nodes -sha256 -keyout leaf.key -out leaf.csr -subj "/CN=${HOST}" 2>/dev/null && ` +
        `printf 'subjectAltName=DNS:${HOST}\\nextendedKeyUsage=serverAuth\\n' > leaf.ext && ` +
        `openssl x509 -req -sha256 -days 1 -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile leaf.ext -out leaf.crt 2>/dev/null`);
    pki.caPem = fs.readFileSync(path.join(pki.work, "ca.crt"), "utf8");
    pki.caPem2 = fs.readFileSync(path.join(pki.work, "ca2.crt"), "utf8");
    pki.leaf = path.join(pki.work, "leaf.crt");
}

/** Removes the scratch dir (after all tests of a file). */
export function tearDown(): void {
    if (pki.work) fs.rmSync(pki.work, { recursive: true, force: true });
}
