import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** One retention rule; a tag stays when any rule matching its repository keeps it. */
export interface RetentionRule {
    repositories: string[];
    keepLast: number;
    keepDays: number;
    keepTags: string[];
}

/** What the runner is told: its schedule, window and rules (config.json), the same in both modes. */
export interface RunnerSettings {
    schedule: pulumi.Input<string>;
    windowMinutes: pulumi.Input<number>;
    untaggedGraceHours: pulumi.Input<number>;
    maxDeletePercent: pulumi.Input<number>;
    uploadAgeHours: pulumi.Input<number>;
    retention: pulumi.Input<RetentionRule[]>;
    /** `repo@sha256:…` that always stay: the stack's own images and `maintenance.protect`. */
    protect: pulumi.Input<pulumi.Input<string>[]>;
}

/** The runner's config.json; `writers` are the writer containers' names (on a docker host). */
export function runnerConfig(a: RunnerSettings, writers: pulumi.Input<string>[]): pulumi.Output<string> {
    return pulumi.all([writers, a.schedule, a.windowMinutes, a.untaggedGraceHours, a.maxDeletePercent, a.uploadAgeHours, a.retention, a.protect]).apply(
        ([w, schedule, windowMinutes, untaggedGraceHours, maxDeletePercent, uploadAgeHours, retention, protect]) => JSON.stringify({
            writers: w, schedule, windowSeconds: windowMinutes * 60, purgeUploadsAfterHours: uploadAgeHours,
            policy: {
                rules: retention.map((r) => ({
                    repositories: r.repositories, keepTags: r.keepTags,
                    ...(r.keepLast > 0 ? { keepLast: r.keepLast } : {}), ...(r.keepDays > 0 ? { keepDays: r.keepDays } : {}),
                })),
                untaggedGraceHours, maxDeleteFraction: maxDeletePercent / 100, protect: [...new Set(protect)].sort(),
            },
        }, null, 2));
}

export interface RegistryMaintenanceArgs extends RunnerSettings {
    /** The registry's engine, and the name its containers are derived from. */
    provider: docker.Provider;
    containerName: pulumi.Input<string>;
    /** The registry's image: the runner uses its `registry` binary. */
    registryImage: pulumi.Input<string>;
    nodeImage: pulumi.Input<string>;
    /** The registry's data: a named volume or a host path on the docker host. */
    dataVolume?: pulumi.Input<string>;
    dataHostPath?: pulumi.Input<string>;
    /** The writer containers, which stop while a window is open (their hostnames are their names). */
    writers: docker.Container[];
}

const RUNNER_DIR = path.join(__dirname, "runner");
const CONFIG = "/maint/config.json";

/** A digest of the runner's files, so a changed runner is a new image and a new container. */
function runnerVersion(): string {
    const h = crypto.createHash("sha256");
    for (const f of fs.readdirSync(RUNNER_DIR).sort()) h.update(f).update(fs.readFileSync(path.join(RUNNER_DIR, f)));
    return h.digest("hex").slice(0, 12);
}

/**
 * The maintenance runner beside a registry on a docker host: an image built there from `nodeImage` and
 * the registry image's own binary, and a container that mounts the registry's data and nothing else
 * (no port, no network, no docker socket, no registry login). It keeps the schedule itself and runs on
 * demand through `docker exec` (`npm run maintenance`).
 */
export class RegistryMaintenance extends pulumi.ComponentResource {
    public readonly containerName: pulumi.Output<string>;

    constructor(name: string, args: RegistryMaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryMaintenance", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const image = new docker.Image(`${name}-image`, {
            imageName: pulumi.interpolate`private-registry-maintenance:${runnerVersion()}`,
            build: {
                context: RUNNER_DIR,
                dockerfile: path.join(RUNNER_DIR, "Dockerfile"),
                args: { REGISTRY_IMAGE: args.registryImage, NODE_IMAGE: args.nodeImage },
            },
            skipPush: true,
        }, childOpts);
        const config = runnerConfig(args, args.writers.map((w) => w.name));
        const container = new docker.Container(`${name}-runner`, {
            name: pulumi.interpolate`${args.containerName}-maintenance`,
            image: image.imageName,
            restart: "always",
            networkMode: "none",
            volumes: [args.dataVolume !== undefined
                ? { volumeName: args.dataVolume, containerPath: "/var/lib/registry" }
                : { hostPath: args.dataHostPath, containerPath: "/var/lib/registry" }],
            uploads: [{ file: CONFIG, content: config, permissions: "0644" }],
            // a stopping runner ends an open window at once (its SIGTERM handler); the writers' deadline otherwise
            stopTimeout: 10,
            mustRun: true,
        }, { ...childOpts, deleteBeforeReplace: true, dependsOn: args.writers });
        this.containerName = container.name;
        this.registerOutputs({ containerName: this.containerName });
    }
}
