// A stack file as the live suite runs it: the file's own settings, plus what only the suite knows
// (its nodes, its dockerd, its locally built registry image and the host address the nodes reach).
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { isIpv4 } from "../../components/config/config";
import { SCHEMA } from "../../components/config/configSchema";
import { LiveEnv, registryImageFor } from "./support";

/* eslint-disable @typescript-eslint/no-explicit-any */
const ROOT = path.resolve(__dirname, "../..");
const PREFIX = "private-registry:";

export interface StackFile {
    /** Plain settings, keys without the project prefix. */
    plain: Record<string, any>;
    /** Settings the file gives as `secure:` values, which the suite cannot decrypt, by key. */
    secureKeys: string[];
}

export function readStackFile(file: string): StackFile {
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined;
    const plain: Record<string, any> = {};
    const secureKeys: string[] = [];
    for (const [k, v] of Object.entries(doc?.config ?? {})) {
        if (!k.startsWith(PREFIX)) continue;
        const key = k.slice(PREFIX.length);
        if (v && typeof v === "object" && "secure" in (v as object)) secureKeys.push(key);
        else plain[key] = v;
    }
    return { plain, secureKeys };
}

const asList = (v: unknown): string[] =>
    v === undefined ? [] : Array.isArray(v) ? v.map(String) : String(v).split(",").map((s) => s.trim()).filter(Boolean);

export interface LiveStack {
    /** Plain config, project keys without the prefix. */
    config: Record<string, any>;
    /** Secret config by path (`password`, `kubernetes.kubeconfig`): set with `pulumi config set --secret`. */
    secrets: Record<string, string>;
    hostname: string;
    port: number;
    registry: string;
    user: string;
    minTls: string;
    /** Whether the nodes get an /etc/hosts line (a DNS hostname). */
    hostsLines: boolean;
    /** Two logins (access.pullOnly, the default): `user` pushes, the pull login only reads. */
    pullOnly: boolean;
}

/**
 * The stack the suite deploys from a stack file. The suite's dockerd, image and nodes are always its
 * own; the registry is published on the host address the nodes reach and on loopback (which the
 * image builder pushes to) instead of what the file binds; where the file sets no data location
 * the suite names the volume, so that its checks find it.
 */
export function liveStack(file: string, env: LiveEnv, opts: { bindAddresses?: string[]; nodes?: string[] } = {}): LiveStack {
    const { plain, secureKeys } = readStackFile(file);
    if (secureKeys.length) {
        throw new Error(`${file}: the suite cannot decrypt its secure values (${secureKeys.join(", ")}); give them in plain text in a stack file for tests`);
    }
    const cfg: Record<string, any> = { ...plain };
    const hostname: string = cfg.hostname ?? "127.0.0.1";
    const port = Number(cfg.port ?? 5000);
    const secrets: Record<string, string> = {};
    if (typeof cfg.password === "string") {
        secrets.password = cfg.password;
        delete cfg.password;
    }
    cfg.bindAddress = opts.bindAddresses ?? [env.hostAddress, "127.0.0.1"];
    if (!isIpv4(hostname)) cfg.ipAddresses = [...new Set([...asList(cfg.ipAddresses), env.hostAddress])];
    cfg.dockerHost = env.dockerHost;
    // the file's registry line (the program's default unless it pins one), built locally
    cfg.image = registryImageFor(env, cfg.image ?? SCHEMA.image.default);
    if (cfg.dataHostPath === undefined) cfg.dataVolume = cfg.dataVolume ?? "live-registry-data";
    cfg.containerName = cfg.containerName ?? "live-registry";
    // the front's nginx, built locally like the registry
    cfg.access = { ...(cfg.access ?? {}), frontImage: env.frontImage };
    cfg.services = (cfg.services ?? []).map((s: any) => ({ ...s, context: path.resolve(ROOT, s.context) }));
    const hostsLines = !isIpv4(hostname);
    const wanted = opts.nodes ?? ["a", "b", "c", "d", "ctd2"];
    cfg.nodes = env.nodes.filter((n) => wanted.includes(n.name)).map((n) => ({
        name: n.name, host: n.host, port: n.port, user: n.user, runtime: n.runtime, privateKeyPath: env.sshKeyPath, hostKey: n.hostKey,
        ...(hostsLines ? { hostsAddress: env.hostAddress } : {}),
        ...(n.containerdRestartCommand ? { containerdRestartCommand: n.containerdRestartCommand } : {}),
        ...(n.reloadCommand ? { mirrorReloadCommand: n.reloadCommand } : {}),
        // one node also gets the system store, to prove that opt-in; the others trust through the scoped files alone
        ...(n.name === "d" ? { systemTrust: true } : {}),
        perDialTimeout: 5, dialErrorLimit: 2,
    }));
    // the pull-through mirror, of the suite's stand-in for Docker Hub (the file may set its port), with its
    // login; registry 2.8's proxy logs in only behind a token realm, so on that line the anonymous one
    if (cfg.image === env.registryImages["2"]) {
        cfg.mirror = { ...(cfg.mirror ?? {}), remoteUrl: env.upstream.anonymousUrl };
    } else {
        cfg.mirror = { ...(cfg.mirror ?? {}), remoteUrl: env.upstream.url, username: env.upstream.username };
        secrets["mirror.password"] = fs.readFileSync(env.upstream.passwordFile, "utf8");
    }
    const kubeconfig = process.env.LIVE_KUBECONFIG;
    if (kubeconfig) {
        // the cluster of test/live/env/k8s-up.sh, its kubeconfig given as content, as a secret
        cfg.kubernetes = { namespaces: ["default", "apps"], createNamespaces: true, patchDefaultServiceAccount: true, publishHostingConfigMap: true };
        secrets["kubernetes.kubeconfig"] = fs.readFileSync(kubeconfig, "utf8");
    } else if (process.env.CI === "true") {
        throw new Error("LIVE_KUBECONFIG is not set: the live suite needs the cluster of test/live/env/k8s-up.sh (run it through test/live/run.sh)");
    }
    return {
        config: cfg, secrets, hostname, port, registry: `${hostname}:${port}`, user: cfg.username ?? "admin",
        minTls: cfg.tls?.minVersion ?? "tls1.2", hostsLines, pullOnly: cfg.access.pullOnly !== false,
    };
}
