// Kubernetes settings that cannot work fail with an error naming the config key and nothing else (no
// script text, no stack trace): a namespace that does not exist (and is not to be created) and a
// cluster that does not answer fail the preview, before anything is created; a kubectl step that the
// cluster refuses fails the up with its own message. And a kubeconfig path under ~/ works everywhere.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { changed, nameOf, Outcome, run, Stack } from "./cli";
import { loadEnv } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
const env = loadEnv();
const kubeconfigFile = process.env.LIVE_KUBECONFIG ?? "";
const K8S_DIR = process.env.K8S_DIR ?? "/tmp/pr-k8s";
const work = fs.mkdtempSync(path.join(env.liveDir, "k8s-errors-"));
const stack = new Stack(work, "k8s-errors");
const registry = { hostname: env.hostAddress, port: 5603, bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImage, containerName: "live-k8s-errors" };
/** Lines of components/kubernetes/scripts/kubernetes.sh: none may reach the user in an error. */
const SCRIPT_TEXT = /set -euo pipefail|imagePullSecrets is an atomic list|mktemp/;

const admin = (): string => fs.readFileSync(kubeconfigFile, "utf8");
const kubectl = (args: string[], input?: string) => run("kubectl", ["--kubeconfig", kubeconfigFile, ...args], { input });
/** Everything the user is shown of a run: its error diagnostics and what the CLI printed. */
const shown = (o: Outcome): string => [...o.errors.map((e) => e.message), o.stdout, o.stderr].join("\n");

/** What the stack's state holds: resource names, the stack and providers left out. */
async function resources(): Promise<string[]> {
    const doc = JSON.parse((await stack.must(["stack", "export"])).stdout);
    return (doc.deployment?.resources ?? []).map((r: any) => r.urn as string)
        .filter((u: string) => !u.includes("::pulumi:pulumi:Stack::") && !u.includes("::pulumi:providers:")).map(nameOf);
}

/** The message alone: named by key, no script text, no stack trace of the program. */
function alone(text: string, expected: RegExp): void {
    assert.match(text, expected);
    assert.doesNotMatch(text, SCRIPT_TEXT);
    assert.doesNotMatch(text, /unhandled exception|\(\/[^)]+\.ts:\d+:\d+\)/);
}

/**
 * A kubeconfig of a user who may read namespaces, manage secrets in `default` and read, not patch, its
 * ServiceAccounts: a client certificate signed with the suite cluster's CA (k8s-up.sh's pki).
 */
async function restrictedKubeconfig(): Promise<string> {
    const pki = path.join(K8S_DIR, "pki");
    const key = path.join(work, "restricted.key");
    const csr = path.join(work, "restricted.csr");
    const crt = path.join(work, "restricted.crt");
    for (const args of [
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", "/CN=live-restricted", "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", path.join(pki, "ca.crt"), "-CAkey", path.join(pki, "ca.key"), "-set_serial", `0x${Date.now().toString(16)}`, "-days", "1", "-out", crt],
    ]) {
        const r = await run("openssl", args);
        assert.equal(r.code, 0, r.stderr);
    }
    const rbac = {
        apiVersion: "v1", kind: "List", items: [
            { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "live-restricted" }, rules: [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list"] }] },
            { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "live-restricted" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "live-restricted" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "live-restricted" }] },
            { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "live-restricted", namespace: "default" }, rules: [
                { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
                // reading the ServiceAccount but not patching it: the add step fails, a later remove has nothing to do
                { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["get"] },
            ] },
            { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "live-restricted", namespace: "default" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "live-restricted" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "live-restricted" }] },
        ],
    };
    const r = await kubectl(["apply", "-f", "-"], JSON.stringify(rbac));
    assert.equal(r.code, 0, r.stderr);
    const b64 = (f: string) => fs.readFileSync(f).toString("base64");
    const cfg = admin().replace(/client-certificate-data: *"?[A-Za-z0-9+/=]+"?/, `client-certificate-data: "${b64(crt)}"`)
        .replace(/client-key-data: *"?[A-Za-z0-9+/=]+"?/, `client-key-data: "${b64(key)}"`);
    assert.notEqual(cfg, admin());
    return cfg;
}

/** A second stack, whose kubeconfig is a path under its own home. */
const homeStack = new Stack(work, "k8s-home");
const home = path.join(work, "home");
homeStack.env.HOME = home;

