// Content of the generated node scripts. Their behaviour on a real system: test/live/nodeScripts.live.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NODE_RUNTIMES, NodeRuntime, NodeScriptOptions, nodeCommand, nodeTrustScript, SCRIPT_PARTS, shellQuote } from "../../components/nodes/nodeScripts";

const REG = "docker.registry.com:5000";
let CA = "";

/** A real self-signed certificate, made once with openssl (present wherever the live suite runs). */
function makeCa(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodescripts-unit-"));
    try {
        const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=Unit CA", "-keyout", path.join(dir, "k"), "-out", path.join(dir, "c")], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        return fs.readFileSync(path.join(dir, "c"), "utf8");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function opts(over: Partial<NodeScriptOptions> = {}): NodeScriptOptions {
    return {
        registry: REG, hostname: "docker.registry.com", caPem: CA, runtime: "docker", systemTrust: false, insecureRegistry: false,
        containerdConfigFile: "/etc/containerd/config.toml", containerdRestartCommand: "systemctl restart containerd",
        reloadCommand: "systemctl reload docker", id: "private-registry-dev", ...over,
    };
}

/** The body of a top-level bash function of the script, one command per line. */
function fn(script: string, name: string): string[] {
    const m = new RegExp(`^${name}\\(\\) \\{[^\\n]*\\n([\\s\\S]*?)^\\}$`, "m").exec(script);
    assert.ok(m, `function ${name} not found`);
    return m[1].split("\n").map((l) => l.trim()).filter(Boolean);
}

/** Runs one function of the script in plain bash, without the rest (no root, no file touched). */
function call(script: string, name: string, ...args: string[]): string {
    const m = new RegExp(`^${name}\\(\\) \\{[\\s\\S]*?^\\}$`, "m").exec(script);
    assert.ok(m);
    const r = spawnSync("bash", ["-c", `${m[0]}\n${name} "$@"`, "_", ...args], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
}

/** Value of a top-level NAME='…' assignment, as bash reads it. */
function bashVar(script: string, name: string): string {
    const line = script.split("\n").find((l) => l.startsWith(`${name}=`));
    assert.ok(line, `${name} not assigned`);
    return spawnSync("bash", ["-c", `${line}\nprintf %s "$${name}"`], { encoding: "utf8" }).stdout;
}

before(() => {
    CA = makeCa();
});

describe("nodeTrustScript per runtime", () => {
    test("NODE_RUNTIMES", () => {
        assert.deepEqual([...NODE_RUNTIMES], ["docker", "containerd", "crio", "none"]);
    });

    const expected: Record<NodeRuntime, string[]> = {
        docker: [`put '/etc/docker/certs.d/${REG}/ca.crt' whole "$(ca_pem)"`, "hosts_line ''"],
        crio: [`put '/etc/containers/certs.d/${REG}/ca.crt' whole "$(ca_pem)"`, "hosts_line ''"],
        containerd: ["containerd_trust", "hosts_line ''"],
        none: ["hosts_line ''"],
    };
    for (const runtime of NODE_RUNTIMES) {
        test(`${runtime}: what create ensures, and nothing else`, () => {
            const s = nodeTrustScript(opts({ runtime }));
            assert.deepEqual(fn(s, "create_items"), expected[runtime]);
            assert.equal(call(s, "ca_pem"), `${CA.trim()}\n`);
        });
    }

    test("containerd: hosts.toml has a [host] table with the CA next to it", () => {
        const s = nodeTrustScript(opts({ runtime: "containerd" }));
        assert.equal(call(s, "hosts_toml", `/etc/containerd/certs.d/${REG}`),
            `server = "https://${REG}"\n\n[host."https://${REG}"]\n  capabilities = ["pull", "resolve", "push"]\n  ca = "/etc/containerd/certs.d/${REG}/ca.crt"\n`);
        // config_path lives in the CRI registry section: v2 (containerd 1.x) and v3 (2.x) names
        assert.match(s, /2\) CTD_PLUGIN=io\.containerd\.grpc\.v1\.cri ;;/);
        assert.match(s, /3\) CTD_PLUGIN=io\.containerd\.cri\.v1\.images ;;/);
        assert.match(s, /CTD_DEFAULT_DIR=\/etc\/containerd\/certs\.d$/m);
        assert.equal(bashVar(s, "CTD_CONFIG"), "/etc/containerd/config.toml");
        assert.equal(bashVar(s, "CTD_RESTART"), "systemctl restart containerd");
    });

    test("registry without a port, and an IP registry", () => {
        assert.deepEqual(fn(nodeTrustScript(opts({ registry: "reg.example", hostname: "reg.example" })), "create_items")[0],
            `put '/etc/docker/certs.d/reg.example/ca.crt' whole "$(ca_pem)"`);
        assert.deepEqual(fn(nodeTrustScript(opts({ runtime: "crio", registry: "10.213.0.1:5000", hostname: "10.213.0.1" })), "create_items")[0],
            `put '/etc/containers/certs.d/10.213.0.1:5000/ca.crt' whole "$(ca_pem)"`);
    });
});

