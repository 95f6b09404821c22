// components/kubernetes/scripts/kubernetes.sh run exactly as the command provider runs it (bash -c <script>
// kubernetes.sh <mode>), against a stand-in kubectl (test/support/fake-kubectl.sh) that keeps namespaces in
// a folder and records every call. The real cluster is in the live suite (test/live/kubernetes*.ts).
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { KUBECTL_INTERPRETER, missingNamespace } from "../../components/kubernetes/PullSecret";

let state = "";
let bin = "";
const nsFile = (ns: string) => path.join(state, "ns", ns);
const calls = (): string[] => (fs.existsSync(path.join(state, "calls")) ? fs.readFileSync(path.join(state, "calls"), "utf8").trim().split("\n") : []);
/** A namespace as the cluster holds it: uid|phase|managed-by label|field managers. */
function namespace(ns: string, line: string): void {
    fs.mkdirSync(path.dirname(nsFile(ns)), { recursive: true });
    fs.writeFileSync(nsFile(ns), `${line}\n`);
}

function run(mode: string, env: Record<string, string>, stdin = "", pathDirs = [bin, "/usr/bin", "/bin"]): { code: number; stdout: string; stderr: string } {
    const [shell, ...args] = KUBECTL_INTERPRETER;
    const r = spawnSync(shell, [...args, mode], {
        input: stdin, encoding: "utf8",
        env: { PATH: pathDirs.join(":"), HOME: path.join(state, "home"), FAKE_K8S: state, ...env },
    });
    return { code: r.status ?? -1, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

beforeEach(() => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), "pr-kubectl-"));
    bin = path.join(state, "bin");
    fs.mkdirSync(bin);
    fs.copyFileSync(path.join(__dirname, "..", "support", "fake-kubectl.sh"), path.join(bin, "kubectl"));
    fs.chmodSync(path.join(bin, "kubectl"), 0o755);
});

afterEach(() => fs.rmSync(state, { recursive: true, force: true }));

