// Pure helper (no Pulumi imports): the bash script each node runs to trust the registry's CA,
// and the command line that feeds it on stdin. See README.md "How nodes come to trust the registry".
// The bash lives in components/nodes/scripts/; this file only checks and quotes the values for one node.
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";

/** Container runtime on a node; decides where the scoped CA trust goes. */
export type NodeRuntime = "docker" | "containerd" | "crio" | "none";

/** Every accepted {@link NodeRuntime}, for config validation and messages. */
export const NODE_RUNTIMES: readonly NodeRuntime[] = Object.freeze(["docker", "containerd", "crio", "none"] as const);

/** A pull-through mirror a node pulls `upstream` images through. */
export interface MirrorOptions {
    /** "host:port" of the mirror; the host is the registry's, so the registry's CA covers it. */
    address: string;
    /** The registry it caches, as image names spell it: "docker.io". */
    upstream: string;
    /** The upstream's own API endpoint, containerd's fallback: "https://registry-1.docker.io". */
    upstreamUrl: string;
}

/** Inputs of {@link nodeTrustScript}. Strings from user config are validated before they reach bash. */
export interface NodeScriptOptions {
    /** "host:port" (or "host") exactly as clients address the registry, e.g. "docker.registry.com:5000". */
    registry: string;
    /** Registry host name, the part of `registry` before the colon; used for /etc/hosts. */
    hostname: string;
    /** PEM of the CA certificate(s) the node must trust. */
    caPem: string;
    runtime: NodeRuntime;
    /** Opt-in: keep an /etc/hosts line "<addr> <hostname> # <id>". */
    hostsAddress?: string;
    /**
     * Opt-in, with hostsAddress: comment out the other /etc/hosts lines that map hostname (given back on delete).
     * Without it they are only reported ("hosts: other line maps ...").
     */
    hostsCommentOut?: boolean;
    /** Opt-in: also install the CA in the node's system store (Debian, RHEL or SUSE layout, found on the node). */
    systemTrust: boolean;
    /** Opt-in, docker runtime only: list the registry in /etc/docker/daemon.json "insecure-registries" (applied by reloadCommand). */
    insecureRegistry: boolean;
    /**
     * Opt-in, on create: remove what the manual recipe left for this registry, for good (not given back on delete):
     * its "insecure-registries" entry in daemon.json (docker; applied by reloadCommand) unless a stack on the node
     * claims it, its self-signed certificate for hostname in the system CA store, and with hostsAddress its other
     * /etc/hosts lines for hostname, commented out as with hostsCommentOut. Not with insecureRegistry.
     */
    cleanRecipe?: boolean;
    /** containerd's config file, normally "/etc/containerd/config.toml". */
    containerdConfigFile: string;
    /** Normally "systemctl restart containerd". Runs only when config_path had to be enabled (or restored). */
    containerdRestartCommand: string;
    /** @deprecated Ignored: insecure-registries is applied by reloadCommand, which does not stop the node's containers. */
    dockerRestartCommand?: string;
    /** Opt-in: pull `mirror.upstream` images through this mirror. */
    mirror?: MirrorOptions;
    /**
     * Makes docker or CRI-O re-read their mirror settings and docker its insecure-registries, without a restart:
     * "systemctl reload docker". Runs only when they changed.
     */
    reloadCommand?: string;
    /** Marker such as "private-registry-dev" ([a-z0-9-]); names the state dir, trust file and /etc/hosts marker. */
    id: string;
    /** The node's name in the stack ([a-z0-9-]), for messages; the node's own host name without it. */
    nodeName?: string;
}

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME_RE = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);
const ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ABS_PATH_RE = /^(?:\/[A-Za-z0-9._+@-]+)+$/;
const PEM_BLOCK_RE = /-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+?\n-----END CERTIFICATE-----/g;

/**
 * The one way a value reaches bash: single-quoted, which bash takes literally (no $, `, \ or glob),
 * each ' written as '\''. Safe for any string without NUL, which bash cannot hold.
 */
