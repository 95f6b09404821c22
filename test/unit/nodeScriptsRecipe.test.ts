// The cleanRecipe opt-in of the node scripts: the option in the generated header, and the pieces of
// components/nodes/scripts/node-trust-recipe.sh that need no root, run on their own against temporary files.
// Its runs on a real system: test/live/nodeScripts-recipe.live.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NODE_RUNTIMES, NodeScriptOptions, nodeTrustScript } from "../../components/nodes/nodeScripts";

const HOST = "docker.registry.com";
let dir = "";
let CA = "";

function openssl(...args: string[]): void {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
}

/** A self-signed certificate (P-256, quick to make) with this subject and these extensions; its file. */
function selfSigned(name: string, subj: string, ...ext: string[]): string {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", subj,
        ...ext.flatMap((e) => ["-addext", e]), "-keyout", `${name}.key`, "-out", `${name}.crt`);
    return path.join(dir, `${name}.crt`);
}

function opts(over: Partial<NodeScriptOptions> = {}): NodeScriptOptions {
    return {
        registry: `${HOST}:5000`, hostname: HOST, caPem: CA, runtime: "docker", systemTrust: false, insecureRegistry: false,
        containerdConfigFile: "/etc/containerd/config.toml", containerdRestartCommand: "systemctl restart containerd",
        reloadCommand: "systemctl reload docker", id: "private-registry-dev", ...over,
    };
}

/** The text of a top-level bash function of the script. */
function fnText(script: string, name: string): string {
    const m = new RegExp(`^${name}\\(\\) \\{[\\s\\S]*?^\\}$`, "m").exec(script);
    assert.ok(m, `function ${name} not found`);
    return m[0];
}

/** Value of a top-level NAME='…' assignment on one line, as bash reads it. */
function bashVar(script: string, name: string): string {
    const line = script.split("\n").find((l) => l.startsWith(`${name}=`));
    assert.ok(line, `${name} not assigned`);
    return spawnSync("bash", ["-c", `${line}\nprintf %s "$${name}"`], { encoding: "utf8" }).stdout;
}

before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodescripts-recipe-"));
    CA = fs.readFileSync(selfSigned("unit-ca", "/CN=Unit CA"), "utf8");
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("cleanRecipe in the generated script", () => {
    test("off by default; on, it reaches the header, and create_items cleans after the runtime's own steps, before /etc/hosts", () => {
        const off = nodeTrustScript(opts());
        assert.equal(bashVar(off, "CLEAN_RECIPE"), "0");
        assert.doesNotMatch(fnText(off, "create_items"), /clean_recipe/);
        for (const runtime of NODE_RUNTIMES) {
            const s = nodeTrustScript(opts({ runtime, cleanRecipe: true, systemTrust: true, hostsAddress: "10.213.0.1" }));
            assert.equal(bashVar(s, "CLEAN_RECIPE"), "1");
            // hostsCommentOut stays as configured: hosts_line comments the other lines out for CLEAN_RECIPE
            assert.equal(bashVar(s, "HOSTS_COMMENT_OUT"), "0");
            assert.deepEqual(fnText(s, "create_items").split("\n").map((l) => l.trim()).slice(-4, -1), [
                "system_trust 'private-registry-dev-docker.registry.com_5000.crt'",
                `clean_recipe '${runtime}'`,
                "hosts_line '10.213.0.1 docker.registry.com # private-registry-dev'",
            ]);
        }
        assert.match(fnText(off, "hosts_line"), /\(\(HOSTS_COMMENT_OUT \|\| CLEAN_RECIPE\)\); then co=1; fi/);
        // only docker nodes have their daemon.json looked at
        assert.match(fnText(off, "clean_recipe"), /if \[\[ \$1 == docker \]\]; then recipe_insecure; fi\n {2}recipe_certificate\n/);
    });

    test("not with insecureRegistry, which keeps the entry cleanRecipe removes", () => {
        assert.throws(() => nodeTrustScript(opts({ cleanRecipe: true, insecureRegistry: true })), /invalid cleanRecipe true: cannot go with insecureRegistry/);
    });
});

