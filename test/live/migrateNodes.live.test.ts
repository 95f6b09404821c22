// The recipe's whole set-up taken over in one `pulumi up`: its registry, a docker node and a containerd node
// set up as it says (self-signed certificate in the system store, an /etc/hosts line, on docker the
// insecure-registries entry), and a `regcred` made from a docker config.json. Afterwards the image pulls
// by its old reference on both nodes with the program's login, the docker node's dockerd verifies TLS
// (its insecure entry is gone), the recipe's certificate has left both stores, and regcred holds the
// program's login.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { after, describe, it } from "node:test";
import { run, Stack } from "./cli";
import { docker, mapRecipeHost, Recipe, RECIPE_HOST, RECIPE_PASSWORD, RECIPE_USER, runRecipe } from "./recipe";
import { LiveNode, loadEnv, nodeExec } from "./support";

const env = loadEnv();
const work = fs.mkdtempSync(path.join(env.liveDir, "migrate-nodes-"));
const KUBECONFIG = process.env.LIVE_KUBECONFIG ?? "";
const PORT = 5707;
const REG = `${RECIPE_HOST}:${PORT}`;
const NS = "recipe-apps";
const CERT = "/usr/local/share/ca-certificates/registry-selfsigned.crt";
const HOSTS_LINE = `${env.hostAddress} ${RECIPE_HOST}`;
const NEW_PASSWORD = "migrated-nodes-password-1";
const dockerNode = env.nodes.find((n) => n.name === "a")!;
const ctdNode = env.nodes.find((n) => n.name === "b")!;
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const stack = new Stack(work, "migrate-nodes");
let recipe: Recipe;

const kubectl = (args: string[], input?: string) => run("kubectl", ["--kubeconfig", KUBECONFIG, ...args], { input });
async function onNode(n: LiveNode, cmd: string, input?: string): Promise<string> {
    const r = await nodeExec(env, n.name, cmd, input);
    assert.equal(r.code, 0, `${n.name}: ${cmd}\n${r.stderr}${r.stdout}`);
    return r.stdout;
}
const authJson = (user: string, password: string) => JSON.stringify({ auths: { [REG]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } });

/** A pull through the docker node's own dockerd (its daemon.json, certs.d and /etc/hosts), after a docker login. */
async function dockerdPull(user: string, password: string): Promise<{ code: number; out: string }> {
    const cfg = fs.mkdtempSync(path.join(work, "docker-cli-"));
    const host = ["-H", `unix://${dockerNode.dockerSocket}`];
    const login = await run("docker", ["--config", cfg, ...host, "login", "-u", user, "--password-stdin", REG], { input: password });
    if (login.code !== 0) return { code: login.code, out: login.stderr };
    const pull = await run("docker", ["--config", cfg, ...host, "pull", `${REG}/data-service:latest`]);
    await run("docker", [...host, "rmi", "-f", `${REG}/data-service:latest`]);
    return { code: pull.code, out: pull.stdout + pull.stderr };
}

/** A pull through the containerd node, with its hosts.toml files (or none: the system store). */
async function ctrPull(user: string, password: string, hostsDir: boolean): Promise<string> {
    const ctr = `${q(ctdNode.ctr ?? "ctr")} -a ${q(ctdNode.containerdSocket!)} -n recipe`;
    return onNode(ctdNode, `${ctr} images pull ${hostsDir ? "--hosts-dir /etc/containerd/certs.d " : ""}--user "$(cat)" ${q(`${REG}/data-service:latest`)} >/dev/null && ` +
        `${ctr} images ls | awk -v r=${q(`${REG}/data-service:latest`)} '$1==r{print $3}' && ${ctr} images rm ${q(`${REG}/data-service:latest`)} >/dev/null`, `${user}:${password}`);
}

after(async () => {
    await stack.destroy();
    await docker(env, ["rm", "-f", "recipe-nodes"]);
    await kubectl(["delete", "namespace", NS, "--wait=false"]);
    for (const n of [dockerNode, ctdNode]) {
        // what the recipe did by hand goes by hand; what the program did went with destroy
        await nodeExec(env, n.name, `rm -f ${CERT} && update-ca-certificates --fresh >/dev/null 2>&1; ` +
            `sed -i ${q(`/^${HOSTS_LINE.replace(/\./g, "\\.")}$/d`)} /etc/hosts; ` +
            `if [ -f /etc/docker/daemon.json ]; then python3 -c ${q(`import json; p="/etc/docker/daemon.json"; c=json.load(open(p)); c["insecure-registries"]=[x for x in c.get("insecure-registries",[]) if x!="${REG}"]; c={k:v for k,v in c.items() if v!=[]}; open(p,"w").write(json.dumps(c))`)}; fi`);
    }
    if (dockerNode.reloadCommand) await run(dockerNode.reloadCommand, []);
});