describe("nodeTrustScript opt-ins", () => {
    test("no insecure-registries unless opted in; then applied by the reload command, never a docker restart", () => {
        for (const runtime of NODE_RUNTIMES) {
            const items = fn(nodeTrustScript(opts({ runtime, systemTrust: true, hostsAddress: "10.0.0.1" })), "create_items");
            assert.ok(!items.some((l) => /insecure|daemon\.json/.test(l)), items.join("\n"));
        }
        const s = nodeTrustScript(opts({ insecureRegistry: true, reloadCommand: "kill -HUP 1" }));
        assert.deepEqual(fn(s, "create_items"), [`put '/etc/docker/certs.d/${REG}/ca.crt' whole "$(ca_pem)"`, "docker_json", "hosts_line ''"]);
        assert.equal(bashVar(s, "RELOAD"), "kill -HUP 1");
        assert.doesNotMatch(s, /DOCKER_RESTART|restart docker|restarted: docker/);
    });

    test("system trust file and marked /etc/hosts line", () => {
        const s = nodeTrustScript(opts({ runtime: "none", systemTrust: true, hostsAddress: "10.213.0.1" }));
        // the file name only: the node's layout (Debian, RHEL, SUSE) decides the directory
        assert.deepEqual(fn(s, "create_items"), [
            "system_trust 'private-registry-dev-docker.registry.com_5000.crt'",
            "hosts_line '10.213.0.1 docker.registry.com # private-registry-dev'",
        ]);
        assert.equal(bashVar(s, "HOSTS_COMMENT_OUT"), "0");
        const v6 = nodeTrustScript(opts({ hostsAddress: "fd00::1", hostsCommentOut: true }));
        assert.equal(fn(v6, "create_items")[1], "hosts_line 'fd00::1 docker.registry.com # private-registry-dev'");
        assert.equal(bashVar(v6, "HOSTS_COMMENT_OUT"), "1");
    });

    test("state lives under /etc and /run only, never the shared /var or /tmp", () => {
        const s = nodeTrustScript(opts());
        assert.match(s, /^STATE="\/etc\/\$ID"/m);
        assert.match(s, /^MANIFEST="\$STATE\/\$REGISTRY\.manifest"$/m);
        assert.match(s, /^RUNDIR="\/run\/\$ID"/m);
        // what the stacks on a node share: one claim file per stack, and one lock for every run
        for (const re of [/^SHARED=\/etc\/private-registry$/m, /^CLAIMS="\$CLAIMS_DIR\/\$ID@\$REGISTRY"/m, /^LOCK=\/run\/lock\/private-registry\.lock$/m]) assert.match(s, re);
        assert.doesNotMatch(s, /\/var\/|\/tmp\//);
    });

});

describe("nodeTrustScript shape", () => {
    test("strict bash, both modes, stdin kept away from commands, no secret", () => {
        const s = nodeTrustScript(opts());
        assert.ok(s.startsWith("#!/usr/bin/env bash\n"));
        assert.match(s, /^set -Eeuo pipefail$/m);
        assert.match(s, /^umask 022$/m);
        assert.match(s, /create \| delete\) ;;/);
        assert.ok(s.endsWith('\nmain "$@" </dev/null\n'), "the script must end by calling main with stdin from /dev/null");
        assert.match(s, /cat <<'PRIVATE_REGISTRY_CA_PEM'\n-----BEGIN CERTIFICATE-----/);
        assert.doesNotMatch(s, /PRIVATE KEY|password/i);
        assert.match(s, /private-registry\[%s\]: %s: %s/);
    });

    test("without create|delete it stops before touching anything", () => {
        for (const args of [[], ["destroy"]]) {
            const r = spawnSync("bash", ["-s", "--", ...args], { input: nodeTrustScript(opts()), encoding: "utf8" });
            assert.equal(r.status, 1);
            assert.equal(r.stdout, "");
            assert.match(r.stderr, /^private-registry\[private-registry-dev\]: usage: expected create or delete as the first argument, got '(destroy)?'\n$/);
        }
    });

    test("PEM is normalised: CRLF, surrounding blanks; several certificates allowed", () => {
        const crlf = `\n\n${CA.trim().replace(/\n/g, "\r\n")}\r\n\r\n`;
        assert.equal(call(nodeTrustScript(opts({ caPem: crlf })), "ca_pem"), `${CA.trim()}\n`);
        assert.equal(call(nodeTrustScript(opts({ caPem: `${CA}${CA}` })), "ca_pem"), `${CA.trim()}\n${CA.trim()}\n`);
    });

    test("restart commands are quoted exactly", () => {
        const cmd = `echo 'it''s' "$HOME" $(id) ; systemctl restart containerd`;
        const s = nodeTrustScript(opts({ runtime: "containerd", containerdRestartCommand: cmd, reloadCommand: "a'b", nodeName: "node-1" }));
        assert.equal(bashVar(s, "CTD_RESTART"), cmd);
        assert.deepEqual([bashVar(s, "RELOAD"), bashVar(s, "NODE")], ["a'b", "node-1"]);
    });
});

