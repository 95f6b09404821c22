// Real runs of the cleanRecipe opt-in (test/live/scriptNode.ts): the manual recipe's leftovers are set up
// as the recipe does it (a self-signed certificate made by openssl in the node's
// /usr/local/share/ca-certificates and update-ca-certificates run there, the /etc/hosts line, the
// insecure-registries entry), then the script removes them for good, and reports it.
// Run: node --import tsx --test test/live/nodeScripts-recipe.live.test.ts   (root)
//
// On the copies of this system the reload only counts its calls and records what it read. Node a of the
// live environment (test/live/env/up.sh) runs a real dockerd: there `docker info` shows that the reload
// really dropped the insecure entry. That test needs the environment, which test/live/run.sh brings up.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { nodeCommand, nodeTrustScript } from "../../components/nodes/nodeScripts";
import { run } from "./cli";
import { diff, HOST, ID, lines, Node, opts, pki, REG, setUp, sh, skipReason, tearDown } from "./scriptNode";
import { LiveEnv, loadEnv, nodeExec } from "./support";

const STORE = "/usr/local/share/ca-certificates";
const RECIPE_CRT = `${STORE}/registry-selfsigned.crt`;
const OTHER_CRT = `${STORE}/other-selfsigned.crt`;
const DAEMON = "/etc/docker/daemon.json";
const RECIPE_HOSTS = `127.0.0.1 localhost ${HOST}`;
const CA_FILE = (id: string, reg: string): string => `${STORE}/${id}-${reg.replace(":", "_")}.crt`;
const removedCrt = `removed: ${RECIPE_CRT} (the recipe's self-signed certificate for ${HOST})`;

/** A self-signed certificate made as the recipe makes it, for `host`: its file in the scratch dir. */
function selfSigned(name: string, host: string): string {
    sh(`cd ${pki.work} && openssl req -x509 -nodes -newkey rsa:2048 -subj /CN=${host} -addext subjectAltName=DNS:${host} ` +
        `-keyout ${name}.key -out ${name}.crt 2>/dev/null`);
    return path.join(pki.work, `${name}.crt`);
}

/**
 * A node whose system store keeps three of the Mozilla certificates (update-ca-certificates forks per
 * certificate: see the system trust test in nodeScripts.live.test.ts), with the recipe's certificate and
 * a self-signed one of another host's installed by update-ca-certificates, and the recipe's /etc/hosts line.
 */
function recipeNode(name: string): Node {
    const node = new Node(name);
    const conf = node.read("/etc/ca-certificates.conf").split("\n").filter((l) => l && !l.startsWith("#")).slice(0, 3);
    node.write("/etc/ca-certificates.conf", `${conf.join("\n")}\n`);
    const certs = path.dirname(node.p("/etc/ssl/certs/x"));
    for (const e of fs.readdirSync(certs)) if (fs.lstatSync(path.join(certs, e)).isSymbolicLink()) fs.unlinkSync(path.join(certs, e));
    fs.copyFileSync(selfSigned(`${name}-recipe`, HOST), node.p(RECIPE_CRT));
    fs.copyFileSync(selfSigned(`${name}-other`, "other.registry.com"), node.p(OTHER_CRT));
    const r = node.exec(["update-ca-certificates", "--fresh"]);
    assert.equal(r.status, 0, r.stderr);
    node.write("/etc/hosts", `${RECIPE_HOSTS}\n::1 localhost ip6-localhost\n`);
    return node;
}

/** Does the node's system bundle trust this certificate (a self-signed one verifies against itself there)? */
function trusted(node: Node, crt: string): boolean {
    return node.exec(["openssl", "verify", "-CAfile", "/etc/ssl/certs/ca-certificates.crt", crt]).status === 0;
}

