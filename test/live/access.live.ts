// Live section: two logins on one address (access.pullOnly, the default). The pull login reads and
// writes nothing; the push login pushes under the same name; the registries behind the front publish
// nothing; the push password is nowhere but in the push outputs and, encrypted, in the state.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { run } from "./cli";
import { env, live, stack, state, work } from "./context";
import { KUBECONFIG, kubectl } from "./kubernetes.live";
import { httpsGet, HttpAnswer, leaks, nodeExec, secretForms, skopeo } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REFUSED = [401, 403, 405];
const docker = (args: string[]) => run("docker", ["-H", env.dockerHost, ...args]);

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const ACCEPT = [OCI_MANIFEST, "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"].join(", ");

function request(auth: string | undefined, method: string, p: string, body?: string, contentType?: string): Promise<HttpAnswer> {
    return httpsGet({ host: env.hostAddress, port: live.port, servername: live.hostname, ca: state.caPem, auth, method, path: p, body,
        headers: { accept: ACCEPT, ...(contentType ? { "content-type": contentType } : {}) } });
}
const pull = () => `${state.pullUser}:${state.pullPassword}`;
const push = () => `${live.user}:${state.password}`;

/** What a write could change: the catalog and the tags of test/app, read with the push login. */
async function written(): Promise<string> {
    const catalog = await request(push(), "GET", "/v2/_catalog");
    const tags = await request(push(), "GET", "/v2/test/app/tags/list");
    assert.equal(catalog.status, 200, catalog.body);
    return `${catalog.body} ${tags.body}`;
}

