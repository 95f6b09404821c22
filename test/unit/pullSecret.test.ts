// PullSecret with Pulumi mocks: what it declares, the namespace check it runs at preview, and that a
// namespace is never a Namespace resource (the provider upserts: it would adopt and later delete one
// that existed before).
import * as assert from "node:assert/strict";
import * as os from "node:os";
import { after, before, beforeEach, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { byType, captureOptions, created, functions, invoked, one, rejections, reset, settle, setupMocks, valueOf } from "./mocks";

let config: typeof import("../../components/config/config");
let ps: typeof import("../../components/kubernetes/PullSecret");
const settings = (kubernetes: Record<string, unknown>) => config.parseSettings({ kubernetes }, "test").kubernetes!;
const SCRIPT_MARKS = [/set -euo pipefail/, /imagePullSecrets is an atomic list/];
const answerCheck = functions["command:local:run"];

before(async () => {
    await setupMocks(false);
    config = await import("../../components/config/config");
    ps = await import("../../components/kubernetes/PullSecret");
});
beforeEach(reset);
after(() => {
    functions["command:local:run"] = answerCheck;
});

describe("PullSecret", () => {
    it("a dockerconfigjson secret per namespace, the ServiceAccount steps and the hosting ConfigMap on request", async () => {
        const k = settings({ context: "kind-kind", namespaces: ["default", "apps"], secretName: "regcred", patchDefaultServiceAccount: true, publishHostingConfigMap: true });
        const p = new ps.PullSecret("ps", { kubernetes: k, registry: "r.example:5000", dockerConfigJson: pulumi.secret("{\"auths\":{}}") },
            { transformations: [captureOptions] });
        assert.deepEqual(await valueOf(p.secretNames), { default: "regcred", apps: "regcred" });
        await settle();
        assert.equal(one("pulumi:providers:kubernetes").inputs.context, "kind-kind");
        const secrets = byType("kubernetes:core/v1:Secret");
        assert.deepEqual(secrets.map((x) => x.inputs.metadata.namespace), ["default", "apps"]);
        for (const sec of secrets) {
            assert.equal(sec.inputs.type, "kubernetes.io/dockerconfigjson");
            assert.equal(sec.inputs.stringData[".dockerconfigjson"], "{\"auths\":{}}");
            assert.ok(sec.opts?.provider);
            // objects made by hand before (the recipe's regcred) are taken over, not refused
            assert.equal(sec.inputs.metadata.annotations["pulumi.com/patchForce"], "true");
        }
        // imagePullSecrets is an atomic list under server-side apply: one entry is added and removed by JSON patch
        assert.equal(byType("kubernetes:core/v1:ServiceAccountPatch").length, 0);
        const sa = byType("command:local:Command").filter((x) => x.name.endsWith("-default-sa"));
        assert.deepEqual(sa.map((x) => x.inputs.environment), [
            { NAMESPACE: "default", SECRET_NAME: "regcred", KUBE_CONTEXT: "kind-kind" }, { NAMESPACE: "apps", SECRET_NAME: "regcred", KUBE_CONTEXT: "kind-kind" }]);
        assert.equal(sa[0].inputs.create, "add");
        assert.equal(sa[0].inputs.delete, "remove");
        assert.deepEqual(sa[0].inputs.interpreter, ps.KUBECTL_INTERPRETER);
        assert.equal(sa[0].inputs.addPreviousOutputInEnv, false);
        const cm = one("kubernetes:core/v1:ConfigMap");
        assert.equal(cm.inputs.metadata.namespace, "kube-public");
        assert.equal(cm.inputs.metadata.name, "local-registry-hosting");
        assert.match(cm.inputs.data["localRegistryHosting.v1"], /^host: "r\.example:5000"$/m);
    });

    it("every namespace is checked by an invoke (it runs at preview), not by a step that runs only at up", async () => {
        new ps.PullSecret("ps", { kubernetes: settings({ context: "kind-kind", namespaces: ["default", "apps"] }), registry: "r:5000", dockerConfigJson: "{}" });
        await settle();
        assert.equal(invoked.length, 1);
        const check = invoked[0];
        assert.equal(check.token, "command:local:run");
        assert.equal(check.inputs.command, "check");
        assert.deepEqual(check.inputs.interpreter, ps.KUBECTL_INTERPRETER);
        assert.deepEqual(check.inputs.environment, { NAMESPACES: "default apps", KUBE_CONTEXT: "kind-kind" });
        assert.equal(check.inputs.logging, "none");
        assert.equal(created.filter((r) => r.name === "ps-namespaces").length, 0);
    });

    it("createNamespaces: no Namespace resource; an ensure/release step per namespace but the ones every cluster has", async () => {
        const k = settings({ kubeconfig: "~/.kube/config", namespaces: ["default", "apps", "kube-public"], createNamespaces: true });
        new ps.PullSecret("ps", { kubernetes: k, registry: "r:5000", dockerConfigJson: "{}" }, { transformations: [captureOptions] });
        await settle();
        assert.deepEqual(byType("kubernetes:core/v1:Namespace"), [], "a Namespace resource would adopt an existing namespace and delete it on destroy");
        const steps = byType("command:local:Command");
        assert.deepEqual(steps.map((x) => x.name), ["ps-ns-apps"]);
        const ns = steps[0];
        assert.equal(ns.inputs.create, "ensure");
        assert.equal(ns.inputs.delete, "release");
        // release reads what ensure printed: whether this stack created the namespace
        assert.equal(ns.inputs.addPreviousOutputInEnv, true);
        // ~/ is this user's home for kubectl and the provider alike (the provider alone would ask the
        // user database, kubectl $HOME): the program expands it once, as for nodes' privateKeyPath
        assert.deepEqual(ns.inputs.environment, { NAMESPACE: "apps", CREATE_NAMESPACE: "1", KUBECONFIG_PATH: `${os.homedir()}/.kube/config` });
        assert.equal(one("pulumi:providers:kubernetes").inputs.kubeconfig, `${os.homedir()}/.kube/config`);
        // the secret waits for its namespace
        const secret = byType("kubernetes:core/v1:Secret").find((x) => x.inputs.metadata.namespace === "apps")!;
        const deps = secret.opts!.dependsOn as pulumi.Resource[];
        assert.equal(deps.length, 1);
        assert.match(await valueOf(deps[0].urn), /command:local:Command::ps-ns-apps$/);
        // a missing namespace to be created is no problem for the check; default must exist
        assert.deepEqual(ps.readNamespaceCheck("present default\nmissing apps\npresent kube-public", ["default", "apps", "kube-public"], ["default", "kube-public"]).problems, []);
    });

    it("createNamespaces off: the steps record that the namespaces are not the stack's (turning it off never deletes one)", async () => {
        new ps.PullSecret("ps", { kubernetes: settings({ context: "c", namespaces: ["default", "apps"] }), registry: "r:5000", dockerConfigJson: "{}" });
        await settle();
        const ns = one("command:local:Command", "ps-ns-apps");
        assert.equal(ns.inputs.environment.CREATE_NAMESPACE, "0");
        assert.equal(ns.inputs.delete, "release");
    });

    it("no command string holds the script: the provider repeats it in every failure message", async () => {
        const k = settings({ kubeconfig: "/k", namespaces: ["default", "apps"], createNamespaces: true, patchDefaultServiceAccount: true });
        new ps.PullSecret("ps", { kubernetes: k, registry: "r:5000", dockerConfigJson: "{}" });
        await settle();
        const strings = [...byType("command:local:Command").flatMap((x) => [x.inputs.create, x.inputs.delete]), ...invoked.map((x) => x.inputs.command)];
        assert.deepEqual(strings.sort(), ["add", "add", "check", "ensure", "release", "remove", "remove"]);
        assert.ok(SCRIPT_MARKS.every((m) => m.test(ps.KUBECTL_INTERPRETER[2])), "the script travels as bash's argument");
    });

    it("legacy: a namespace an earlier version took over is read under its old resource name, which releases it without a delete", async () => {
        functions["command:local:run"] = () => ({ stdout: "present default\npresent apps\nlegacy apps\nlegacy old", stderr: "" });
        try {
            new ps.PullSecret("ps", { kubernetes: settings({ context: "c", namespaces: ["default", "apps"], createNamespaces: true }), registry: "r:5000", dockerConfigJson: "{}" });
            await settle();
        } finally {
            functions["command:local:run"] = answerCheck;
        }
        // the old program named them <name>-ns-<namespace>; a read with the same URN and id relinquishes
        assert.deepEqual(byType("kubernetes:core/v1:Namespace").map((x) => [x.name, x.id]), [["ps-ns-apps", "apps"], ["ps-ns-old", "old"]]);
    });

    for (const preview of [true, false]) {
        it(`a namespace that does not exist fails the ${preview ? "preview" : "update"} with the message alone; nothing in the cluster is declared`, async () => {
            await setupMocks(preview);
            functions["command:local:run"] = () => ({ stdout: "present default\nmissing apps", stderr: "" });
            let p: InstanceType<typeof ps.PullSecret> | undefined;
            const seen = await rejections(async () => {
                p = new ps.PullSecret("ps", { kubernetes: settings({ context: "c", namespaces: ["default", "apps"], patchDefaultServiceAccount: true }), registry: "r:5000", dockerConfigJson: "{}" });
                await assert.rejects(valueOf(p.namespaceCheck), (e: Error) => e.message === ps.missingNamespace("apps"));
            }).finally(async () => {
                functions["command:local:run"] = answerCheck;
                await setupMocks(false);
            });
            // the language host reports an unhandled ResourceError that hides its stack by its message
            assert.ok(seen.length > 0);
            for (const e of seen) {
                assert.ok(pulumi.ResourceError.isInstance(e), String(e));
                assert.equal((e as pulumi.ResourceError).hideStack, true);
                // reported after the program's first turn, the host shows the stack: the message alone too
                assert.equal((e as Error).stack, (e as Error).message);
                assert.equal((e as Error).message, 'private-registry:kubernetes.namespaces: namespace "apps" does not exist in the cluster; create it, or set private-registry:kubernetes.createNamespaces to true');
            }
            assert.equal(new Set(seen).size, 1, "one error object, reported once");
            assert.deepEqual(created.filter((r) => !["private-registry:index:PullSecret", "pulumi:providers:kubernetes"].includes(r.type)).map((r) => r.name), []);
            assert.deepEqual(await valueOf(p!.secretNames), {});
        });
    }
});

describe("readNamespaceCheck", () => {
    it("turns the check's lines into problems (each alone) and the legacy namespaces", () => {
        const r = ps.readNamespaceCheck("present default\nmissing a\nmissing b\nlegacy c\nlegacy c", ["default", "a", "b"], ["default", "a"]);
        assert.deepEqual(r.problems, [ps.missingNamespace("a")]);
        assert.deepEqual(r.legacy, ["c"]);
        const dead = ps.readNamespaceCheck("fail private-registry:kubernetes.kubeconfig/kubernetes.context: cannot reach the cluster: refused", ["default"], ["default"]);
        assert.deepEqual(dead.problems, ["private-registry:kubernetes.kubeconfig/kubernetes.context: cannot reach the cluster: refused"]);
        // an answer missing for a namespace is a problem, not a pass
        assert.deepEqual(ps.readNamespaceCheck("", ["x"], []).problems, ['private-registry:kubernetes.namespaces: the namespace check gave no answer for "x"']);
    });
});