describe("kubernetes.sh: namespaces", () => {
    it("a namespace that existed before: ensure leaves it alone, and release never deletes it", () => {
        namespace("shop", "1111-aaaa|Active||kubectl-create");
        const ensure = run("ensure", { NAMESPACE: "shop", CREATE_NAMESPACE: "1" });
        assert.equal(ensure.code, 0, ensure.stderr);
        assert.equal(ensure.stdout, "kept: namespace shop was there before this stack; destroy leaves it");
        const release = run("release", { NAMESPACE: "shop", PULUMI_COMMAND_STDOUT: ensure.stdout });
        assert.equal(release.code, 0, release.stderr);
        assert.match(release.stdout, /^kept: namespace shop/);
        // a line claiming it, but for another namespace object (another uid): still not deleted
        const forged = run("release", { NAMESPACE: "shop", PULUMI_COMMAND_STDOUT: "created: namespace shop (uid 2222-bbbb); destroy deletes it" });
        assert.equal(forged.stdout, "kept: namespace shop is not the one this stack created (uid 1111-aaaa, not 2222-bbbb)");
        assert.ok(!calls().some((c) => / (create|delete|label) /.test(` ${c} `)), calls().join("\n"));
        assert.equal(fs.readFileSync(nsFile("shop"), "utf8"), "1111-aaaa|Active||kubectl-create\n", "untouched");
    });

    it("a namespace ensure created: labelled, kept through updates, deleted by release; not after createNamespaces goes off", () => {
        const ensure = run("ensure", { NAMESPACE: "apps", CREATE_NAMESPACE: "1" });
        assert.equal(ensure.code, 0, ensure.stderr);
        const m = /^created: namespace apps \(uid ([0-9a-f-]+)\); destroy deletes it$/.exec(ensure.stdout);
        assert.ok(m, ensure.stdout);
        assert.equal(fs.readFileSync(nsFile("apps"), "utf8"), `${m[1]}|Active|private-registry|kubectl-create\n`);
        // an update (another kubeconfig, a new script) runs ensure again with the previous line: still ours
        const again = run("ensure", { NAMESPACE: "apps", CREATE_NAMESPACE: "1", PULUMI_COMMAND_STDOUT: ensure.stdout });
        assert.equal(again.stdout, ensure.stdout);
        // createNamespaces off: no longer the stack's, so neither its release
        const off = run("ensure", { NAMESPACE: "apps", CREATE_NAMESPACE: "0", PULUMI_COMMAND_STDOUT: ensure.stdout });
        assert.match(off.stdout, /^kept: namespace apps is not created by this stack \(createNamespaces is off\)/);
        assert.match(run("release", { NAMESPACE: "apps", PULUMI_COMMAND_STDOUT: off.stdout }).stdout, /^kept:/);
        assert.ok(fs.existsSync(nsFile("apps")));
        const release = run("release", { NAMESPACE: "apps", PULUMI_COMMAND_STDOUT: again.stdout });
        assert.equal(release.code, 0, release.stderr);
        assert.equal(release.stdout, "deleted: namespace apps (created by this stack)");
        assert.ok(!fs.existsSync(nsFile("apps")));
        // gone already (deleted by hand): nothing to do
        assert.equal(run("release", { NAMESPACE: "apps", PULUMI_COMMAND_STDOUT: again.stdout }).stdout, "unchanged: namespace apps is gone already");
    });

    it("an earlier version's namespace: ensure drops that version's label and keeps the namespace", () => {
        namespace("legacy", "3333-cccc|Active|private-registry|pulumi-kubernetes-0a1b2c3d kube-controller-manager");
        const ensure = run("ensure", { NAMESPACE: "legacy", CREATE_NAMESPACE: "1" });
        assert.equal(ensure.code, 0, ensure.stderr);
        assert.match(ensure.stdout, /^kept: namespace legacy was there before \(taken over by an earlier version/);
        assert.equal(fs.readFileSync(nsFile("legacy"), "utf8"), "3333-cccc|Active||kubectl-label\n");
        assert.match(run("release", { NAMESPACE: "legacy", PULUMI_COMMAND_STDOUT: ensure.stdout }).stdout, /^kept:/);
        assert.ok(fs.existsSync(nsFile("legacy")));
    });

    it("ensure without createNamespaces: a missing namespace fails with the namespaces message alone", () => {
        const r = run("ensure", { NAMESPACE: "gone", CREATE_NAMESPACE: "0" });
        assert.equal(r.code, 1);
        assert.equal(r.stderr, missingNamespace("gone"));
    });

    it("check: one line per namespace, the legacy ones, and one fail line for a cluster that does not answer or refuses; exit 0", () => {
        namespace("default", "d|Active||kube-apiserver");
        namespace("old", "o|Active|private-registry|pulumi-kubernetes-99");
        namespace("ours", "n|Active|private-registry|kubectl-create");
        const r = run("check", { NAMESPACES: "default apps ours" });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout.split("\n"), ["present default", "missing apps", "present ours", "legacy old"]);
        fs.writeFileSync(path.join(state, "down"), "");
        const dead = run("check", { NAMESPACES: "default" });
        assert.equal(dead.code, 0);
        assert.equal(dead.stdout, "fail private-registry:kubernetes.kubeconfig/kubernetes.context: cannot reach the cluster: Unable to connect to the server: dial tcp 127.0.0.1:6999: connect: connection refused");
        fs.renameSync(path.join(state, "down"), path.join(state, "forbidden"));
        assert.match(run("check", { NAMESPACES: "default" }).stdout, /^fail private-registry:kubernetes\.kubeconfig\/kubernetes\.context: the cluster refused: Error from server \(Forbidden\)/);
        const ensure = run("ensure", { NAMESPACE: "default", CREATE_NAMESPACE: "0" });
        assert.equal(ensure.code, 1);
        assert.match(ensure.stderr, /^private-registry:kubernetes\.kubeconfig\/kubernetes\.context: the cluster refused: /);
    });

    it("without kubectl: check says so in a fail line; a step fails with the same message", () => {
        const tools = path.join(state, "tools");
        fs.mkdirSync(tools);
        for (const t of ["bash", "mktemp", "cat", "rm"]) fs.symlinkSync(spawnSync("/bin/sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim(), path.join(tools, t));
        const needs = "private-registry:kubernetes: kubectl is needed where pulumi runs (for the pull secret's namespaces and ServiceAccounts)";
        assert.equal(run("check", { NAMESPACES: "default" }, "", [tools]).stdout, `fail ${needs}`);
        const ensure = run("ensure", { NAMESPACE: "apps", CREATE_NAMESPACE: "1" }, "", [tools]);
        assert.equal(ensure.code, 1);
        assert.equal(ensure.stderr, needs);
    });
});

describe("kubernetes.sh: the cluster", () => {
    it("a kubeconfig path under ~/ is read from the home of whoever runs pulumi, as the provider reads it", () => {
        namespace("default", "d|Active||kube-apiserver");
        const r = run("check", { NAMESPACES: "default", KUBECONFIG_PATH: "~/.kube/config", KUBE_CONTEXT: "kind-kind" });
        assert.equal(r.stdout.split("\n")[0], "present default");
        assert.ok(calls().every((c) => c.includes(`--kubeconfig ${path.join(state, "home")}/.kube/config --context kind-kind`)), calls().join("\n"));
        // an absolute path is used as it is; content comes on stdin and goes to a private file, not argv
        run("check", { NAMESPACES: "default", KUBECONFIG_PATH: "/etc/k/config" });
        assert.match(calls().at(-1)!, /--kubeconfig \/etc\/k\/config /);
        run("check", { NAMESPACES: "default" }, "apiVersion: v1\nkind: Config\n");
        assert.match(calls().at(-1)!, /--kubeconfig \/tmp\/\S+ /);
        assert.doesNotMatch(calls().join("\n"), /apiVersion/);
    });
});
