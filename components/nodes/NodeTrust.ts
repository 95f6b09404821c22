import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NodeSettings } from "../config/config";
import { MirrorOptions, nodeCommand, nodeTrustScript } from "./nodeScripts";

export interface NodeTrustArgs {
    node: NodeSettings;
    /** `host:port` as the node's clients address the registry. */
    registry: string;
    /** The registry's host name, for the optional /etc/hosts line. */
    hostname: string;
    caCertPem: pulumi.Input<string>;
    /** Marker for what this stack writes on a node (file names, /etc/hosts comment). */
    id: string;
    /** The pull-through mirror this node pulls `upstream` images through, if any. */
    mirror?: MirrorOptions;
}

/** Every input the node's command is given: all of them keep their stored values once a node is retired. */
const RETIRED_IGNORED = ["connection", "create", "update", "delete", "stdin", "addPreviousOutputInEnv", "triggers"] as const;

/**
 * Makes one node trust the registry's CA over SSH, the scoped way for its container runtime, plus the
 * opt-in /etc/hosts line and system trust. The script travels on stdin (never argv), carries both the
 * create and the delete mode, and is idempotent: a re-run changes nothing and restarts nothing.
 */
export class NodeTrust extends pulumi.ComponentResource {
    public readonly command: command.remote.Command;
    /**
     * What the node's last run reported: `changed:`/`unchanged:`/`restarted:` lines, plus `hosts:` lines for
     * other /etc/hosts lines that map the registry's name, `removed:` lines for what cleanRecipe took away and
     * a `note:` when containerd's config went unchecked or cleanRecipe left something.
     */
    public readonly report: pulumi.Output<string>;
    /** Where the node was pointed at the mirror (`<upstream> through <mirror>: <file>`), from its report. */
    public readonly mirror: pulumi.Output<string[]>;

    constructor(name: string, args: NodeTrustArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:NodeTrust", name, {}, opts);
        const { node } = args;
        const script = pulumi.output(args.caCertPem).apply((caPem) => nodeTrustScript({
            registry: args.registry,
            hostname: args.hostname,
            caPem,
            runtime: node.runtime,
            hostsAddress: node.hostsAddress,
            hostsCommentOut: node.hostsCommentOut,
            systemTrust: node.systemTrust,
            insecureRegistry: node.insecureRegistry,
            cleanRecipe: node.cleanRecipe,
            containerdConfigFile: node.containerdConfigFile,
            containerdRestartCommand: node.containerdRestartCommand,
            // dockerRestartCommand is not passed: insecure-registries is applied by the reload
            mirror: args.mirror,
            reloadCommand: node.mirrorReloadCommand,
            id: args.id,
            nodeName: node.name,
        }));
        this.command = new command.remote.Command(`${name}-trust`, {
            connection: {
                host: node.host,
                port: node.port,
                user: node.user,
                privateKey: pulumi.secret(node.privateKey),
                ...(node.hostKey ? { hostKey: node.hostKey } : {}),
                // fail in seconds, not the provider's default of minutes, when a node is down
                dialErrorLimit: node.dialErrorLimit,
                perDialTimeout: node.perDialTimeout,
            },
            create: nodeCommand("create", node.user),
            update: nodeCommand("create", node.user),
            delete: nodeCommand("delete", node.user),
            stdin: script,
            // the provider would send the previous output with SSH setenv on every update and delete, which
            // a stock sshd refuses (a warning each run); the script does not need it
            addPreviousOutputInEnv: false,
            // Only triggers replace. What names the written paths (registry address, id) and what names the
            // target (host, port, user: a changed connection is otherwise an update, run on the new target
            // only, leaving the old one configured) replace it: the old delete runs, with the old stored
            // connection, before the new create. A new CA or runtime changes the script itself, so the steps
            // re-run in place as an update (no delete-and-create, no double restart).
            triggers: [args.registry, args.id, node.host, node.port, node.user],
        }, {
            parent: this,
            // create and delete write the same paths: the old delete must run before the new create
            deleteBeforeReplace: true,
            // A retired node is gone: nothing may connect to it. Every input keeps its stored value (no
            // update, no replace) and a later removal from `nodes` forgets the command without its delete.
            ...(node.retired ? { ignoreChanges: [...RETIRED_IGNORED], retainOnDelete: true } : {}),
        });
        this.report = node.retired
            ? pulumi.output(`retired: ${node.name} is not contacted; remove it from private-registry:nodes to drop it from the stack`)
            : this.command.stdout;
        this.mirror = this.report.apply((r) => (r ?? "").split("\n").filter((l) => l.startsWith("mirror: ")).map((l) => l.slice("mirror: ".length)));
        this.registerOutputs({ report: this.report, mirror: this.mirror });
    }
}
