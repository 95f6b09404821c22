// Configuration problems as the real CLI shows them: the problems alone, the way the engine reports a
// user error, not an unhandled exception with a Node stack trace; and a secret key set without
// --secret: a warning naming the key and the fix, refused under CI=true unless the stack opts out.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { describe, it } from "node:test";
import { Stack } from "./cli";
import { loadEnv } from "./support";

const env = loadEnv();
const work = fs.mkdtempSync(path.join(env.liveDir, "config-errors-"));
const stack = new Stack(work, "config-errors");
const registry = { hostname: env.hostAddress, port: 5604, bindAddress: [env.hostAddress], dockerHost: env.dockerHost, image: env.registryImage, containerName: "live-config-errors" };
const ANSI = "\u001b[";
// the refusal is what a CI run gets, whatever the suite itself runs under
stack.env.CI = "true";

describe("live: configuration problems on the real CLI", () => {
    it("an unknown key and a bad port: the problems alone, no stack trace, no colour codes, no unhandled exception", async () => {
        await stack.init();
        await stack.configure({ ...registry, hostnme: "x", port: 70000 });
        const p = await stack.cli(["preview"]);
        assert.notEqual(p.code, 0);
        const out = p.stdout + p.stderr;
        assert.match(out, /private-registry:hostnme is not a known setting/);
        assert.match(out, /private-registry:port must be an integer from 1 to 65535 \(got "?70000"?\)/);
        assert.doesNotMatch(out, /unhandled exception/i);
        assert.doesNotMatch(out, /^\s+at .+\(.+:\d+:\d+\)$/m, "no stack frames");
        assert.doesNotMatch(out, /ConfigError/);
        assert.ok(!out.includes(ANSI), "no terminal colour codes");
    });

    it("a password set without --secret: under CI=true refused naming the key and the command; opted out, a warning and the preview runs", async () => {
        await stack.configure({ ...registry, password: "plain-text-password" });
        let p = await stack.cli(["preview"]);
        assert.notEqual(p.code, 0);
        let out = p.stdout + p.stderr;
        assert.match(out, /private-registry:password is in Pulumi\.config-errors\.yaml in plain text .*`pulumi config set --secret password <value>`/);
        assert.match(out, /allowPlaintextSecrets/);
        assert.doesNotMatch(out, /plain-text-password/, "the value itself is never printed");
        await stack.configure({ ...registry, password: "plain-text-password", allowPlaintextSecrets: true });
        p = await stack.cli(["preview"]);
        out = p.stdout + p.stderr;
        assert.equal(p.code, 0, out.slice(-3000));
        assert.match(out, /warning: private-registry:password is in Pulumi\.config-errors\.yaml in plain text/);
        // set as a secret, nothing to say
        await stack.configure(registry, { password: "plain-text-password" });
        p = await stack.cli(["preview"]);
        out = p.stdout + p.stderr;
        assert.equal(p.code, 0, out.slice(-3000));
        assert.doesNotMatch(out, /in plain text/);
    });
});
