// @ts-check
// Just enough S3 for the runner in cluster mode, dependency-free: ListObjectsV2 (keys, sizes, times),
// GET and DELETE of one object, signed with AWS Signature V4. The store's settings come from the same
// REGISTRY_STORAGE_S3_* variables the registry pods read (their string values YAML-quoted).
import * as crypto from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";

/** @typedef {{ bucket: string, endpoint: URL, region: string, root: string, accessKey: string, secretKey: string, pathStyle: boolean, ca?: string }} S3 */

const unquote = (/** @type {string | undefined} */ v) => v === undefined ? undefined : v.startsWith("\"") ? JSON.parse(v) : v;

/** The store the registry uses, or undefined when it is not S3. @returns {S3 | undefined} */
export function s3FromEnv(env = process.env) {
    if (env.REGISTRY_STORAGE !== "s3") return undefined;
    const region = unquote(env.REGISTRY_STORAGE_S3_REGION) ?? "us-east-1";
    const custom = unquote(env.REGISTRY_STORAGE_S3_REGIONENDPOINT);
    return {
        bucket: /** @type {string} */ (unquote(env.REGISTRY_STORAGE_S3_BUCKET)),
        endpoint: new URL(custom ?? `https://s3.${region}.amazonaws.com`),
        region,
        root: (unquote(env.REGISTRY_STORAGE_S3_ROOTDIRECTORY) ?? "").replace(/^\/+|\/+$/g, ""),
        accessKey: unquote(env.REGISTRY_STORAGE_S3_ACCESSKEY) ?? env.AWS_ACCESS_KEY_ID ?? "",
        secretKey: unquote(env.REGISTRY_STORAGE_S3_SECRETKEY) ?? env.AWS_SECRET_ACCESS_KEY ?? "",
        pathStyle: custom !== undefined,
    };
}

/** The object key of a registry path (`/docker/registry/v2/...`), as distribution's S3 driver names it. */
export const keyOf = (/** @type {S3} */ s, /** @type {string} */ p) => `${s.root ? `${s.root}/` : ""}${p.replace(/^\/+/, "")}`;

const hmac = (/** @type {crypto.BinaryLike} */ k, /** @type {string} */ d) => crypto.createHmac("sha256", k).update(d).digest();
const hash = (/** @type {string} */ d) => crypto.createHash("sha256").update(d).digest("hex");
const enc = (/** @type {string} */ v) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * One signed request; resolves with the status and body.
 * @param {S3} s
 * @param {string} method
 * @param {string} key object key, "" for the bucket
 * @param {Record<string, string>} query
 * @returns {Promise<{ status: number, body: string }>}
 */
export function request(s, method, key, query = {}) {
    const host = s.pathStyle ? s.endpoint.host : `${s.bucket}.${s.endpoint.host}`;
    const pathname = `${s.pathStyle ? `/${s.bucket}` : ""}/${key.split("/").map(enc).join("/")}`;
    const qs = Object.keys(query).sort().map((k) => `${enc(k)}=${enc(query[k])}`).join("&");
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, "");
    const day = amzDate.slice(0, 8);
    const payload = hash("");
    const headers = { host, "x-amz-content-sha256": payload, "x-amz-date": amzDate };
    const signed = Object.keys(headers).sort().join(";");
    /** @type {Record<string, string>} */
    const h = headers;
    const headerLines = Object.keys(h).sort().map((k) => `${k}:${h[k]}\n`).join("");
    const canonical = `${method}\n${pathname}\n${qs}\n${headerLines}\n${signed}\n${payload}`;
    const scope = `${day}/${s.region}/s3/aws4_request`;
    const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, hash(canonical)].join("\n");
    const kSign = hmac(hmac(hmac(hmac(`AWS4${s.secretKey}`, day), s.region), "s3"), "aws4_request");
    const auth = `AWS4-HMAC-SHA256 Credential=${s.accessKey}/${scope}, SignedHeaders=${signed}, Signature=${crypto.createHmac("sha256", kSign).update(toSign).digest("hex")}`;
    const mod = s.endpoint.protocol === "http:" ? http : https;
    return new Promise((resolve, reject) => {
        const req = mod.request({ host: s.endpoint.hostname, port: s.endpoint.port || undefined, method, path: `${pathname}${qs ? `?${qs}` : ""}`,
            headers: { ...headers, authorization: auth }, timeout: 30_000, ...(s.ca ? { ca: s.ca } : {}) }, (res) => {
            let body = "";
            res.on("data", (d) => { body += d; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error(`S3 ${method} ${key}: timeout`)));
        req.end();
    });
}

const tag = (/** @type {string} */ xml, /** @type {string} */ name) => [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1]);
const unxml = (/** @type {string} */ v) => v.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&apos;/g, "'").replace(/&amp;/g, "&");

/**
 * Every object under `prefix` (a key prefix), with its size and last-modified time (ms).
 * @param {S3} s
 * @param {string} prefix
 * @returns {Promise<{ key: string, size: number, lastModified: number }[]>}
 */
export async function list(s, prefix) {
    const out = [];
    for (let token = ""; ;) {
        const r = await request(s, "GET", "", { "list-type": "2", prefix, ...(token ? { "continuation-token": token } : {}) });
        if (r.status !== 200) throw new Error(`S3 list ${prefix}: ${r.status} ${r.body.slice(0, 500)}`);
        for (const c of tag(r.body, "Contents")) {
            out.push({ key: unxml(tag(c, "Key")[0]), size: Number(tag(c, "Size")[0]), lastModified: Date.parse(tag(c, "LastModified")[0]) });
        }
        if (tag(r.body, "IsTruncated")[0] !== "true") return out;
        token = unxml(tag(r.body, "NextContinuationToken")[0]);
    }
}

/** An object's text, or undefined when there is none. @param {S3} s @param {string} key */
export async function getText(s, key) {
    const r = await request(s, "GET", key);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`S3 get ${key}: ${r.status} ${r.body.slice(0, 500)}`);
    return r.body;
}

/** Deletes one object. @param {S3} s @param {string} key */
export async function remove(s, key) {
    const r = await request(s, "DELETE", key);
    if (r.status !== 204 && r.status !== 200 && r.status !== 404) throw new Error(`S3 delete ${key}: ${r.status} ${r.body.slice(0, 500)}`);
}