describe("recipe_cert: which certificate is the recipe's", () => {
    /** Runs recipe_cert alone, in the script's strict mode, as the script calls it (in a condition). */
    const isRecipe = (file: string, host = HOST): boolean => {
        const body = fnText(nodeTrustScript(opts()), "recipe_cert");
        const r = spawnSync("bash", ["-c", `set -Eeuo pipefail; shopt -s inherit_errexit\n${body}\nif recipe_cert "$@"; then echo yes; else echo no; fi`, "_", file, host],
            { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout === "yes\n";
    };

    test("the recipe's own: self-signed with the hostname as CN and DNS SAN (RSA, as the recipe makes it)", () => {
        openssl("req", "-x509", "-nodes", "-newkey", "rsa:2048", "-subj", `/CN=${HOST}`, "-addext", `subjectAltName=DNS:${HOST}`, "-keyout", "recipe.key", "-out", "recipe.crt");
        assert.equal(isRecipe(path.join(dir, "recipe.crt")), true);
        assert.equal(isRecipe(path.join(dir, "recipe.crt"), "other.registry.com"), false);
    });

    test("the hostname as CN alone, as a DNS SAN in other case, or an IP SAN for an IP hostname", () => {
        assert.equal(isRecipe(selfSigned("cn-only", `/CN=${HOST}`)), true);
        assert.equal(isRecipe(selfSigned("san-case", "/O=x, y/CN=Other", "subjectAltName=DNS:a.example,DNS:Docker.Registry.COM")), true);
        assert.equal(isRecipe(selfSigned("ip", "/CN=reg", "subjectAltName=IP:10.213.0.1"), "10.213.0.1"), true);
        assert.equal(isRecipe(selfSigned("ip-other", "/CN=reg", "subjectAltName=IP:10.213.0.2"), "10.213.0.1"), false);
    });

    test("not another host's, not a certificate signed by a CA, not one whose issuer only looks like its subject", () => {
        assert.equal(isRecipe(selfSigned("other", "/CN=other.registry.com", "subjectAltName=DNS:other.registry.com")), false);
        // a leaf for the host, signed by a CA
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${HOST}`, "-keyout", "leaf.key", "-out", "leaf.csr");
        fs.writeFileSync(path.join(dir, "leaf.ext"), `subjectAltName=DNS:${HOST}\n`);
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", "unit-ca.crt", "-CAkey", "unit-ca.key", "-CAcreateserial", "-days", "1", "-extfile", "leaf.ext", "-out", "leaf.crt");
        assert.equal(isRecipe(path.join(dir, "leaf.crt")), false);
        // issuer = subject, but signed by another key (a CA named like the host)
        selfSigned("lookalike-ca", `/CN=${HOST}`);
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", "lookalike-ca.crt", "-CAkey", "lookalike-ca.key", "-CAcreateserial", "-days", "1", "-out", "lookalike.crt");
        assert.equal(isRecipe(path.join(dir, "lookalike.crt")), false);
    });

    test("not a file with two certificates, nor one that is no certificate", () => {
        const one = fs.readFileSync(selfSigned("bundled", `/CN=${HOST}`), "utf8");
        fs.writeFileSync(path.join(dir, "bundle.crt"), one + CA);
        assert.equal(isRecipe(path.join(dir, "bundle.crt")), false);
        fs.writeFileSync(path.join(dir, "junk.crt"), `${HOST}\n`);
        assert.equal(isRecipe(path.join(dir, "junk.crt")), false);
        assert.equal(isRecipe(path.join(dir, "bundled.key")), false);
        assert.equal(isRecipe(path.join(dir, "missing.crt")), false);
    });
});

describe("RECIPE_JSON_PY: one value out of daemon.json's insecure-registries", () => {
    const py = /^RECIPE_JSON_PY='([\s\S]*?)^'$/m.exec(nodeTrustScript(opts()))![1];
    const edit = (text: string | undefined): { status: number | null; out?: string; clear?: string } => {
        const f = path.join(dir, "daemon.json");
        const out = path.join(dir, "daemon.out");
        for (const x of [f, out, `${out}.clear`]) fs.rmSync(x, { force: true });
        if (text !== undefined) fs.writeFileSync(f, text);
        const r = spawnSync("python3", ["-c", py, f, "insecure-registries", `${HOST}:5000`, out], { encoding: "utf8" });
        const read = (x: string): string | undefined => (fs.existsSync(x) ? fs.readFileSync(x, "utf8") : undefined);
        return { status: r.status, out: read(out), clear: read(`${out}.clear`) };
    };

    test("the value goes, the others stay; a key left empty goes, written once as [] for the reload", () => {
        assert.deepEqual(edit(`{"log-driver":"json-file","insecure-registries":["${HOST}:5000","10.0.0.9:5000"]}`),
            { status: 0, out: '{\n  "log-driver": "json-file",\n  "insecure-registries": [\n    "10.0.0.9:5000"\n  ]\n}\n', clear: undefined });
        assert.deepEqual(edit(`{ "insecure-registries":["${HOST}:5000"] }\n`), { status: 0, out: "{}\n", clear: '{\n  "insecure-registries": []\n}\n' });
    });

    test("nothing to do (exit 3): no file, an empty one, another value, a longer port", () => {
        for (const text of [undefined, "", '{"insecure-registries":["other:5000"]}', `{"insecure-registries":["${HOST}:50000"]}`, `{"registry-mirrors":["https://${HOST}:5000"]}`]) {
            assert.deepEqual(edit(text), { status: 3, out: undefined, clear: undefined }, String(text));
        }
    });

    test("a file that is not a JSON object is refused, untouched", () => {
        for (const text of ["[]", "{not json"]) assert.equal(edit(text).status, 1, text);
    });
});
