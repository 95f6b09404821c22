// @ts-check
// The runner's private registry instances: `registry serve` children on the runner's own loopback (no
// port leaves its network namespace, so no login and no TLS), one that deletes for the plan and one that
// only reads for the verification; and `registry garbage-collect`.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { ROOT } from "./store.mjs";

const ADDR = process.env.MAINT_ADDR ?? "127.0.0.1:5055";
const BIN = process.env.MAINT_REGISTRY ?? "registry";
const CONFIG = "/tmp/maint-registry.yml";
const ACCEPT = [
    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
].join(", ");

/**
 * The configuration of a private instance (and of GC, which reads only `storage`), and the environment
 * it runs with: on S3 (cluster mode) the store comes from the REGISTRY_STORAGE_* variables the runner
 * has, which replace the whole storage map, so what the file says of storage is said again there.
 */
function childEnv(mode) {
    const maintenance = `{uploadpurging: {enabled: false}, readonly: {enabled: ${mode !== "delete"}}}`;
    return { ...process.env, OTEL_TRACES_EXPORTER: "none", REGISTRY_STORAGE_DELETE_ENABLED: String(mode === "delete"),
        REGISTRY_STORAGE_MAINTENANCE: maintenance, REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR: "none", REGISTRY_HTTP_ADDR: ADDR };
}
function writeConfig(mode) {
    fs.writeFileSync(CONFIG, [
        "version: 0.1",
        "log: {level: warn}",
        "storage:",
        `  filesystem: {rootdirectory: ${ROOT}}`,
        `  delete: {enabled: ${mode === "delete"}}`,
        `  maintenance: {uploadpurging: {enabled: false}, readonly: {enabled: ${mode !== "delete"}}}`,
        `http: {addr: "${ADDR}", secret: ${crypto.randomBytes(16).toString("hex")}}`,
        "",
    ].join("\n"));
}

/** Runs `registry <args>`, resolving with its exit code and output. */
export function registry(args, mode = "read") {
    return new Promise((resolve) => {
        const p = spawn(BIN, args, { env: childEnv(mode) });
        let out = "";
        p.stdout.on("data", (b) => { out += b; });
        p.stderr.on("data", (b) => { out += b; });
        p.on("close", (code) => resolve({ code: code ?? 1, out }));
        p.on("error", (e) => resolve({ code: 1, out: String(e) }));
    });
}

/** The line of the registry binary: 3 untags by tag, 2 cannot. */
export async function majorVersion() {
    const r = await registry(["--version"]);
    const m = /\bv?(\d+)\.\d+/.exec(r.out.replace(/^\S+\s+\S+\s+/, ""));
    return m ? Number(m[1]) : 2;
}

/** `registry garbage-collect [--dry-run]`, never `--delete-untagged`. */
export async function garbageCollect(dryRun) {
    writeConfig("read");
    return registry(["garbage-collect", ...(dryRun ? ["--dry-run"] : []), CONFIG]);
}

/**
 * Starts a private instance and waits until it answers.
 * @param {"delete" | "read"} mode
 */
export async function startInstance(mode) {
    writeConfig(mode);
    const p = spawn(BIN, ["serve", CONFIG], { env: childEnv(mode), stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    p.stderr?.on("data", (b) => { log = (log + b).slice(-4000); });
    for (let i = 0; i < 100; i++) {
        if (p.exitCode !== null) throw new Error(`the private registry exited: ${log}`);
        try { if ((await fetch(`http://${ADDR}/v2/`)).status === 200) break; } catch { /* not yet */ }
        await new Promise((r) => setTimeout(r, 100));
        if (i === 99) { p.kill(); throw new Error(`the private registry did not answer: ${log}`); }
    }
    return {
        stop: () => new Promise((resolve) => { if (p.exitCode !== null) return resolve(undefined); p.on("close", () => resolve(undefined)); p.kill("SIGTERM"); }),
    };
}

async function api(method, pathname, accept = ACCEPT) {
    const r = await fetch(`http://${ADDR}${pathname}`, { method, headers: { Accept: accept } });
    const body = method === "HEAD" ? "" : await r.text();
    return { status: r.status, headers: r.headers, body };
}

/** Every repository of the catalog, then every tag of `repo`, following `Link`. */
async function paged(first, key) {
    const out = [];
    for (let next = first; next;) {
        const r = await api("GET", next);
        if (r.status === 404) return out;
        if (r.status !== 200) throw new Error(`GET ${next}: ${r.status} ${r.body}`);
        out.push(...(JSON.parse(r.body)[key] ?? []));
        const link = /<([^>]+)>/.exec(r.headers.get("link") ?? "");
        next = link ? link[1] : "";
    }
    return out;
}
export const catalog = () => paged("/v2/_catalog?n=1000", "repositories");
export const tags = (repo) => paged(`/v2/${repo}/tags/list?n=1000`, "tags");

/**
 * A manifest by tag or digest: its digest, media type, the manifests it lists and the blobs it references.
 * @returns {Promise<{ digest: string, mediaType: string, children: string[], blobs: { digest: string, size: number }[] } | undefined>}
 */
export async function manifest(repo, ref) {
    const r = await api("GET", `/v2/${repo}/manifests/${ref}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${repo} manifest ${ref}: ${r.status} ${r.body}`);
    const m = JSON.parse(r.body);
    const digest = r.headers.get("docker-content-digest") ?? `sha256:${crypto.createHash("sha256").update(r.body).digest("hex")}`;
    const mediaType = m.mediaType ?? r.headers.get("content-type") ?? "";
    const blobs = [...(m.config ? [m.config] : []), ...(m.layers ?? []), ...(m.fsLayers ?? []).map((l) => ({ digest: l.blobSum, size: -1 }))]
        .map((b) => ({ digest: b.digest, size: b.size ?? -1 }));
    return { digest, mediaType, children: (m.manifests ?? []).map((c) => c.digest), blobs };
}

/** DELETE a manifest by digest (it and every tag on it) or, on distribution 3, one tag. */
export async function remove(repo, ref) {
    const r = await api("DELETE", `/v2/${repo}/manifests/${ref}`);
    if (r.status !== 202 && r.status !== 404) throw new Error(`DELETE ${repo} manifest ${ref}: ${r.status} ${r.body}`);
}

/** HEAD of a blob through `repo`: its size, or undefined when the repository cannot serve it. */
export async function blobHead(repo, digest) {
    const r = await api("HEAD", `/v2/${repo}/blobs/${digest}`, "*/*");
    return r.status === 200 ? Number(r.headers.get("content-length")) : undefined;
}
export const manifestStatus = async (repo, ref) => (await api("HEAD", `/v2/${repo}/manifests/${ref}`)).status;
