// A node that no longer exists: `nodes[].retired: true` keeps its command's stored inputs (no update,
// no replace, so no connection) and makes a later removal from `nodes` skip the delete.
import * as assert from "node:assert/strict";
import { before, beforeEach, describe, it } from "node:test";
import { parseSettings } from "../../components/config/config";
import { NodeTrust } from "../../components/nodes/NodeTrust";
import { configProblems, sshKey } from "../support/configProblems";
import { captureOptions, one, realPki, reset, settle, setupMocks, valueOf } from "./mocks";

function trust(nodeRaw: Record<string, unknown>) {
    const s = parseSettings({ hostname: "docker.registry.com", nodes: [{ name: "old", host: "10.0.0.7", runtime: "docker", ...nodeRaw }] }, "test");
    const t = new NodeTrust("n", { node: s.nodes[0], registry: "docker.registry.com:5000", hostname: "docker.registry.com",
        caCertPem: realPki("ca-one").caCertPem, id: "private-registry-test" }, { transformations: [captureOptions] });
    return { t, cmd: () => one("command:remote:Command") };
}

describe("retired nodes", () => {
    before(async () => setupMocks());
    beforeEach(reset);

    it("a live node: every change applies and its removal runs the delete", async () => {
        const { t, cmd } = trust({ privateKey: sshKey });
        await valueOf(t.report);
        assert.equal(cmd().opts?.ignoreChanges, undefined);
        assert.equal(cmd().opts?.retainOnDelete, undefined);
    });

    it("retired: every input keeps its stored value, the delete is skipped, the report says so", async () => {
        const { t, cmd } = trust({ privateKey: sshKey, retired: true });
        const report = await valueOf(t.report);
        await settle();
        const inputs = Object.keys(cmd().inputs).filter((k) => cmd().inputs[k] !== undefined).sort();
        assert.deepEqual([...(cmd().opts?.ignoreChanges ?? [])].sort(), inputs, "each input the command is given is ignored");
        assert.equal(cmd().opts?.retainOnDelete, true);
        assert.match(report, /^retired: old is not contacted; remove it from private-registry:nodes to drop it from the stack$/);
    });

    it("a retired node needs no key (it may be gone with the machine); a live one does", () => {
        assert.deepEqual(configProblems({ nodes: [{ host: "10.0.0.7", runtime: "docker", retired: true }] }), []);
        assert.deepEqual(configProblems({ nodes: [{ host: "10.0.0.7", runtime: "docker", retired: true, privateKeyPath: "/gone/key" }] }), []);
        assert.match(configProblems({ nodes: [{ host: "10.0.0.7", runtime: "docker" }] })[0], /^private-registry:nodes\[0\]\.privateKey is required/);
    });
});
