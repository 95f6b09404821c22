// The real Pulumi CLI, driven as a user drives it: a file backend in a temporary folder, the passphrase
// secrets provider, `--non-interactive`, and results read from `--event-log` and `--json`, never from
// the human text. The tools come from test/engine/build.sh (PULUMI_ENGINE_DIR, set by run.sh).
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

/* eslint-disable @typescript-eslint/no-explicit-any */
const ROOT = path.resolve(__dirname, "../..");
/** What a project copy needs from the repository: the program, its config schema and its packages. */
const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "components"];

export interface Proc { code: number; stdout: string; stderr: string; ms: number }

/** Runs a command to the end, feeding `input` on stdin. */
export function run(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<Proc> {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            if (timer) clearTimeout(timer);
            resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

/** The engine's tools: D/bin (CLI and language host) and D/home (PULUMI_HOME with the plugins). */
export function engineDir(): string {
    const d = process.env.PULUMI_ENGINE_DIR;
    if (!d || !fs.existsSync(path.join(d, "bin", "pulumi")) || !fs.existsSync(path.join(d, "home", "plugins"))) {
        throw new Error(`PULUMI_ENGINE_DIR (${d ?? "unset"}) does not hold bin/pulumi and home/plugins: run the suite through test/live/run.sh, which builds them with test/engine/build.sh`);
    }
    return d;
}

/** One engine event from `--event-log`, as the CLI writes it (one JSON object per line). */
export type EngineEvent = Record<string, any>;

export interface Outcome extends Proc {
    events: EngineEvent[];
    /** urn → the step's op (same, create, update, replace, delete, read, refresh…). */
    ops: Map<string, string>;
    /** The summary's resource counts by op. */
    changes: Record<string, number>;
    /** Error diagnostics: urn (or "") → message. */
    errors: { urn: string; message: string }[];
}

export function opsOf(events: EngineEvent[]): Map<string, string> {
    const ops = new Map<string, string>();
    for (const e of events) {
        const m = e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
        if (!m) continue;
        // a replacement's steps (delete-replaced, create-replacement, replace) read as one "replace"
        const op = /replace/.test(m.op) ? "replace" : m.op;
        ops.set(m.urn, e.resOpFailedEvent ? `failed:${op}` : op);
    }
    return ops;
}

/** A resource's logical name (the last URN segment). */
export const nameOf = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

export class Stack {
    readonly project: string;
    readonly env: NodeJS.ProcessEnv;
    private readonly eventDir: string;
    private runs = 0;

    /**
     * A stack of a private copy of a program under `work`, with state in `work/state` (shared by every
     * stack under the same `work`, as stacks of one backend). The program is this project unless
     * `source` names another program's folder.
     */
    constructor(readonly work: string, readonly name: string, source?: string) {
        const engine = engineDir();
        this.project = path.join(work, source ? path.basename(source) : "project");
        this.eventDir = path.join(work, "events");
        fs.mkdirSync(path.join(work, "state"), { recursive: true });
        fs.mkdirSync(this.eventDir, { recursive: true });
        if (!fs.existsSync(this.project)) {
            fs.mkdirSync(this.project);
            if (source) fs.cpSync(source, this.project, { recursive: true });
            else for (const f of PROJECT_FILES) fs.cpSync(path.join(ROOT, f), path.join(this.project, f), { recursive: true });
            fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(this.project, "node_modules"));
        }
        this.env = {
            ...process.env,
            PATH: `${path.join(engine, "bin")}:${process.env.PATH}`,
            PULUMI_HOME: path.join(engine, "home"),
            PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "live-suite-passphrase",
            PULUMI_SKIP_UPDATE_CHECK: "1",
            // `--event-log` is offered with the debug commands only
            PULUMI_DEBUG_COMMANDS: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "1",
        };
    }

    get configFile(): string {
        return path.join(this.project, `Pulumi.${this.name}.yaml`);
    }

    /** A CLI command on this stack (always named: stacks of one project share its folder). */
    async cli(args: string[], input?: string, timeoutMs = 15 * 60_000): Promise<Proc> {
        const stackArgs = args[0] === "stack" && args[1] === "init" ? [] : ["--stack", this.name];
        return run("pulumi", [...args, ...stackArgs, "--non-interactive"], { env: this.env, cwd: this.project, input, timeoutMs });
    }

    async must(args: string[], input?: string): Promise<Proc> {
        const r = await this.cli(args, input);
        if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-4000)}`);
        return r;
    }

    async init(): Promise<void> {
        await this.must(["stack", "init", this.name, "--secrets-provider", "passphrase"]);
    }

    /**
     * Replaces the stack's whole config: plain values are written to the stack file (as `pulumi config
     * set` would), secrets go through `pulumi config set --secret` on stdin, so no secret is on a command
     * line. Keys are the project's, without the `private-registry:` prefix; `secrets` are paths.
     */
    async configure(config: Record<string, any>, secrets: Record<string, string> = {}): Promise<void> {
        const doc = (fs.existsSync(this.configFile) ? yaml.load(fs.readFileSync(this.configFile, "utf8")) : {}) as Record<string, any> ?? {};
        doc.config = Object.fromEntries(Object.entries(config).map(([k, v]) => [`private-registry:${k}`, typeof v === "number" ? String(v) : v]));
        fs.writeFileSync(this.configFile, yaml.dump(doc));
        for (const [key, value] of Object.entries(secrets)) {
            await this.must(["config", "set", "--secret", "--path", `private-registry:${key}`], value);
        }
    }

    /** Starts a CLI command with an event log, without waiting (for kill tests and argv sampling). */
    start(args: string[]): { child: ChildProcess; eventLog: string; done: Promise<Outcome> } {
        const eventLog = path.join(this.eventDir, `${this.name}-${++this.runs}-${args[0]}.jsonl`);
        const t0 = Date.now();
        const child = spawn("pulumi", [...args, "--stack", this.name, "--non-interactive", "--event-log", eventLog],
            { env: this.env, cwd: this.project, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d) => (stdout += d));
        child.stderr!.on("data", (d) => (stderr += d));
        const done = new Promise<Outcome>((resolve, reject) => {
            child.on("error", reject);
            child.on("close", (code) => resolve(outcome({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 }, eventLog)));
        });
        return { child, eventLog, done };
    }

    up(extra: string[] = []): Promise<Outcome> {
        return this.start(["up", "--yes", "--skip-preview", "--suppress-progress", ...extra]).done;
    }

    /** `pulumi preview --json` (preview has no event log): its steps, summary and diagnostics. */
    async preview(extra: string[] = []): Promise<Outcome> {
        const p = await this.cli(["preview", "--json", ...extra]);
        let doc: any = {};
        try { doc = JSON.parse(p.stdout); } catch { /* a failure before the preview started: no JSON */ }
        const ops = new Map<string, string>((doc.steps ?? []).map((st: any) => [st.urn, /replace/.test(st.op) ? "replace" : st.op]));
        const errors = (doc.diagnostics ?? []).filter((d: any) => d.severity === "error").map((d: any) => ({ urn: d.urn ?? "", message: String(d.message) }));
        return { ...p, events: [], ops, changes: doc.changeSummary ?? {}, errors };
    }

    refresh(extra: string[] = []): Promise<Outcome> {
        return this.start(["refresh", "--yes", "--skip-preview", "--suppress-progress", ...extra]).done;
    }

    destroy(extra: string[] = []): Promise<Outcome> {
        return this.start(["destroy", "--yes", "--skip-preview", "--suppress-progress", ...extra]).done;
    }

    /** The stack's outputs with secrets revealed, and the names of the outputs that are secret. */
    async outputs(): Promise<{ values: Record<string, any>; secret: string[] }> {
        const values = JSON.parse((await this.must(["stack", "output", "--json", "--show-secrets"])).stdout);
        const masked = JSON.parse((await this.must(["stack", "output", "--json"])).stdout);
        return { values, secret: Object.keys(masked).filter((k) => masked[k] === "[secret]") };
    }

    /** `pulumi stack export` as a user would run it (secrets stay encrypted). */
    async exportState(): Promise<string> {
        return (await this.must(["stack", "export"])).stdout;
    }

    /** The state files of the backend (checkpoints, backups, history). */
    stateFiles(): string[] {
        const out: string[] = [];
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const p = path.join(d, e.name);
                if (e.isDirectory()) walk(p);
                else out.push(p);
            }
        };
        walk(path.join(this.work, "state"));
        return out;
    }

    /** Lock files the backend holds for this stack (a killed CLI leaves its own behind). */
    locks(): string[] {
        return this.stateFiles().filter((f) => f.includes(`${path.sep}locks${path.sep}`) && f.endsWith(".json"));
    }
}

export function outcome(p: Proc, eventLog: string): Outcome {
    const events = fs.existsSync(eventLog)
        ? fs.readFileSync(eventLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as EngineEvent)
        : [];
    const summary = events.find((e) => e.summaryEvent)?.summaryEvent;
    const errors = events.filter((e) => e.diagnosticEvent?.severity === "error")
        .map((e) => ({ urn: e.diagnosticEvent.urn ?? "", message: String(e.diagnosticEvent.message) }));
    return { ...p, events, ops: opsOf(events), changes: summary?.resourceChanges ?? {}, errors };
}

/** The ops that are not `same`, as "op name" strings (for readable assertions). */
export function changed(o: Outcome): string[] {
    return [...o.ops].filter(([, op]) => op !== "same").map(([urn, op]) => `${op} ${nameOf(urn)}`).sort();
}