describe("nodeTrustScript validation", () => {
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const cases: [string, Partial<NodeScriptOptions>, RegExp][] = [
        ["id with capitals", { id: "Private" }, /invalid id/],
        ["id with shell", { id: "a$(reboot)" }, /invalid id/],
        ["empty id", { id: "" }, /invalid id/],
        ["hostname with space", { hostname: "a b", registry: "a b:5000" }, /invalid hostname/],
        ["hostname with ;", { hostname: "a;rm", registry: "a;rm:5000" }, /invalid hostname/],
        ["hostname with quote", { hostname: "a'b", registry: "a'b:5000" }, /invalid hostname/],
        ["registry host differs", { registry: "other.com:5000" }, /invalid registry .*must equal hostname/],
        ["port 0", { registry: "docker.registry.com:0" }, /invalid registry/],
        ["port 70000", { registry: "docker.registry.com:70000" }, /invalid registry/],
        ["registry with path", { registry: "docker.registry.com:5000/x" }, /invalid registry/],
        ["unknown runtime", { runtime: "podman" as NodeRuntime }, /invalid runtime .*docker, containerd, crio, none/],
        ["hostsAddress not an IP", { hostsAddress: "10.0.0.1; reboot" }, /invalid hostsAddress/],
        ["empty hostsAddress", { hostsAddress: "" }, /invalid hostsAddress/],
        ["insecure on containerd", { runtime: "containerd", insecureRegistry: true }, /insecureRegistry .*only supported with runtime docker/],
        ["relative config file", { containerdConfigFile: "etc/containerd/config.toml" }, /invalid containerdConfigFile/],
        ["config file with ..", { containerdConfigFile: "/etc/../root/x" }, /invalid containerdConfigFile/],
        ["config file with quote", { containerdConfigFile: "/etc/x'y" }, /invalid containerdConfigFile/],
        ["empty restart command", { containerdRestartCommand: " " }, /invalid containerdRestartCommand/],
        ["id of the node-wide directory", { id: "private-registry" }, /invalid id .*node-wide directory/],
        ["node name with shell", { nodeName: "a;b" }, /invalid nodeName/],
        ["hostsCommentOut without hostsAddress", { hostsCommentOut: true }, /invalid hostsCommentOut .*needs hostsAddress/],
        ["caPem not PEM", { caPem: "hello" }, /caPem must be one or more PEM certificates/],
        ["caPem is a key", { caPem: key }, /caPem must be one or more PEM certificates/],
        ["caPem with a key appended", { caPem: `${CA}${key}` }, /caPem must be one or more PEM certificates/],
        ["caPem that is not X.509", { caPem: "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n" }, /not a valid X.509 certificate/],
        ["heredoc terminator smuggled", { caPem: `${CA}PRIVATE_REGISTRY_CA_PEM\nreboot\n` }, /caPem must be/],
    ];
    for (const [name, over, err] of cases) {
        test(name, () => assert.throws(() => nodeTrustScript(opts(over)), err));
    }
});

describe("nodeCommand", () => {
    test("root runs bash directly, others through sudo -n; the script itself comes on stdin", () => {
        assert.equal(nodeCommand("create", "root"), "bash -s -- create");
        assert.equal(nodeCommand("delete", "root"), "bash -s -- delete");
        assert.equal(nodeCommand("create", "ubuntu"), "sudo -n bash -s -- create");
        assert.equal(nodeCommand("delete", "ubuntu"), "sudo -n bash -s -- delete");
        assert.throws(() => nodeCommand("destroy" as "delete", "root"), /mode must be create or delete/);
    });
});

