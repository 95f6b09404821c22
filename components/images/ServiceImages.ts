import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { ServiceSettings } from "../config/config";

export interface ServiceImagesArgs {
    services: ServiceSettings[];
    /** `host:port` of the registry, as the output refs name it. */
    registry: string;
    /** `host:port` the builder pushes to (the registry's own address, or its loopback on the docker host). */
    pushAddress: string;
    username: pulumi.Input<string>;
    password: pulumi.Input<string>;
    /** The docker engine that builds and pushes. */
    provider: docker.Provider;
}

/**
 * Builds each service, tags it `host:port/name:tag` and pushes it with the registry's credentials.
 * The build runs on the registry's docker host; when the registry is published on that host's loopback,
 * the push goes there, so the daemon needs no trust for the private CA (dockerd treats 127.0.0.0/8 as
 * a local registry).
 * Give it `dependsOn` the running registry; each build waits for it. Outputs the digest-pinned reference of each image.
 */
export class ServiceImages extends pulumi.ComponentResource {
    /** service name → `host:port/name@sha256:…`. */
    public readonly refs: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: ServiceImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:ServiceImages", name, {}, opts);
        const refs: Record<string, pulumi.Output<string>> = {};
        const names = new Set(args.services.map((s) => s.name));
        for (const svc of args.services) {
            // The service name as it is: `a/b` and `a-b` are two images. Earlier versions named `a/b`
            // `a-b`; the alias keeps such a stack's image where no `a-b` service claims that name.
            const legacy = svc.name.replace(/\//g, "-");
            const aliases = legacy !== svc.name && !names.has(legacy) ? [{ name: `${name}-${legacy}` }] : [];
            const image = new docker.Image(`${name}-${svc.name}`, {
                imageName: `${args.pushAddress}/${svc.name}:${svc.tag}`,
                build: {
                    context: svc.context,
                    ...(svc.dockerfile !== undefined ? { dockerfile: path.join(svc.context, svc.dockerfile) } : {}),
                    // the build always runs on the docker host, whose daemon builds for its own platform
                    // unless told otherwise: a fixed default would fail on arm64 hosts without emulation
                    ...(svc.platform !== undefined ? { platform: svc.platform } : {}),
                    args: svc.args,
                },
                registry: { server: args.pushAddress, username: args.username, password: pulumi.secret(args.password) },
            }, { parent: this, provider: args.provider, dependsOn: opts?.dependsOn, aliases });
            // the same manifest, named by the address every other client uses
            refs[svc.name] = image.repoDigest.apply((d) => `${args.registry}/${svc.name}@${d.split("@")[1]}`);
        }
        this.refs = pulumi.output(refs);
        this.registerOutputs({ refs: this.refs });
    }
}