export function accessChecks(): void {
    describe("live: two logins on one address (access.pullOnly)", { skip: live.pullOnly ? false : "this stack file sets access.pullOnly false" }, () => {
        it("the pull login reads: GET /v2/ 200, and a pull by digest", async () => {
            assert.equal((await request(pull(), "GET", "/v2/")).status, 200);
            const r = await skopeo(["copy", "--src-cert-dir", state.pullClient.certDir, "--authfile", state.pullClient.authfile,
                `docker://${live.registry}/test/app@${state.pushedDigest}`, `oci:${path.join(work, "oci-pull-login")}:app`], env);
            assert.equal(r.code, 0, r.stderr);
        });

        it("the pull login writes nothing: POST of an upload, PATCH, PUT of a blob and of a manifest, DELETE are refused", async () => {
            const before = await written();
            const manifest = await request(pull(), "GET", `/v2/test/app/manifests/${state.pushedDigest}`);
            assert.equal(manifest.status, 200);
            // an upload the push login started: the pull login cannot go on with it
            const started = await request(push(), "POST", "/v2/test/app/blobs/uploads/");
            assert.equal(started.status, 202, started.body);
            const answers: Record<string, number> = {
                "POST upload": (await request(pull(), "POST", "/v2/test/app/blobs/uploads/")).status,
                "POST mount": (await request(pull(), "POST", `/v2/other/app/blobs/uploads/?mount=${state.pushedDigest}&from=test/app`)).status,
                "PUT manifest": (await request(pull(), "PUT", "/v2/test/app/manifests/pull-login", manifest.body, OCI_MANIFEST)).status,
                "PUT manifest (new repository)": (await request(pull(), "PUT", "/v2/pulled/app/manifests/1", manifest.body, OCI_MANIFEST)).status,
                "DELETE manifest": (await request(pull(), "DELETE", `/v2/test/app/manifests/${state.pushedDigest}`)).status,
                "DELETE blob": (await request(pull(), "DELETE", `/v2/test/app/blobs/${state.pushedDigest}`)).status,
            };
            // the upload URL as the front hands it out: this address, then the session's state
            const location = new URL(String(started.headers?.location), `https://${live.registry}`);
            assert.equal(location.host, live.registry);
            const session = `${location.pathname}${location.search}`;
            answers.PATCH = (await request(pull(), "PATCH", session, "data", "application/octet-stream")).status;
            answers["PUT blob"] = (await request(pull(), "PUT", `${session}&digest=sha256:${"0".repeat(64)}`, "")).status;
            answers["GET upload status"] = (await request(pull(), "GET", session)).status;
            for (const [what, status] of Object.entries(answers)) assert.ok(REFUSED.includes(status), `${what}: ${status}`);
            assert.equal(await written(), before, "nothing written");
            assert.equal((await request(push(), "GET", "/v2/test/app/manifests/pull-login")).status, 404);
        });

        it("the push login pushes and pulls on the same address and name; the pull login reads what it pushed", async () => {
            const digestFile = path.join(work, "access.digest");
            let r = await skopeo(["copy", "--digestfile", digestFile, "--dest-cert-dir", state.client.certDir, "--authfile", state.client.authfile,
                `oci:${path.join(work, "oci")}:app`, `docker://${live.registry}/test/access:1`], env);
            assert.equal(r.code, 0, r.stderr);
            const digest = fs.readFileSync(digestFile, "utf8").trim();
            for (const c of [state.client, state.pullClient]) {
                r = await skopeo(["inspect", "--cert-dir", c.certDir, "--authfile", c.authfile, "--format", "{{.Digest}}", `docker://${live.registry}/test/access:1`], env);
                assert.equal(r.stdout.trim(), digest, r.stderr);
            }
            r = await skopeo(["copy", "--dest-cert-dir", state.pullClient.certDir, "--authfile", state.pullClient.authfile,
                `oci:${path.join(work, "oci")}:app`, `docker://${live.registry}/test/access:2`], env);
            assert.notEqual(r.code, 0, "a push with the pull login");
            assert.match(r.stderr, /unauthorized|authentication required|denied/i);
        });

        it("refused as before: no login, a wrong password for either login, one login's name with the other's password", async () => {
            for (const [auth, method] of [[undefined, "GET"], [`${state.pullUser}:${state.pullPassword}x`, "GET"], [`${live.user}:${state.password}x`, "GET"],
                [`${live.user}:${state.pullPassword}`, "GET"], [`${state.pullUser}:${state.password}`, "POST"], [undefined, "POST"]] as const) {
                const p = method === "POST" ? "/v2/test/app/blobs/uploads/" : "/v2/";
                const a = await request(auth, method, p);
                assert.equal(a.status, 401, `${method} ${p} as ${auth?.split(":")[0] ?? "nobody"}`);
            }
        });

        it("behind the front: reader and writer publish nothing; the reader's store is read-only; the writer knows the push login alone", async () => {
            const inspect = async (name: string) => JSON.parse((await docker(["inspect", name])).stdout)[0];
            const reader = await inspect(`${live.config.containerName}-reader`);
            const writer = await inspect(`${live.config.containerName}-writer`);
            for (const c of [reader, writer]) assert.deepEqual(Object.values(c.HostConfig.PortBindings ?? {}).flat(), [], c.Name);
            assert.equal(reader.Mounts.find((m: any) => m.Destination === "/var/lib/registry").RW, false);
            assert.equal(writer.Mounts.find((m: any) => m.Destination === "/var/lib/registry").RW, true);
            const env_ = (c: any) => c.Config.Env.find((e: string) => e.startsWith("REGISTRY_STORAGE_MAINTENANCE="));
            assert.match(env_(reader), /readonly: \{enabled: true\}/);
            assert.match(env_(writer), /uploadpurging: \{enabled: true/);
            const users = async (name: string) => (await docker(["exec", name, "cat", "/auth/htpasswd"])).stdout.trim().split("\n").map((l) => l.split(":")[0]).sort();
            assert.deepEqual(await users(reader.Name.slice(1)), [live.user, state.pullUser].sort());
            assert.deepEqual(await users(writer.Name.slice(1)), [live.user]);
        });

        it("the push password is only in the push outputs and, encrypted, in the state: not in Kubernetes, on the nodes or in other outputs", async () => {
            // also as a JSON string spells it (a password with quotes, as the alt stack file's, is escaped inside JSON)
            const forms = secretForms({ "push password": state.password, "push auth": Buffer.from(push()).toString("base64"),
                "push password (in JSON)": JSON.stringify(state.password).slice(1, -1) });
            const shown = JSON.parse((await stack.must(["stack", "output", "--json", "--show-secrets"])).stdout);
            for (const [name, value] of Object.entries<any>(shown)) {
                const found = leaks(typeof value === "string" ? value : JSON.stringify(value), forms);
                if (name === "pushPassword" || name === "pushDockerConfigJson") assert.ok(found.length > 0, `${name} holds the push login`);
                else assert.deepEqual(found, [], `output ${name}`);
            }
            assert.deepEqual(leaks(await stack.exportState(), forms), [], "pulumi stack export");
            for (const n of env.nodes) {
                for (const [what, form] of forms) {
                    const r = await nodeExec(env, n.name, "grep -rlF -f /dev/stdin /etc 2>/dev/null || true", `${form}\n`);
                    assert.equal(r.stdout.trim(), "", `node ${n.name}: ${what} in ${r.stdout}`);
                }
            }
            if (KUBECONFIG) {
                const all = await kubectl(["get", "secrets,configmaps", "-A", "-o", "json"]);
                assert.equal(all.code, 0, all.stderr);
                // Secrets' data is base64: decode every value before looking
                const items: any[] = JSON.parse(all.stdout).items;
                const texts = items.flatMap((i) => Object.values<string>(i.data ?? {}).map((v) => (i.kind === "Secret" ? Buffer.from(v, "base64").toString() : v)));
                assert.ok(items.some((i) => i.metadata.name === "regcred"), "the scan saw the pull secrets");
                assert.deepEqual(leaks(texts.join("\n"), forms), [], "the cluster's Secrets and ConfigMaps");
            }
        });

        it("a pull secret's login cannot push", { skip: KUBECONFIG ? false : "no cluster" }, async () => {
            const s = await kubectl(["-n", "apps", "get", "secret", "regcred", "-o", "jsonpath={.data.\\.dockerconfigjson}"]);
            const authfile = path.join(work, "regcred-apps.json");
            fs.writeFileSync(authfile, Buffer.from(s.stdout, "base64"), { mode: 0o600 });
            const r = await skopeo(["copy", "--dest-cert-dir", state.client.certDir, "--authfile", authfile,
                `oci:${path.join(work, "oci")}:app`, `docker://${live.registry}/test/from-regcred:1`], env);
            assert.notEqual(r.code, 0);
            assert.match(r.stderr, /unauthorized|authentication required|denied/i);
        });
    });
}