describe("every variant passes bash -n and shellcheck", () => {
    // Variants differ only in their header and create_items: every runtime with no opt-in and with all of them.
    const variants: [string, Partial<NodeScriptOptions>][] = [];
    for (const runtime of NODE_RUNTIMES) {
        variants.push([`${runtime}, no opt-in`, { runtime }]);
        variants.push([`${runtime}, all opt-ins`, { runtime, systemTrust: true, hostsAddress: "10.213.0.1", hostsCommentOut: true, insecureRegistry: runtime === "docker",
            mirror: runtime === "none" ? undefined : { address: "docker.registry.com:5001", upstream: "docker.io", upstreamUrl: "https://registry-1.docker.io" } }]);
    }
    variants.push(["docker, insecure only", { insecureRegistry: true }]);
    variants.push(["docker, cleanRecipe", { cleanRecipe: true, systemTrust: true, hostsAddress: "10.213.0.1" }], ["containerd, cleanRecipe", { runtime: "containerd", cleanRecipe: true }]);
    variants.push(["odd restart commands", { runtime: "containerd", containerdRestartCommand: "kill -HUP $(cat /run/c.pid) || echo 'no'" }]);

    let dir = "";
    const files: string[] = [];
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodescripts-lint-"));
        variants.forEach(([, over], i) => {
            files.push(path.join(dir, `v${i}.sh`));
            fs.writeFileSync(files[i], nodeTrustScript(opts(over)));
        });
    });

    test(`bash -n (${variants.length} variants)`, () => {
        for (const f of files) {
            const r = spawnSync("bash", ["-n", f], { encoding: "utf8" });
            assert.equal(r.status, 0, `${f}: ${r.stderr}`);
        }
    });

    const hasShellcheck = spawnSync("sh", ["-c", "command -v shellcheck"]).status === 0;
    const skip = hasShellcheck ? false : "shellcheck is not installed (apt-get install shellcheck)";
    if (skip && process.env.CI === "true") test("shellcheck is installed", () => assert.fail(`${skip} (CI=true: failing instead of skipping)`));
    else if (skip) console.warn(`\n*** SKIPPING shellcheck of node scripts: ${skip} ***\n`);
    // All default checks, style level included, none excluded.
    test(`shellcheck -s bash (${variants.length} variants)`, { skip }, async () => {
        // Two at a time: shellcheck takes about half a second per script here.
        const lint = (batch: string[]): Promise<string> => new Promise((resolve) => {
            execFile("shellcheck", ["-s", "bash", "-S", "style", ...batch], (err, stdout, stderr) => resolve(err ? `${stdout}${stderr}` : ""));
        });
        const half = Math.ceil(files.length / 2);
        const out = (await Promise.all([lint(files.slice(0, half)), lint(files.slice(half))])).join("");
        assert.equal(out, "");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
});

describe("the script files and the generated header", () => {
    const components = path.join(__dirname, "../../components");
    const dir = path.join(components, "nodes", "scripts");
    const parts = SCRIPT_PARTS.map((f) => path.join(dir, f));

    test("shellQuote: bash reads back exactly the string, whatever it holds", () => {
        const values = ["", "plain", "it's", "''", "'\\''", "$HOME $(id) `id` ${x:-y} !! *", "a\\b\\nc", "two\nlines\n", "tab\there", "ünï €", " lead and trail "];
        const script = values.map((v, i) => `v${i}=${shellQuote(v)}; printf '%s\\0' "$v${i}"`).join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.stdout.split("\0").slice(0, -1), values);
        assert.throws(() => shellQuote("a\0b"), /NUL/);
    });

    test("the script is the header, then the files as they are, in order", () => {
        const s = nodeTrustScript(opts());
        const bodies = parts.map((f) => fs.readFileSync(f, "utf8").replace(/^#![^\n]*\n/, ""));
        const at = bodies.map((b) => s.indexOf(b));
        assert.ok(at.every((i, k) => i > 0 && (k === 0 || at[k - 1] < i)), "every file verbatim, in order");
        assert.ok(s.endsWith(bodies[bodies.length - 1]));
        for (const f of parts) assert.ok(fs.readFileSync(f, "utf8").split("\n").length <= 300, `${f}: under 300 lines`);
        // the header holds values only: assignments, the CA and what create ensures
        const header = s.slice(0, at[0]).split("\n").filter((l) => l.trim() && !l.startsWith("#"));
        for (const l of header) assert.match(l, /^([A-Z_]+='[^']*'|ca_pem\(\) \{|create_items\(\) \{|\}| {2}\S.*|-----[A-Z ]+-----|[A-Za-z0-9+/=]+|PRIVATE_REGISTRY_CA_PEM)$/, l);
    });

    const hasShellcheck = spawnSync("sh", ["-c", "command -v shellcheck"]).status === 0;
    const skip = hasShellcheck ? false : "shellcheck is not installed (apt-get install shellcheck)";
    if (skip && process.env.CI === "true") test("shellcheck is installed for the script files", () => assert.fail(`${skip} (CI=true: failing instead of skipping)`));
    test("shellcheck -s bash on components/*/scripts/*.sh themselves", { skip }, () => {
        const files = fs.readdirSync(components, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".sh")).map((f) => path.join(components, f));
        for (const f of parts) assert.ok(files.includes(f), `${f} is linted`);
        const r = spawnSync("shellcheck", ["-s", "bash", "-S", "style", ...files], { encoding: "utf8" });
        assert.equal(`${r.stdout}${r.stderr}`, "");
        assert.equal(r.status, 0);
    });
});
