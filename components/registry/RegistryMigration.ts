import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { messageAlone } from "../kubernetes/PullSecret";

export interface RegistryMigrationArgs {
    /** The docker engine both registries run on (the docker CLI where pulumi runs reaches it as DOCKER_HOST). */
    dockerHost: pulumi.Input<string>;
    /** The container started by hand (the recipe's `registry`). */
    fromContainer: pulumi.Input<string>;
    /** Keep the old container's htpasswd logins working beside the program's own. */
    keepLogin: boolean;
    /** The program's login name, which must not be one of the kept logins. */
    username: pulumi.Input<string>;
    /** Where the new registry keeps its data: a volume name, or an absolute path on the docker host. */
    target: pulumi.Input<string>;
    /** The new registry's container names, the first being the one on the first bind address. */
    targetContainers: pulumi.Input<string>[];
}

const SCRIPT = fs.readFileSync(path.join(__dirname, "scripts", "migrate.sh"), "utf8");
/** `bash -c <script> migrate.sh <mode>`: a failing step's message names its mode, not the script's text. */
export const MIGRATE_INTERPRETER = ["/bin/bash", "-c", SCRIPT, "migrate.sh"];
/** No upload may have been written for this long before the data is copied. */
export const QUIET_MINUTES = 2;

/** What `migrate.sh check` printed: the problems, or whether the migration is done already. */
export function readMigrationCheck(stdout: string): { problems: string[]; done: boolean } {
    const lines = stdout.split("\n").map((l) => l.trim()).filter(Boolean);
    const problems = lines.filter((l) => l.startsWith("fail ")).map((l) => l.slice(5));
    if (!lines.some((l) => l === "done" || l.startsWith("ok ")) && problems.length === 0) {
        problems.push("private-registry:migrate.fromContainer: the check of the old container gave no answer");
    }
    return { problems, done: lines.includes("done") };
}

/** The program's htpasswd with the kept logins after it (the registry reads every line). */
export function withKeptLogins(htpasswd: string, kept: string): string {
    const lines = kept.split("\n").map((l) => l.trim()).filter(Boolean);
    return lines.length === 0 ? htpasswd : `${htpasswd.replace(/\n*$/, "\n")}${lines.join("\n")}\n`;
}

/**
 * Takes over a registry container started by hand: checks it at preview (a registry, with images, not being
 * written to), copies its data into the new registry's storage while it keeps serving, stops it right
 * before the new registry starts ({@link takeoverHook}), and removes it once the new registry is healthy.
 * Should the new registry fail to start, {@link restoreHook} starts the old one again, and the next `up`
 * takes it over anew. The copy and the removal run once: a later `up` never repeats them.
 */
export class RegistryMigration extends pulumi.ComponentResource {
    /** The old container's htpasswd lines (secret; empty without keepLogin). */
    public readonly keptLogins: pulumi.Output<string>;
    /**
     * Resolves (to no resources) once the old container passed the check: what the new registry creates on
     * the docker host (volume, image) depends on it, so a refusal leaves that host as it was.
     */
    public readonly checked: pulumi.Output<pulumi.Resource[]>;
    /** Copies the data while the old registry serves: the new containers wait for it (see copyAfter). */
    public copy!: pulumi.Output<command.local.Command>;
    /** Before the new containers are created or updated: the old one stops, and what it wrote since the copy follows. */
    public readonly takeoverHook: pulumi.ResourceHook;
    /** On the new containers: when one cannot be created, the old registry is started again. */
    public readonly restoreHook: pulumi.ErrorHook;
    /** What the steps did (copied, stopped, removed). */
    public report!: pulumi.Output<string>;
    private readonly environment: pulumi.Output<{ [k: string]: string }>;
    private readonly baseName: string;
    private readonly step: (mode: string, deps: pulumi.Input<pulumi.Resource>[]) => command.local.Command;
    private readonly logins?: pulumi.Output<command.local.Command>;