export function shellQuote(s: string): string {
    if (s.includes("\0")) throw new Error("shellQuote: a NUL byte cannot be passed to bash");
    return `'${s.replace(/'/g, `'\\''`)}'`;
}
const q = shellQuote;

function normalizePem(pem: string): string {
    const text = pem.replace(/\r\n?/g, "\n").trim();
    const blocks = text.match(PEM_BLOCK_RE) ?? [];
    // Anything besides certificate blocks (keys, junk) is refused rather than copied onto nodes.
    if (blocks.length === 0 || text.replace(PEM_BLOCK_RE, "").trim() !== "") {
        throw new Error("nodeTrustScript: caPem must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)");
    }
    for (const b of blocks) {
        try {
            new X509Certificate(b);
        } catch (e) {
            throw new Error(`nodeTrustScript: caPem holds a block that is not a valid X.509 certificate: ${(e as Error).message}`);
        }
    }
    return blocks.join("\n");
}

function validate(o: NodeScriptOptions): void {
    const bad = (key: string, value: unknown, what: string): never => {
        throw new Error(`nodeTrustScript: invalid ${key} ${JSON.stringify(value)}: ${what}`);
    };
    if (!ID_RE.test(o.id)) bad("id", o.id, "expected [a-z0-9-]+ starting with a letter or digit, at most 63 characters");
    // /etc/private-registry holds what the stacks on a node share (components/nodes/scripts/node-trust-shared.sh)
    if (o.id === "private-registry") bad("id", o.id, "is the name of the node-wide directory; expected private-registry-<stack>");
    if (o.nodeName !== undefined && !ID_RE.test(o.nodeName)) bad("nodeName", o.nodeName, "expected [a-z0-9-]+");
    if (!HOSTNAME_RE.test(o.hostname)) bad("hostname", o.hostname, "expected a DNS name or IPv4 address");
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(o.registry);
    if (!m || (m[2] !== undefined && (+m[2] < 1 || +m[2] > 65535))) bad("registry", o.registry, "expected host or host:port with port 1-65535");
    if (m![1] !== o.hostname) bad("registry", o.registry, `its host must equal hostname ${JSON.stringify(o.hostname)}`);
    if (!NODE_RUNTIMES.includes(o.runtime)) bad("runtime", o.runtime, `expected one of ${NODE_RUNTIMES.join(", ")}`);
    if (o.hostsAddress !== undefined && isIP(o.hostsAddress) === 0) bad("hostsAddress", o.hostsAddress, "expected an IPv4 or IPv6 address");
    if (o.hostsCommentOut && o.hostsAddress === undefined) bad("hostsCommentOut", o.hostsCommentOut, "needs hostsAddress (the line that takes their place)");
    if (o.insecureRegistry && o.runtime !== "docker") bad("insecureRegistry", o.insecureRegistry, "only supported with runtime docker");
    if (o.cleanRecipe && o.insecureRegistry) bad("cleanRecipe", o.cleanRecipe, "cannot go with insecureRegistry, which keeps the entry cleanRecipe removes");
    if (!ABS_PATH_RE.test(o.containerdConfigFile) || o.containerdConfigFile.split("/").includes("..")) {
        bad("containerdConfigFile", o.containerdConfigFile, "expected an absolute path");
    }
    for (const key of ["containerdRestartCommand", "reloadCommand"] as const) {
        const v = o[key] ?? "true";
        if (v.trim() === "" || v.includes("\0")) bad(key, v, "expected a non-empty command");
    }
    if (o.mirror) {
        const mm = /^([^:]+):(\d{1,5})$/.exec(o.mirror.address);
        if (!mm || mm[1] !== o.hostname || +mm[2] < 1 || +mm[2] > 65535) bad("mirror.address", o.mirror.address, `expected ${o.hostname}:<port>`);
        if (o.mirror.address === o.registry) bad("mirror.address", o.mirror.address, "must differ from the registry's address");
        if (!/^[a-z0-9.-]+(?::\d{1,5})?$/i.test(o.mirror.upstream)) bad("mirror.upstream", o.mirror.upstream, "expected a registry host such as docker.io");
        if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+\/?$/.test(o.mirror.upstreamUrl)) bad("mirror.upstreamUrl", o.mirror.upstreamUrl, "expected http(s)://host[:port]");
        if (o.runtime === "docker" && o.mirror.upstream !== "docker.io") bad("mirror.upstream", o.mirror.upstream, "dockerd mirrors docker.io only");
    }
}

// The bash itself, in order after the header; shellcheck lints these files as they are (test/unit/nodeScripts.test.ts).
// The last one ends by calling main.
export const SCRIPT_PARTS = [
    "node-trust.sh", "node-trust-shared.sh", "node-trust-docker.sh", "node-trust-hosts.sh", "node-trust-recipe.sh", "node-trust-steps.sh",
] as const;
let body: string | undefined;

/** The script files without their `#!` lines (the header has the one the script starts with), read once. */
function scriptBody(): string {
    body ??= SCRIPT_PARTS.map((f) => fs.readFileSync(path.join(__dirname, "scripts", f), "utf8").replace(/^#![^\n]*\n/, "")).join("\n");
    return body;
}

/**
 * The bash script that makes one node trust the registry (mode `create`) or undoes exactly that (mode `delete`),
 * chosen by `$1`. It is idempotent, records what it adds in /etc/<id>/<registry>.manifest (and what it shares with
 * other stacks on the node under /etc/private-registry, undone by the last one to leave), and holds no secret.
 * Throws on invalid options, before any of them reach bash.
 */
export function nodeTrustScript(o: NodeScriptOptions): string {
    validate(o);
    const pem = normalizePem(o.caPem);
    const m = o.mirror;
    const runtimeItem: Record<NodeRuntime, string | undefined> = {
        docker: `put ${q(`/etc/docker/certs.d/${o.registry}/ca.crt`)} whole "$(ca_pem)"`,
        crio: `put ${q(`/etc/containers/certs.d/${o.registry}/ca.crt`)} whole "$(ca_pem)"`,
        containerd: "containerd_trust",
        none: undefined,
    };
    const mirrorItems: Record<NodeRuntime, (string | undefined)[]> = m ? {
        docker: [`put ${q(`/etc/docker/certs.d/${m.address}/ca.crt`)} whole "$(ca_pem)"`],
        crio: [`put ${q(`/etc/containers/certs.d/${m.address}/ca.crt`)} whole "$(ca_pem)"`, "crio_mirror"],
        containerd: [], // containerd_trust writes the upstream's hosts.toml
        none: [],
    } : { docker: [], crio: [], containerd: [], none: [] };
    const items = [
        runtimeItem[o.runtime],
        ...mirrorItems[o.runtime],
        o.runtime === "docker" && (o.insecureRegistry || m) ? "docker_json" : undefined,
        // the directory depends on the node's layout (Debian, RHEL, SUSE), which the script finds there
        o.systemTrust ? `system_trust ${q(`${o.id}-${o.registry.replace(":", "_")}.crt`)}` : undefined,
        // the runtime decides whether daemon.json is looked at; the system CA store is, on any runtime
        o.cleanRecipe ? `clean_recipe ${q(o.runtime)}` : undefined,
        // Always called: with '' it drops a line an earlier run added.
        `hosts_line ${q(o.hostsAddress === undefined ? "" : `${o.hostsAddress} ${o.hostname} # ${o.id}`)}`,
    ].filter((l): l is string => l !== undefined);
    // The PEM holds only base64 lines between BEGIN/END lines (normalizePem), so it cannot end the quoted here-doc.
    return `#!/usr/bin/env bash
# private-registry node trust for ${o.registry} (generated; usage: bash -s -- create|delete).
# Carries both modes: the provider replays the stored script for delete.
# This node's values; the rest is components/nodes/scripts/${SCRIPT_PARTS.join(", ")}.
ID=${q(o.id)}
REGISTRY=${q(o.registry)}
NODE=${q(o.nodeName ?? "")}
CTD_CONFIG=${q(o.containerdConfigFile)}
# Restart commands run later through bash -c, so a $ left unexpanded here is intended.
# shellcheck disable=SC2016
CTD_RESTART=${q(o.containerdRestartCommand)}
# shellcheck disable=SC2016
RELOAD=${q(o.reloadCommand ?? "true")}
INSECURE=${o.insecureRegistry ? 1 : 0}
HOSTS_COMMENT_OUT=${q(o.hostsCommentOut ? "1" : "0")}
# cleanRecipe: create_items removes the recipe's leftovers; with a line of ours, hosts_line comments out the others.
CLEAN_RECIPE=${q(o.cleanRecipe ? "1" : "0")}
# The pull-through mirror of UPSTREAM, or '' for none.
MIRROR=${q(m?.address ?? "")}
UPSTREAM=${q(m?.upstream ?? "")}
UPSTREAM_URL=${q(m?.upstreamUrl ?? "")}

ca_pem() {
  cat <<'PRIVATE_REGISTRY_CA_PEM'
${pem}
PRIVATE_REGISTRY_CA_PEM
}

# What create ensures (runtime ${o.runtime}); manifest entries that none of these claims are undone.
create_items() {
  ${items.join("\n  ")}
}

${scriptBody()}`;
}

/** The remote command that runs the script given on stdin: `bash -s -- <mode>`, through `sudo -n` unless root. */
export function nodeCommand(mode: "create" | "delete", user: string): string {
    if (mode !== "create" && mode !== "delete") throw new Error(`nodeCommand: mode must be create or delete, got ${JSON.stringify(mode)}`);
    return `${user === "root" ? "" : "sudo -n "}bash -s -- ${mode}`;
}