describe("live: the recipe's nodes and regcred, taken over with the registry", () => {
    it("the recipe for real: registry, a docker node and a containerd node as it says, regcred from config.json", async () => {
        assert.ok(KUBECONFIG, "LIVE_KUBECONFIG names the live cluster (test/live/run.sh sets it)");
        mapRecipeHost(env);
        recipe = await runRecipe(env, work, "recipe-nodes", PORT);
        for (const n of [dockerNode, ctdNode]) {
            await onNode(n, `cat > ${CERT} && update-ca-certificates >/dev/null 2>&1 && echo ${q(HOSTS_LINE)} >> /etc/hosts`, recipe.certPem);
        }
        await onNode(dockerNode, `python3 -c ${q(`import json, os; p="/etc/docker/daemon.json"; c=json.load(open(p)) if os.path.exists(p) and open(p).read().strip() else {}; c.setdefault("insecure-registries", []).append("${REG}"); open(p,"w").write(json.dumps(c))`)}`);
        assert.equal((await run(dockerNode.reloadCommand!, [])).code, 0);
        // the recipe's set-up works: dockerd pulls (insecure), containerd pulls (system store)
        let pulled = { code: 1, out: "" };
        for (let i = 0; i < 50 && pulled.code !== 0; i++) {
            pulled = await dockerdPull(RECIPE_USER, RECIPE_PASSWORD);
            if (pulled.code !== 0) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(pulled.code, 0, pulled.out);
        assert.equal((await ctrPull(RECIPE_USER, RECIPE_PASSWORD, false)).trim(), recipe.digest);
        // $ kubectl create secret generic regcred --from-file=.dockerconfigjson=~/.docker/config.json --type=kubernetes.io/dockerconfigjson
        const cfg = path.join(work, "config.json");
        fs.writeFileSync(cfg, authJson(RECIPE_USER, RECIPE_PASSWORD));
        assert.equal((await kubectl(["create", "namespace", NS])).code, 0);
        const s = await kubectl(["-n", NS, "create", "secret", "generic", "regcred", `--from-file=.dockerconfigjson=${cfg}`, "--type=kubernetes.io/dockerconfigjson"]);
        assert.equal(s.code, 0, s.stderr);
    });

    it("one up with migrate and cleanRecipe: nodes cleaned and pulling by TLS with the new login, regcred taken over", async () => {
        await stack.init();
        const node = (n: LiveNode) => ({
            name: n.name, host: n.host, port: n.port, user: n.user, runtime: n.runtime, privateKeyPath: env.sshKeyPath, hostKey: n.hostKey,
            hostsAddress: env.hostAddress, cleanRecipe: true,
            ...(n.containerdRestartCommand ? { containerdRestartCommand: n.containerdRestartCommand } : {}),
            ...(n.reloadCommand ? { mirrorReloadCommand: n.reloadCommand } : {}),
        });
        await stack.configure({
            hostname: RECIPE_HOST, port: PORT, bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImages["3"],
            username: "pulumi", containerName: "registry-migrated-nodes", migrate: { fromContainer: "recipe-nodes" },
            nodes: [node(dockerNode), node(ctdNode)], kubernetes: { namespaces: [NS], secretName: "regcred" },
        }, { password: NEW_PASSWORD, "kubernetes.kubeconfig": KUBECONFIG });
        const o = await stack.up();
        assert.equal(o.code, 0, `${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
        const out = JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
        assert.match(out.nodeReports.a, new RegExp(`^removed: insecure-registries entry ${REG.replace(/\./g, "\\.")} from /etc/docker/daemon\\.json \\(recipe\\)$`, "m"));
        for (const n of ["a", "b"]) assert.match(out.nodeReports[n], new RegExp(`^removed: ${CERT.replace(/\./g, "\\.")} \\(the recipe's self-signed certificate`, "m"));
        // the docker node: no insecure entry left in the running dockerd, and its pull verifies TLS with the CA
        const info = await run("docker", ["-H", `unix://${dockerNode.dockerSocket}`, "info", "--format", "{{json .RegistryConfig.IndexConfigs}}"]);
        assert.doesNotMatch(info.stdout, new RegExp(REG.replace(/\./g, "\\.")), "dockerd no longer lists the registry as insecure");
        const pulled = await dockerdPull("pulumi", NEW_PASSWORD);
        assert.equal(pulled.code, 0, pulled.out);
        assert.match(pulled.out, new RegExp(recipe.digest));
        // the containerd node: the recipe's certificate is gone from its store; hosts.toml and the CA serve the pull
        for (const n of [dockerNode, ctdNode]) assert.equal((await nodeExec(env, n.name, `test -e ${CERT}`)).code, 1, `${n.name}: ${CERT} removed`);
        assert.equal((await ctrPull("pulumi", NEW_PASSWORD, true)).trim(), recipe.digest);
        // the recipe's login is gone (keepLogin was not set)
        assert.ok((await dockerdPull(RECIPE_USER, RECIPE_PASSWORD)).code !== 0, "the recipe's login is refused");
        // regcred holds the program's pull login now (never the push login)
        const sec = await kubectl(["-n", NS, "get", "secret", "regcred", "-o", "jsonpath={.data.\\.dockerconfigjson}"]);
        const auths = JSON.parse(Buffer.from(sec.stdout, "base64").toString()).auths;
        assert.equal(auths[REG].username, "pull");
        assert.notEqual(auths[REG].password, NEW_PASSWORD);
        assert.equal((await ctrPull("pull", auths[REG].password, true)).trim(), recipe.digest);
        const p = await stack.preview(["--expect-no-changes"]);
        assert.equal(p.code, 0, p.stderr.slice(-2000));
    });
});