    constructor(name: string, args: RegistryMigrationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryMigration", name, {}, opts);
        this.baseName = name;
        this.environment = pulumi.all([args.dockerHost, args.fromContainer, args.target, pulumi.all(args.targetContainers), args.username])
            .apply(([dockerHost, from, target, containers, username]): Record<string, string> => ({
                DOCKER_HOST: dockerHost, FROM: from, TARGET: target, TARGET_CONTAINERS: containers.join(" "),
                USERNAME: username, KEEP_LOGIN: args.keepLogin ? "1" : "0", QUIET_MINUTES: String(QUIET_MINUTES),
            }));
        // Checked by an invoke, at preview too; the steps are declared only once it has passed, so a refusal
        // leaves the old registry and the docker host as they were.
        const check = command.local.runOutput({ interpreter: MIGRATE_INTERPRETER, command: "check", environment: this.environment, logging: "none" }, { parent: this });
        const found = check.stdout.apply((out) => {
            const r = readMigrationCheck(out);
            if (r.problems.length > 0) throw messageAlone(r.problems.join("\n"), this);
            return r;
        });
        // each step runs once, when first created; a later change of its inputs (a new script, a renamed
        // volume) must not run it again against a container that is gone
        const once = { parent: this, ignoreChanges: ["interpreter", "create", "environment"] };
        const step = (mode: string, deps: pulumi.Input<pulumi.Resource>[], secret = false) => new command.local.Command(`${name}-${mode}`, {
            interpreter: MIGRATE_INTERPRETER, create: mode, environment: this.environment,
            ...(secret ? { logging: "stderr" as const } : {}),
        }, { ...once, dependsOn: deps, ...(secret ? { additionalSecretOutputs: ["stdout"] } : {}) });
        const logins = args.keepLogin ? found.apply(() => step("logins", [], true)) : undefined;
        this.keptLogins = logins ? pulumi.secret(logins.apply((c) => c.stdout)) : pulumi.output("");
        this.checked = found.apply(() => []);
        this.step = step;
        this.logins = logins;

        const env = this.environment;
        const script = async (mode: string) => {
            const e = await new Promise<Record<string, string>>((resolve) => env.apply(resolve));
            const r = await promisify(execFile)(MIGRATE_INTERPRETER[0], [...MIGRATE_INTERPRETER.slice(1), mode], { env: { ...process.env, ...e } });
            return { from: e.FROM, out: r.stdout.trim() };
        };
        this.takeoverHook = new pulumi.ResourceHook(`${name}-takeover`, async (hook) => {
            try {
                const r = await script("takeover");
                if (r.out) await pulumi.log.info(`${hook.name}: ${r.out}`, this);
            } catch (err) {
                throw new Error(`private-registry:migrate.fromContainer: taking over the old registry before ${hook.name} starts failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
            }
        });
        this.restoreHook = new pulumi.ErrorHook(`${name}-restore`, async (hook) => {
            try {
                const r = await script("restore");
                await pulumi.log.warn(`${hook.name} could not start; ${r.out}`, this);
            } catch (err) {
                await pulumi.log.error(`${hook.name} could not start, and the old container could not be started again: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, this);
            }
            return false;
        });
    }

    /** The copy, once `after` (the new registry's volume and image) exist. */
    copyAfter(after: pulumi.Resource[]): pulumi.Output<command.local.Command> {
        this.copy = this.checked.apply(() => this.step("copy", [...after, ...(this.logins ? [this.logins] : [])]));
        this.report = this.copy.apply((c) => c.stdout);
        return this.copy;
    }

    /** Removes the old container once `containers` (the new registry) run healthy. */
    retireAfter(containers: pulumi.Resource[]): void {
        const retire = this.copy.apply((h) => new command.local.Command(`${this.baseName}-retire`, {
            interpreter: MIGRATE_INTERPRETER, create: "retire", environment: this.environment,
        }, { parent: this, ignoreChanges: ["interpreter", "create", "environment"], dependsOn: [h, ...containers] }));
        this.report = pulumi.all([this.report, retire.apply((r) => r.stdout)]).apply(([a, b]) => [a, b].filter(Boolean).join("\n"));
        this.registerOutputs({ report: this.report });
    }
}