describe("cleanRecipe on private copies of this system", { skip: skipReason }, () => {
    before(setUp);
    after(tearDown);

    test("docker node: the insecure entry (by a reload), the recipe's certificate and its /etc/hosts line go; not back on delete", () => {
        const node = recipeNode("recipe-docker");
        node.write(DAEMON, `{ "insecure-registries":["${REG}"] }\n`);
        const recipeCrt = node.p(RECIPE_CRT);
        const kept = fs.readFileSync(node.p(OTHER_CRT), "utf8");
        const recipePem = fs.readFileSync(recipeCrt, "utf8");
        assert.ok(trusted(node, recipeCrt), "the recipe's certificate is in the node's bundle");
        const seen = path.join(node.dir, "seen");
        const reload = `${node.restart("reload.log")}; tr -d ' \\n' < ${DAEMON} >> '${seen}'; echo >> '${seen}'`;
        const script = nodeTrustScript(opts({ runtime: "docker", cleanRecipe: true, hostsAddress: "10.213.0.1", reloadCommand: reload }));

        const out = node.ok(script, "create");
        assert.deepEqual(lines(out), [
            `changed: /etc/docker/certs.d/${REG}/ca.crt`,
            `removed: insecure-registries entry ${REG} from ${DAEMON} (recipe)`,
            `reloaded: the runtime's mirror settings (removed the recipe's insecure-registries entry ${REG} from ${DAEMON})`,
            removedCrt,
            "changed: /etc/hosts",
            `hosts: commented out (restored on delete): ${RECIPE_HOSTS}`,
            `updated: system CA bundle (removed ${RECIPE_CRT})`,
        ]);
        assert.deepEqual(JSON.parse(node.read(DAEMON)), {});
        // dockerd's reload leaves alone a key the file lacks: the one reload saw the key, empty
        assert.deepEqual(fs.readFileSync(seen, "utf8").split("\n").filter(Boolean), ['{"insecure-registries":[]}']);
        assert.equal(node.count("reload.log"), 1);
        assert.equal(fs.existsSync(recipeCrt), false);
        assert.equal(fs.existsSync(node.p("/etc/ssl/certs/registry-selfsigned.pem")), false, "its link went with the rebuild");
        fs.writeFileSync(path.join(pki.work, "recipe-docker-copy.crt"), recipePem);
        assert.equal(trusted(node, path.join(pki.work, "recipe-docker-copy.crt")), false, "no longer in the node's bundle");
        assert.equal(node.read(OTHER_CRT), kept, "another host's self-signed certificate is kept");
        assert.ok(trusted(node, node.p(OTHER_CRT)));
        assert.equal(node.read("/etc/hosts"), `# private-registry ${ID}: ${RECIPE_HOSTS}\n127.0.0.1 localhost # private-registry ${ID}: without ${HOST}\n` +
            `::1 localhost ip6-localhost\n10.213.0.1 ${HOST} # ${ID}\n`);

        const once = node.tree(true);
        const again = node.ok(script, "create");
        assert.deepEqual(lines(again), [`unchanged: /etc/docker/certs.d/${REG}/ca.crt`, "unchanged: /etc/hosts", `hosts: commented out (restored on delete): ${RECIPE_HOSTS}`]);
        assert.deepEqual(diff(once, node.tree(true)), [], "a second run changes nothing");
        assert.equal(node.count("reload.log"), 1);

        const gone = node.ok(script, "delete");
        assert.doesNotMatch(gone, /daemon\.json|registry-selfsigned|reloaded/, gone);
        assert.deepEqual(JSON.parse(node.read(DAEMON)), {}, "delete does not give the insecure entry back");
        assert.equal(fs.existsSync(recipeCrt), false, "nor the recipe's certificate");
        assert.equal(node.read("/etc/hosts"), `${RECIPE_HOSTS}\n::1 localhost ip6-localhost\n`, "the commented-out line is given back, as with hostsCommentOut");
        assert.equal(fs.existsSync(node.p(`/etc/${ID}`)), false);
        assert.equal(node.count("reload.log"), 1);
    });

    test("containerd node: the recipe's certificate only; daemon.json and, without hostsAddress, /etc/hosts are left alone; " +
        "a leaf for the host, a stack's file and this stack's own CA are kept", () => {
        const node = recipeNode("recipe-ctd");
        const cfg = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n';
        node.write("/etc/containerd/config.toml", cfg);
        const daemon = `{ "insecure-registries":["${REG}"] }\n`;
        node.write(DAEMON, daemon);
        // a certificate signed by a CA for the host: not self-signed
        fs.copyFileSync(pki.leaf, node.p(`${STORE}/leaf-for-host.crt`));
        // a bring-your-own CA may be self-signed for the host: another stack's (in its manifest), and this stack's own
        const byoOther = fs.readFileSync(selfSigned("byo-other", HOST), "utf8");
        const byoOwn = fs.readFileSync(selfSigned("byo-own", HOST), "utf8");
        const other = nodeTrustScript(opts({ id: "private-registry-other", registry: "other.registry.com:6000", hostname: "other.registry.com", caPem: byoOther, systemTrust: true }));
        node.ok(other, "create");
        const otherFile = CA_FILE("private-registry-other", "other.registry.com:6000");
        fs.writeFileSync(node.p(`${STORE}/copied-ca.crt`), byoOwn);
        const hosts = node.read("/etc/hosts");
        const start = node.tree();

        const script = nodeTrustScript(opts({ runtime: "containerd", cleanRecipe: true, caPem: byoOwn, containerdRestartCommand: node.restart("ctd.log") }));
        const out = node.ok(script, "create");
        assert.deepEqual(lines(out), [
            "unchanged: /etc/containerd/config.toml",
            `changed: /etc/containerd/certs.d/${REG}/ca.crt`,
            `changed: /etc/containerd/certs.d/${REG}/hosts.toml`,
            removedCrt,
            `updated: system CA bundle (removed ${RECIPE_CRT})`,
        ]);
        // besides this stack's own files and the store's rebuilt links, only the recipe's certificate changed
        const own = new RegExp(`^/etc/(containerd/certs\\.d|private-registry|${ID}|ssl/certs)(/|:)`);
        assert.deepEqual(diff(start, node.tree()).filter((l) => !own.test(l)), [`${RECIPE_CRT}: ${start.get(RECIPE_CRT)} -> (gone)`]);
        for (const f of [OTHER_CRT, `${STORE}/leaf-for-host.crt`, otherFile, `${STORE}/copied-ca.crt`]) assert.ok(fs.existsSync(node.p(f)), `${f} is kept`);
        assert.equal(node.read(DAEMON), daemon, "daemon.json is docker's: left alone on containerd");
        assert.equal(node.read("/etc/hosts"), hosts, "without hostsAddress the recipe's line is how the node resolves the name");
        assert.equal(node.count("ctd.log"), 0);

        const again = node.ok(script, "create");
        assert.doesNotMatch(again, /removed|updated/, again);
        node.ok(script, "delete");
        assert.equal(fs.existsSync(node.p(RECIPE_CRT)), false, "delete does not give the certificate back");
        node.ok(other, "delete");
        assert.equal(fs.existsSync(node.p(otherFile)), false);
    });

    test("docker node with the mirror: the entry also leaves the original kept of daemon.json, so delete does not bring it back", () => {
        const node = new Node("recipe-mirror");
        node.write(DAEMON, `{ "insecure-registries":["${REG}", "10.0.0.9:5000"] }\n`);
        const reload = node.restart("reload.log");
        const mirror = { address: `${HOST}:5001`, upstream: "docker.io", upstreamUrl: "https://registry-1.docker.io" };
        const script = nodeTrustScript(opts({ runtime: "docker", cleanRecipe: true, mirror, reloadCommand: reload }));
        const orig = `/etc/private-registry/orig/${DAEMON.replace(/\//g, "%")}`;
        const out = lines(node.ok(script, "create"));
        assert.deepEqual(out.filter((l) => /^(removed|reloaded): /.test(l)), [
            `removed: insecure-registries entry ${REG} from ${orig}, the saved original of ${DAEMON} (recipe)`,
            `removed: insecure-registries entry ${REG} from ${DAEMON} (recipe)`,
            `reloaded: the runtime's mirror settings (added https://${mirror.address} to registry-mirrors in ${DAEMON}; ` +
                `removed the recipe's insecure-registries entry ${REG} from ${DAEMON})`,
        ]);
        assert.deepEqual(JSON.parse(node.read(DAEMON)), { "insecure-registries": ["10.0.0.9:5000"], "registry-mirrors": [`https://${mirror.address}`] });
        assert.equal(node.count("reload.log"), 1, "one reload for both");
        assert.doesNotMatch(node.ok(script, "create"), /removed|reloaded/);
        const gone = node.ok(script, "delete");
        assert.match(gone, /^restored: \/etc\/docker\/daemon.json$/m);
        assert.deepEqual(JSON.parse(node.read(DAEMON)), { "insecure-registries": ["10.0.0.9:5000"] }, "the original, without the recipe's entry");
        assert.equal(fs.existsSync(node.p(orig)), false);
    });

    test("no openssl on the node: a note, and the certificate stays", () => {
        const node = new Node("recipe-noopenssl");
        fs.copyFileSync(selfSigned("noopenssl", HOST), node.p(RECIPE_CRT));
        node.hide("/usr/bin/openssl");
        node.path = "/usr/sbin:/usr/bin:/sbin:/bin";
        const start = node.tree();
        const script = nodeTrustScript(opts({ cleanRecipe: true }));
        assert.deepEqual(lines(node.ok(script, "create")), [`note: openssl not found: ${STORE} not searched for the recipe's certificate for ${HOST}`]);
        assert.deepEqual(diff(start, node.tree()), []);
        node.ok(script, "delete");
    });

    test("an insecure entry another stack relies on (its insecureRegistry) stays, with a note", () => {
        const node = new Node("recipe-claimed");
        node.write(DAEMON, `{ "insecure-registries":["${REG}"] }\n`);
        const reload = node.restart("reload.log");
        // another stack on the node, for the same address, with insecureRegistry
        const other = nodeTrustScript(opts({ id: "private-registry-other", runtime: "docker", insecureRegistry: true, reloadCommand: reload }));
        node.ok(other, "create");
        const out = node.ok(nodeTrustScript(opts({ runtime: "docker", cleanRecipe: true, reloadCommand: reload })), "create");
        assert.ok(lines(out).includes(`note: insecure-registries entry ${REG} kept in ${DAEMON}: the stack of private-registry-other@${REG} relies on it (insecureRegistry)`), out);
        assert.deepEqual(JSON.parse(node.read(DAEMON)), { "insecure-registries": [REG] });
        assert.equal(node.count("reload.log"), 0);
    });
});

