// Pure helper: the registry pods' environment in cluster mode (distribution configured by REGISTRY_*
// variables alone), with the traps of that configuration handled:
// - REGISTRY_STORAGE=s3 replaces the image's whole storage map (its filesystem driver and cache with it),
//   so the cache is set again; without it the image's filesystem plus s3 is "multiple storage drivers".
// - Each storage parameter's value is read as YAML: every S3 string goes quoted, so a digits-only access
//   key stays a string (unquoted, 0123 would be the number 83). The two flags the registry reads as YAML
//   booleans (delete, redirect) stay unquoted.
// - Maintenance goes as the whole map: the leaf form (…_MAINTENANCE_READONLY_ENABLED) panics or is ignored.
import type { TLS_VERSIONS } from "../config/configSchema";
import { MAINTENANCE } from "../registry/frontConfig";

type TlsVersion = (typeof TLS_VERSIONS)[number];

export const CLUSTER_PORT = 5000;
export const CERT_DIR = "/certs";
export const AUTH_DIR = "/auth";
export const S3_CA_DIR = "/etc/distribution/s3-ca";

/** The Secret keys the pods read by reference. */
export const SECRET_KEYS = { htpasswd: "htpasswd", pushHtpasswd: "push-htpasswd", httpSecret: "http-secret", accessKey: "s3-access-key", secretKey: "s3-secret-key" };

export interface ClusterEnvOptions {
    /** The Secret holding SECRET_KEYS. */
    secretName: string;
    minTlsVersion: TlsVersion;
    logLevel: string;
    drainSeconds: number;
    s3: { bucket: string; endpoint?: string; region: string; rootDirectory: string; redirect: boolean; keys: boolean; ca: boolean };
    /** Maintenance mode: the registry refuses writes. */
    readOnly?: boolean;
    /** No blob descriptor cache (a reader that must never claim a swept blob exists). */
    noCache?: boolean;
    /** Where it listens (default: every address, CLUSTER_PORT) and its debug listener (default 127.0.0.1:5001). */
    addr?: string;
    debugAddr?: string;
    extraEnv?: Record<string, string>;
}

export interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef: { name: string; key: string } };
}

/** A value the registry parses as YAML, kept a string. */
export const yamlString = (v: string): string => JSON.stringify(v);

/** Every REGISTRY_* name the program sets (extraEnv may not touch them, nor anything under them). */
export const CLUSTER_ENV_KEYS = [
    "REGISTRY_AUTH", "REGISTRY_HTTP_ADDR", "REGISTRY_HTTP_TLS", "REGISTRY_HTTP_DRAINTIMEOUT", "REGISTRY_HTTP_DEBUG", "REGISTRY_HTTP_SECRET",
    "REGISTRY_LOG_LEVEL", "REGISTRY_HEALTH_STORAGEDRIVER", "REGISTRY_STORAGE",
];

export function clusterEnv(o: ClusterEnvOptions): EnvVar[] {
    const fromSecret = (name: string, key: string): EnvVar => ({ name, valueFrom: { secretKeyRef: { name: o.secretName, key } } });
    const plain = (pairs: [string, string][]): EnvVar[] => pairs.map(([name, value]) => ({ name, value }));
    const secure = o.s3.endpoint === undefined || o.s3.endpoint.startsWith("https://");
    return [
        ...plain([
            ["REGISTRY_AUTH", "htpasswd"], ["REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"], ["REGISTRY_AUTH_HTPASSWD_PATH", `${AUTH_DIR}/htpasswd`],
            ["REGISTRY_HTTP_ADDR", o.addr ?? `0.0.0.0:${CLUSTER_PORT}`],
            ["REGISTRY_HTTP_TLS_CERTIFICATE", `${CERT_DIR}/tls.crt`], ["REGISTRY_HTTP_TLS_KEY", `${CERT_DIR}/tls.key`],
            ["REGISTRY_HTTP_TLS_MINIMUMTLS", o.minTlsVersion],
            ["REGISTRY_HTTP_DRAINTIMEOUT", `${o.drainSeconds}s`],
            ["REGISTRY_HTTP_DEBUG_ADDR", o.debugAddr ?? "127.0.0.1:5001"],
            ["REGISTRY_LOG_LEVEL", o.logLevel],
            ["OTEL_TRACES_EXPORTER", "none"],
            // readiness follows the store: a failed Stat of the root turns / into 503 within 10 s
            ["REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", "true"], ["REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL", "5s"], ["REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", "2"],
            ["REGISTRY_STORAGE", "s3"],
            // an unknown type turns the cache off
            ["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR", o.noCache ? "none" : "inmemory"],
            ["REGISTRY_STORAGE_DELETE_ENABLED", "false"],
            ["REGISTRY_STORAGE_MAINTENANCE", o.readOnly ? MAINTENANCE.reader : MAINTENANCE.writer],
            ["REGISTRY_STORAGE_REDIRECT_DISABLE", o.s3.redirect ? "false" : "true"],
            ["REGISTRY_STORAGE_S3_REGION", yamlString(o.s3.region)],
            ...(o.s3.endpoint !== undefined ? [
                ["REGISTRY_STORAGE_S3_REGIONENDPOINT", yamlString(o.s3.endpoint.replace(/\/$/, ""))],
                ["REGISTRY_STORAGE_S3_FORCEPATHSTYLE", yamlString("true")],
            ] as [string, string][] : []),
            ["REGISTRY_STORAGE_S3_SECURE", yamlString(String(secure))],
            ["REGISTRY_STORAGE_S3_SKIPVERIFY", yamlString("false")],
            ["REGISTRY_STORAGE_S3_V4AUTH", yamlString("true")],
            ["REGISTRY_STORAGE_S3_BUCKET", yamlString(o.s3.bucket)],
            ["REGISTRY_STORAGE_S3_ROOTDIRECTORY", yamlString(o.s3.rootDirectory)],
            // Go reads every file of each listed directory: the system bundle and the store's CA
            ...(o.s3.ca ? [["SSL_CERT_DIR", `/etc/ssl/certs:${S3_CA_DIR}`]] as [string, string][] : []),
        ]),
        fromSecret("REGISTRY_HTTP_SECRET", SECRET_KEYS.httpSecret),
        ...(o.s3.keys ? [fromSecret("REGISTRY_STORAGE_S3_ACCESSKEY", SECRET_KEYS.accessKey), fromSecret("REGISTRY_STORAGE_S3_SECRETKEY", SECRET_KEYS.secretKey)] : []),
        ...plain(Object.entries(o.extraEnv ?? {}).sort(([a], [b]) => a.localeCompare(b))),
    ];
}
