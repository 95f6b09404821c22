// Live section: `pulumi up` killed with SIGKILL at two points, the pending operations it leaves cleared
// the way Pulumi documents (`pulumi refresh --import-pending-creates` for what was created but not
// recorded, `--clear-pending-creates` for the rest), plus an empty `.attrs` file of the file backend
// that a kill can leave, then `up` again: it converges, byte-equal to nodes configured without interruption.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import { it } from "node:test";
import { changed, run } from "./cli";
import { containerId, env, live, log, sshSessions, stack, state, upOk } from "./context";
import { diffSnapshots, httpsGet, snapshot } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
const NOT_OURS = [/java\/cacerts$/];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `pulumi up` and SIGKILLs the CLI as soon as `when` holds; returns how long it ran. */
async function upKilledWhen(when: () => boolean | Promise<boolean>): Promise<number> {
    const { child, done } = stack.start(["up", "--yes", "--skip-preview", "--suppress-progress"]);
    const t0 = Date.now();
    for (;;) {
        if (child.exitCode !== null) assert.fail(`up ended (${child.exitCode}) before the kill point`);
        if (await when()) break;
        if (Date.now() - t0 > 180_000) assert.fail("the kill point never came");
        await sleep(20);
    }
    child.kill("SIGKILL");
    await done;
    return Date.now() - t0;
}

/**
 * Pending operations in the state, and the documented way out of them: the killed CLI's lock goes with
 * `pulumi cancel`; `pulumi refresh --clear-pending-creates` drops the creates the engine never recorded;
 * what such a create made all the same (the registry container, whose name the next create needs) is
 * removed by hand.
 */
async function clearPending(): Promise<string[]> {
    // the plugins the killed CLI started finish or exit on their own; give them a moment
    await sleep(3000);
    // The file backend (gocloud fileblob) keeps each object's metadata in a `<file>.attrs` beside it, written
    // in place after the object: killed in between, it is left empty, and every command then fails with
    // "failed to load checkpoint: EOF". A missing one is read as no metadata, so an empty one is removed.
    const emptyAttrs = stack.stateFiles().filter((f) => f.endsWith(".attrs") && fs.statSync(f).size === 0);
    for (const f of emptyAttrs) fs.rmSync(f);
    if (emptyAttrs.length) log(`removed ${emptyAttrs.length} empty .attrs file(s) the kill left: ${emptyAttrs.map((f) => f.slice(f.indexOf("/state/"))).join(", ")}`);
    if (stack.locks().length > 0) await stack.must(["cancel", "--yes"]);
    assert.deepEqual(stack.locks(), []);
    const dep = JSON.parse((await stack.must(["stack", "export"])).stdout).deployment;
    const pending: any[] = dep.pending_operations ?? [];
    const kinds = pending.map((p) => `${p.type} ${p.resource.urn.slice(p.resource.urn.lastIndexOf("::") + 2)}`);
    const creates = pending.filter((p) => p.type === "creating");
    if (creates.length) {
        const r = await stack.refresh(["--clear-pending-creates"]);
        assert.equal(r.code, 0, `refresh --clear-pending-creates: ${r.stderr.slice(-2000)}`);
        for (const p of creates.filter((c) => c.resource.type === "docker:index/container:Container")) {
            const name = p.resource.inputs?.name;
            if (name) await run("docker", ["-H", env.dockerHost, "rm", "-f", name]);
        }
    }
    return kinds;
}

async function converged(afterFirst: Map<string, Map<string, string>>): Promise<void> {
    const o = await upOk();
    log(`converging up: ${changed(o).join(", ")}`);
    for (const n of env.nodes) {
        assert.deepEqual(diffSnapshots(afterFirst.get(n.name)!, await snapshot(env, n.name), NOT_OURS), [], `node ${n.name}`);
    }
    const r = await httpsGet({ host: env.hostAddress, port: live.port, servername: live.hostname, ca: state.caPem, auth: `${live.user}:${state.password}` });
    assert.equal(r.status, 200);
    const p = await stack.preview(["--expect-no-changes"]);
    assert.equal(p.code, 0, changed(p).join(", "));
}

// the container that publishes the address: the front with two logins
const TARGETS = [live.pullOnly ? "**registry-server-front-container" : "**registry-server-container", "**-trust"];

export function interrupted(afterFirst: () => Map<string, Map<string, string>>): void {
    it("interrupted: SIGKILL during the container create, pending ops cleared, up converges", async () => {
        // the service images depend on the container: they go too, and come back with it
        const d = await stack.destroy([...TARGETS.flatMap((t) => ["--target", t]), "--target-dependents"]);
        assert.equal(d.code, 0, `${d.stderr.slice(-2000)}${d.stdout.slice(-2000)}`);
        assert.equal(await containerId(), "");
        const ms = await upKilledWhen(async () => (await containerId()) !== "");
        const pending = await clearPending();
        log(`killed ${ms} ms into up, at the container create; pending: ${pending.join(", ") || "none"}`);
        await converged(afterFirst());
    });

    it("interrupted: SIGKILL during the node commands, pending ops cleared, up converges", async () => {
        const d = await stack.destroy(["--target", "**-trust"]);
        assert.equal(d.code, 0, `${d.stderr.slice(-2000)}${d.stdout.slice(-2000)}`);
        const before = sshSessions();
        const ms = await upKilledWhen(() => Object.entries(sshSessions()).some(([n, c]) => c > before[n]));
        const pending = await clearPending();
        log(`killed ${ms} ms into up, during the node commands; pending: ${pending.join(", ") || "none"}`);
        assert.ok(fs.existsSync(stack.configFile));
        await converged(afterFirst());
        // one registry container per bind address (the mirror's aside), none left over from the killed run
        const ps = await run("docker", ["-H", env.dockerHost, "ps", "-a", "--format", "{{.Names}}", "--filter", `name=^${live.config.containerName}`]);
        const ours = new RegExp(`^${live.config.containerName}(-[0-9]+-[0-9]+-[0-9]+-[0-9]+)?$`);
        assert.equal(ps.stdout.trim().split("\n").filter((n) => ours.test(n)).length, live.config.bindAddress.length, ps.stdout);
    });
}