// Node a of the live environment: a real dockerd that reads the node's daemon.json.
const envFile = path.join(process.env.LIVE_DIR ?? "/tmp/pr-live", "env.json");
const envSkip = skipReason ?? (fs.existsSync(envFile) || process.env.CI === "true" ? undefined : `no live environment (${envFile}); test/live/run.sh brings it up`);
if (envSkip && !skipReason) console.warn(`\n*** SKIPPING the real dockerd check of cleanRecipe: ${envSkip} ***\n`);

describe("cleanRecipe on a node with a real dockerd", { skip: envSkip }, () => {
    before(setUp);
    after(tearDown);

    test("node a: the reload makes dockerd drop the recipe's insecure entry (same pid); a second run and delete leave it out", async () => {
        const env: LiveEnv = loadEnv();
        const a = env.nodes.find((n) => n.name === "a" && n.runtime === "docker");
        assert.ok(a?.dockerSocket && a.reloadCommand && a.dockerPidFile, "node a runs its own dockerd");
        // its own address and id, apart from whatever a stack of the suite set up there
        const reg = "recipe.registry.test:5000";
        const script = nodeTrustScript({
            registry: reg, hostname: "recipe.registry.test", caPem: pki.caPem,
            runtime: "docker", systemTrust: false, insecureRegistry: false, cleanRecipe: true, containerdConfigFile: "/etc/containerd/config.toml",
            containerdRestartCommand: "exit 1", reloadCommand: a.reloadCommand, id: "private-registry-recipe-check", nodeName: "a",
        });
        const insecure = async (): Promise<string[]> => {
            const r = await run("docker", ["-H", `unix://${a.dockerSocket}`, "info", "--format", "{{json .RegistryConfig}}"]);
            assert.equal(r.code, 0, r.stderr);
            const c = JSON.parse(r.stdout) as { IndexConfigs: Record<string, { Name: string; Secure: boolean }> };
            return Object.values(c.IndexConfigs).filter((i) => !i.Secure).map((i) => i.Name);
        };
        // the reload is a signal: dockerd applies it a moment later
        const until = async (listed: boolean): Promise<string[]> => {
            let got = await insecure();
            for (let i = 0; i < 100 && got.includes(reg) !== listed; i++) {
                await new Promise((r) => setTimeout(r, 100));
                got = await insecure();
            }
            return got;
        };
        const exec = async (cmd: string, input?: string): Promise<string> => {
            const r = await nodeExec(env, "a", cmd, input);
            assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
            return r.stdout;
        };
        const original = await exec(`cat ${DAEMON} 2>/dev/null || true`);
        const pid = fs.readFileSync(a.dockerPidFile!, "utf8").trim();
        try {
            // the recipe's entry, applied with a reload
            const withEntry = original.trim() ? JSON.parse(original) : {};
            withEntry["insecure-registries"] = [...(withEntry["insecure-registries"] ?? []), reg];
            await exec(`mkdir -p /etc/docker && cat > ${DAEMON} && ${a.reloadCommand}`, original.trim() ? `${JSON.stringify(withEntry, null, 2)}\n` : `{ "insecure-registries":["${reg}"] }\n`);
            assert.ok((await until(true)).includes(reg), "docker info lists the recipe's entry as insecure");

            const created = await exec(nodeCommand("create", "root"), script);
            assert.match(created, new RegExp(`^removed: insecure-registries entry ${reg.replace(/\./g, "\\.")} from /etc/docker/daemon\\.json \\(recipe\\)$`, "m"));
            assert.match(created, /^reloaded: the runtime's mirror settings \(removed the recipe's insecure-registries entry /m);
            assert.equal((await until(false)).includes(reg), false, "dockerd no longer treats it as insecure");
            assert.doesNotMatch(await exec(`cat ${DAEMON}`), /recipe\.registry\.test/);

            const again = await exec(nodeCommand("create", "root"), script);
            assert.doesNotMatch(again, /^(removed|reloaded):/m, again);
            const deleted = await exec(nodeCommand("delete", "root"), script);
            assert.doesNotMatch(deleted, /daemon\.json|reloaded/, deleted);
            assert.doesNotMatch(await exec(`cat ${DAEMON}`), /recipe\.registry\.test/, "delete does not put it back");
            assert.equal((await insecure()).includes(reg), false);
            assert.equal(fs.readFileSync(a.dockerPidFile!, "utf8").trim(), pid, "dockerd kept running: a reload, no restart");
        } finally {
            // daemon.json as it was (unless something else changed it meanwhile), read again by dockerd
            const now = await nodeExec(env, "a", `cat ${DAEMON} 2>/dev/null || true`);
            const same = (x: string, y: string): boolean => JSON.stringify(x.trim() ? JSON.parse(x) : {}) === JSON.stringify(y.trim() ? JSON.parse(y) : {});
            if (same(now.stdout, original)) {
                await nodeExec(env, "a", original ? `cat > ${DAEMON}` : `rm -f ${DAEMON}`, original);
                await nodeExec(env, "a", a.reloadCommand!);
            }
        }
    });
});
