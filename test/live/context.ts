// What the live suite's sections share: the environment, the stack under test and what its first
// `pulumi up` produced. The first up runs once, in the entry file's `before`.
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { changed, Outcome, Stack } from "./cli";
import { liveStack, LiveStack } from "./stackConfig";
import { clientFiles, LiveEnv, loadEnv } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
export const env: LiveEnv = loadEnv();
export const stackFile = process.env.LIVE_STACK_FILE ?? path.join(__dirname, "Pulumi.live.yaml");
export const work = fs.mkdtempSync(path.join(env.liveDir, "suite-"));
export const log = (s: string): void => console.log(`# ${s}`);
export const live: LiveStack = liveStack(stackFile, env);
export const stack = new Stack(work, "live");

/** Mutable results of the runs so far, filled in by the entry file and the sections. */
export const state = {
    first: undefined as unknown as Outcome,
    outputs: {} as Record<string, any>,
    secretOutputs: [] as string[],
    caPem: "",
    /** The push login's password (`username`); with access.pullOnly the pull login is apart. */
    password: live.secrets.password ?? "",
    pullUser: "",
    pullPassword: "",
    /** Client files with the push login, and with the login of `dockerConfigJson` (the pull login). */
    client: { authfile: "", certDir: "" },
    pullClient: { authfile: "", certDir: "" },
    pushedDigest: "",
    /** Each node's private trees before the first up. */
    before: new Map<string, Map<string, string>>(),
};

export async function readOutputs(): Promise<void> {
    const o = await stack.outputs();
    state.outputs = o.values;
    state.secretOutputs = o.secret;
    state.caPem = o.values.caCertificatePem;
    state.password = o.values.pushPassword;
    state.pullUser = o.values.username;
    state.pullPassword = o.values.password;
    state.client = clientFiles(work, "client", o.values.pushDockerConfigJson, state.caPem);
    state.pullClient = clientFiles(work, "pull-client", o.values.dockerConfigJson, state.caPem);
}

/** The stack's config as the suite deploys it now (tests change it and put it back). */
export async function configure(extra: Record<string, any> = {}, secrets: Record<string, string> = {}): Promise<void> {
    await stack.configure({ ...live.config, ...extra }, { ...live.secrets, ...secrets });
}

/** An up that must succeed. */
export async function upOk(extra: string[] = []): Promise<Outcome> {
    const o = await stack.up(extra);
    assert.equal(o.code, 0, `pulumi up failed:\n${o.errors.map((e) => e.message).join("\n")}\n${o.stderr.slice(-3000)}`);
    log(`up: ${o.ms} ms, ${changed(o).length} changes: ${changed(o).join(", ")}`);
    return o;
}

/** SSH sessions each node's sshd has accepted so far. */
export function sshSessions(): Record<string, number> {
    return Object.fromEntries(env.nodes.map((n) => {
        const f = path.join(n.nodeDir, "sshd.log");
        const text = fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
        return [n.name, (text.match(/Accepted publickey/g) ?? []).length];
    }));
}

/** The id of the registry container on the suite's dockerd. */
export async function containerId(): Promise<string> {
    const { run } = await import("./cli");
    const r = await run("docker", ["-H", env.dockerHost, "inspect", "--format", "{{.Id}}", live.config.containerName]);
    return r.code === 0 ? r.stdout.trim() : "";
}
