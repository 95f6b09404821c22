import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { FRONT_FILES, FRONT_HEALTHCHECK, frontConfig } from "./frontConfig";
import type { TlsVersion } from "../config/config";

export interface RegistryFrontArgs {
    /** The docker engine of the registries behind it. */
    provider: docker.Provider;
    /** The nginx image (pinned), pulled with RemoteImage. */
    image: pulumi.Input<string>;
    /** The network the front shares with the reader and the writer. */
    network: pulumi.Input<string>;
    /** One front per bind address, named in the same order. */
    containerNames: pulumi.Input<string>[];
    bindAddresses: string[];
    port: number;
    reader: docker.Container;
    writer: docker.Container;
    certPem: pulumi.Input<string>;
    privateKeyPem: pulumi.Input<string>;
    /** Logins that may read (the pull and the push logins) and logins that may write. */
    pullUsers: pulumi.Input<string>;
    pushUsers: pulumi.Input<string>;
    minTlsVersion: TlsVersion;
    /** A take-over's hooks and copy, on the containers that take the old registry's address. */
    takeover?: pulumi.CustomResourceOptions;
    /** A take-over's check, which comes before anything is made on the docker host. */
    checked?: pulumi.CustomResourceOptions;
    /** The resources that published the address before (by bind address), which these replace. */
    formerly?: { parent: pulumi.Resource; names: string[] };
}

/** The resource name of the front on a bind address (the first address has the plain name). */
export function frontContainerName(name: string, ip: string, index: number): string {
    return index === 0 ? `${name}-container` : `${name}-container-${ip}`;
}

const CERT = "/certs/registry.crt";
const KEY = "/certs/registry.key";
const LISTEN_PORT = 5000;

/**
 * The registry's public face with pull-only logins: nginx on each bind address, terminating TLS with the
 * registry's certificate and routing by method (frontConfig.ts). It runs as nobody; its files are readable
 * inside its own container only, where nothing else runs. A replaced reader or writer replaces the fronts
 * (nginx resolves their addresses once, at start).
 */
export class RegistryFront extends pulumi.ComponentResource {
    /** One per bind address, in their order. */
    public readonly containers: docker.Container[];

    constructor(name: string, args: RegistryFrontArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryFront", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { ...childOpts, ...args.checked });
        const config = pulumi.all([args.reader.name, args.writer.name, args.reader.id, args.writer.id]).apply(([reader, writer, readerId, writerId]) => frontConfig({
            port: LISTEN_PORT, reader: `${reader}:${LISTEN_PORT}`, writer: `${writer}:${LISTEN_PORT}`, certFile: CERT, keyFile: KEY,
            minTlsVersion: args.minTlsVersion, generation: `reader ${readerId.slice(0, 12)}, writer ${writerId.slice(0, 12)}`,
        }));
        this.containers = args.bindAddresses.map((ip, i) => new docker.Container(frontContainerName(name, ip, i), {
            name: args.containerNames[i],
            image: image.imageId,
            restart: "always",
            networkMode: args.network,
            user: "65534:65534",
            // a graceful stop: requests in flight finish
            stopSignal: "SIGQUIT",
            command: ["nginx", "-c", FRONT_FILES.config],
            ports: [{ internal: LISTEN_PORT, external: args.port, ip, protocol: "tcp" }],
            uploads: [
                { file: FRONT_FILES.config, content: config, permissions: "0644" },
                { file: CERT, content: args.certPem, permissions: "0644" },
                { file: KEY, content: pulumi.secret(args.privateKeyPem), permissions: "0644" },
                { file: FRONT_FILES.pullUsers, content: pulumi.secret(args.pullUsers), permissions: "0644" },
                { file: FRONT_FILES.pushUsers, content: pulumi.secret(args.pushUsers), permissions: "0644" },
            ],
            healthcheck: { tests: FRONT_HEALTHCHECK, interval: "5s", timeout: "3s", retries: 3, startPeriod: "5s" },
            wait: true,
            waitTimeout: 60,
            mustRun: true,
        }, {
            ...childOpts,
            ...args.takeover,
            dependsOn: [args.reader, args.writer, ...((args.takeover?.dependsOn as pulumi.Resource[] | undefined) ?? [])],
            deleteBeforeReplace: true,
            replaceOnChanges: ["healthcheck"],
            ...(args.formerly ? { aliases: [{ name: args.formerly.names[i], parent: args.formerly.parent }] } : {}),
            additionalSecretOutputs: ["uploads"],
        }));
        this.registerOutputs({});
    }
}
