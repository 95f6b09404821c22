// Nodes the stack configured at its last update that `nodes` no longer lists: their removal runs the
// delete over SSH now, and for a machine that is gone that fails (the provider's dial error cannot say
// what to do). Said before it happens, with the way out.
import * as pulumi from "@pulumi/pulumi";

/** The names in the stack's last `nodeReports` output that are not among today's nodes. */
export function removedNodes(lastReports: unknown, names: string[]): string[] {
    if (!lastReports || typeof lastReports !== "object") return [];
    return Object.keys(lastReports).filter((n) => !names.includes(n)).sort();
}

export function removedNodeWarning(name: string): string {
    return `node ${name} is no longer in private-registry:nodes, so its clean-up connects to it over SSH now. ` +
        `If that machine is gone, the delete cannot connect and the update fails: put the node back with retired: true, ` +
        `run up (nothing connects to a retired node), then remove it (docs/NODES.md, "Nodes that no longer exist").`;
}

/**
 * Reads the stack's own last outputs (a StackReference to itself) and warns for each removed node.
 * A stack that has never been updated has no outputs: nothing to say.
 */
export function warnRemovedNodes(stack: string, names: string[]): void {
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`);
    self.getOutput("nodeReports").apply((last) => {
        for (const n of removedNodes(last, names)) void pulumi.log.warn(removedNodeWarning(n));
    });
}