after(async () => {
    if (fs.existsSync(path.join(home, ".kube", "config"))) await homeStack.destroy();
    await stack.destroy();
});

describe("live: Kubernetes settings that cannot work", { skip: !kubeconfigFile && process.env.CI !== "true" ? "no LIVE_KUBECONFIG" : false }, () => {
    it("a namespace that does not exist fails the preview with the message alone; pulumi up stops there, nothing created", async () => {
        assert.ok(kubeconfigFile, "LIVE_KUBECONFIG names the suite's cluster");
        await stack.init();
        await stack.configure({ ...registry, kubernetes: { namespaces: ["default", "missing-ns"] } }, { "kubernetes.kubeconfig": admin() });
        const p = await stack.preview();
        assert.notEqual(p.code, 0, "the preview fails");
        alone(shown(p), /private-registry:kubernetes\.namespaces: namespace "missing-ns" does not exist in the cluster; create it, or set private-registry:kubernetes\.createNamespaces to true/);
        assert.ok(p.ms < 60_000, `${p.ms} ms`);
        // `pulumi up` as users run it: its preview fails, so nothing is created
        const up = await stack.start(["up", "--yes", "--suppress-progress"]).done;
        assert.notEqual(up.code, 0);
        alone(shown(up), /namespace "missing-ns" does not exist in the cluster/);
        assert.deepEqual(await resources(), []);
        const ctr = await run("docker", ["-H", env.dockerHost, "ps", "-aq", "--filter", `name=${registry.containerName}`]);
        assert.equal(ctr.stdout.trim(), "", "no registry container");
    });

    it("a cluster that does not answer fails the preview, naming the cluster setting", async () => {
        const dead = admin().replace(/server: *"?https:\/\/127\.0\.0\.1:\d+"?/, 'server: "https://127.0.0.1:6999"');
        assert.match(dead, /127\.0\.0\.1:6999/);
        await stack.configure({ ...registry, kubernetes: { namespaces: ["default"] } }, { "kubernetes.kubeconfig": dead });
        const p = await stack.preview();
        assert.notEqual(p.code, 0);
        alone(shown(p), /private-registry:kubernetes\.kubeconfig\/kubernetes\.context: cannot reach the cluster/);
        assert.deepEqual(await resources(), []);
    });

    it("a kubectl step the cluster refuses fails the up with its own message, not the script's text", async () => {
        await stack.configure({ ...registry, kubernetes: { namespaces: ["default"], patchDefaultServiceAccount: true } },
            { "kubernetes.kubeconfig": await restrictedKubeconfig() });
        const o = await stack.up();
        assert.notEqual(o.code, 0);
        const failed = [...o.ops].filter(([, op]) => op.startsWith("failed")).map(([u]) => nameOf(u));
        assert.deepEqual(failed, ["registry-k8s-default-default-sa"], changed(o).join(", "));
        const msg = o.errors.map((e) => e.message).join("\n");
        alone(msg, /private-registry:kubernetes\.kubeconfig\/kubernetes\.context: the cluster refused: .*forbidden/i);
        // the command provider names the step by its command string, which is only the mode
        assert.match(msg, /running "add"/);
    });

    it("a kubeconfig path under ~/ works for the provider and for the kubectl steps", async () => {
        fs.mkdirSync(path.join(home, ".kube"), { recursive: true });
        fs.writeFileSync(path.join(home, ".kube", "config"), admin(), { mode: 0o600 });
        await homeStack.init();
        await homeStack.configure({ ...registry, port: 5604, containerName: "live-k8s-home",
            kubernetes: { namespaces: ["default"], secretName: "regcred-home", patchDefaultServiceAccount: true } },
            { "kubernetes.kubeconfig": "~/.kube/config" });
        const p = await homeStack.preview();
        assert.equal(p.code, 0, shown(p).slice(-3000));
        const o = await homeStack.up();
        assert.equal(o.code, 0, shown(o).slice(-3000));
        const sa = JSON.parse((await kubectl(["-n", "default", "get", "serviceaccount", "default", "-o", "json"])).stdout);
        assert.ok((sa.imagePullSecrets ?? []).some((s: any) => s.name === "regcred-home"), "the ServiceAccount step reached the cluster through ~/.kube/config");
        assert.equal((await kubectl(["-n", "default", "get", "secret", "regcred-home"])).code, 0, "the provider did too");
    });
});
