// The manual recipe (README "Migrating from the manual recipe"), run for real on the suite's dockerd: htpasswd
// and a self-signed certificate made by hand, `docker run … registry:2` with TLS and the login, an image pushed.
// The one change: the port is published on the suite's host address, not on every address of the machine.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { run } from "./cli";
import { LiveEnv, skopeo } from "./support";

export const RECIPE_HOST = "docker.registry.com";
export const RECIPE_USER = "admin";
export const RECIPE_PASSWORD = "docker123";

export interface Recipe {
    name: string;
    port: number;
    dir: string;
    /** The self-signed certificate, as clients of the recipe trust it. */
    certPem: string;
    certDir: string;
    /** The digest of the image pushed as `<host:port>/data-service:latest`, if any. */
    digest: string;
}

export const docker = (env: LiveEnv, args: string[]) => run("docker", ["-H", env.dockerHost, ...args]);

/** The recipe's hostname resolves to the suite's host address (the suite's own /etc/hosts). */
export function mapRecipeHost(env: LiveEnv): void {
    const hosts = path.join(env.liveDir, "hosts");
    if (!fs.readFileSync(hosts, "utf8").split("\n").some((l) => l.split(/\s+/).slice(1).includes(RECIPE_HOST))) {
        fs.appendFileSync(hosts, `${env.hostAddress} ${RECIPE_HOST}\n`);
    }
}

/** Runs the recipe as container `name` on `port`; pushes the test image unless `push` is false. */
export async function runRecipe(env: LiveEnv, work: string, name: string, port: number, push = true): Promise<Recipe> {
    const dir = path.join(work, name);
    fs.mkdirSync(path.join(dir, "auth"), { recursive: true });
    fs.mkdirSync(path.join(dir, "certs"), { recursive: true });
    // $ docker run --entrypoint htpasswd registry:2 -Bbn admin docker123 > htpasswd (registry:2 no longer ships htpasswd)
    const h = await run("htpasswd", ["-Bbn", RECIPE_USER, RECIPE_PASSWORD]);
    assert.equal(h.code, 0, h.stderr);
    fs.writeFileSync(path.join(dir, "auth", "htpasswd"), h.stdout);
    // $ openssl req -x509 -nodes -days 365 -newkey rsa:2048 … with DNS.1 = docker.registry.com in openssl.cnf
    const o = await run("openssl", ["req", "-x509", "-nodes", "-days", "365", "-newkey", "rsa:2048", "-subj", `/CN=${RECIPE_HOST}`,
        "-addext", `subjectAltName=DNS:${RECIPE_HOST}`, "-keyout", path.join(dir, "certs", "registry-selfsigned.key"),
        "-out", path.join(dir, "certs", "registry-selfsigned.crt")]);
    assert.equal(o.code, 0, o.stderr);
    const r = await docker(env, ["run", "-d", "--restart=always", "--name", name,
        "-v", `${dir}/certs:/certs`, "-v", `${dir}/auth:/auth`,
        "-e", "REGISTRY_AUTH=htpasswd", "-e", "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm", "-e", "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
        "-e", "REGISTRY_HTTP_ADDR=0.0.0.0:5000",
        "-e", "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/registry-selfsigned.crt", "-e", "REGISTRY_HTTP_TLS_KEY=/certs/registry-selfsigned.key",
        "-p", `${env.hostAddress}:${port}:5000`, env.registryImages["2"]]);
    assert.equal(r.code, 0, r.stderr);
    const certPem = fs.readFileSync(path.join(dir, "certs", "registry-selfsigned.crt"), "utf8");
    // a client that trusts the recipe's certificate the scoped way (certs.d/<host:port>/ca.crt)
    const certDir = path.join(dir, "client-certs");
    fs.mkdirSync(certDir, { recursive: true });
    fs.writeFileSync(path.join(certDir, "ca.crt"), certPem);
    const recipe = { name, port, dir, certPem, certDir, digest: "" };
    await waitServing(env, recipe);
    if (push) {
        const digestFile = path.join(dir, "pushed.digest");
        const p = await skopeo(["copy", "--digestfile", digestFile, "--src-daemon-host", env.dockerHost, "--dest-cert-dir", certDir,
            "--dest-creds", `${RECIPE_USER}:${RECIPE_PASSWORD}`, `docker-daemon:${env.testImage}`, `docker://${RECIPE_HOST}:${port}/data-service:latest`], env);
        assert.equal(p.code, 0, p.stderr);
        recipe.digest = fs.readFileSync(digestFile, "utf8").trim();
    }
    return recipe;
}

/** Until the recipe's registry answers its login over TLS with its own certificate. */
export async function waitServing(env: LiveEnv, r: Recipe): Promise<void> {
    let last = "";
    for (let i = 0; i < 100; i++) {
        const c = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", path.join(r.certDir, "ca.crt"),
            "-u", `${RECIPE_USER}:${RECIPE_PASSWORD}`, `https://${RECIPE_HOST}:${r.port}/v2/`]);
        if (c.stdout === "200") return;
        last = `${c.stdout} ${c.stderr}`;
        await new Promise((res) => setTimeout(res, 100));
    }
    assert.fail(`the recipe's registry ${r.name} does not answer: ${last}`);
}

/** The digest `ref` resolves to with a login and a cert dir (exit code and stderr when it fails). */
export async function inspectDigest(env: LiveEnv, ref: string, creds: string, certDir: string): Promise<{ code: number; digest: string; stderr: string }> {
    const r = await skopeo(["inspect", "--cert-dir", certDir, "--creds", creds, "--format", "{{.Digest}}", `docker://${ref}`], env);
    return { code: r.code, digest: r.stdout.trim(), stderr: r.stderr };
}
