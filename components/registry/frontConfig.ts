// Pure helper: the nginx configuration of the registry's front (access.pullOnly). One address serves
// both logins: the front authenticates every request against the login file its method allows (reads:
// pull and push logins; writes and every upload URL: push logins only), then passes it, with the
// client's Authorization header, to one of two registries on the same storage: a reader that runs
// read-only and a writer. Each registry checks the login again against the same split (the reader knows
// both logins, the writer only the push logins), so reaching a registry past the front grants nothing more.
import type { TLS_VERSIONS } from "../config/configSchema";

type TlsVersion = (typeof TLS_VERSIONS)[number];

/** Where the front keeps its files, the same in a container and in a pod. */
export const FRONT_FILES = {
    config: "/etc/private-registry/nginx.conf",
    pullUsers: "/auth/pull.htpasswd",
    pushUsers: "/auth/push.htpasswd",
};
/** The front's own health listener (loopback, plain HTTP): `/reader` and `/writer` answer as the registries' `/`. */
export const FRONT_HEALTH_PORT = 5001;
/** The registries' realm; the front's 401 names the same one. */
export const REALM = "Registry Realm";

export interface FrontConfigOptions {
    /** The port it listens on with TLS. */
    port: number;
    /** `host:port` of the read-only registry and of the writer. */
    reader: string;
    writer: string;
    certFile: string;
    keyFile: string;
    minTlsVersion: TlsVersion;
    /** Changes whenever a registry behind it is replaced (their addresses are resolved once, at start). */
    generation?: string;
}

/** The body of the front's 503 while a registry behind it is down. */
export const UNAVAILABLE = JSON.stringify({ errors: [{ code: "UNAVAILABLE",
    message: "the registry takes no writes right now (a maintenance window, or a restart); retry in a few seconds", detail: {} }] });

const PROTOCOLS: Record<TlsVersion, string> = { "tls1.2": "TLSv1.2 TLSv1.3", "tls1.3": "TLSv1.3" };

/** The whole nginx.conf: no include, no file of the image is read (the official image and a Debian build alike). */
export function frontConfig(o: FrontConfigOptions): string {
    return [
        `# private-registry front${o.generation ? ` (${o.generation})` : ""}`,
        "daemon off;",
        "worker_processes auto;",
        "pid /tmp/nginx.pid;",
        "error_log stderr warn;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log /dev/stdout;",
        "    server_tokens off;",
        "    client_body_temp_path /tmp/client-body;",
        "    proxy_temp_path /tmp/proxy;",
        "    fastcgi_temp_path /tmp/fastcgi;",
        "    uwsgi_temp_path /tmp/uwsgi;",
        "    scgi_temp_path /tmp/scgi;",
        // reads may use either login; anything else (push, delete) only a push login
        "    map $request_method $registry_users { GET " + FRONT_FILES.pullUsers + "; HEAD " + FRONT_FILES.pullUsers + "; default " + FRONT_FILES.pushUsers + "; }",
        "    map $request_method $registry_backend { GET reader; HEAD reader; default writer; }",
        // the front's own 401 carries the header clients look for, as the registry's do
        "    map $upstream_http_docker_distribution_api_version $registry_api_version { '' 'registry/2.0'; }",
        `    upstream reader { server ${o.reader}; keepalive 16; }`,
        `    upstream writer { server ${o.writer}; keepalive 16; }`,
        "    proxy_http_version 1.1;",
        "    proxy_set_header Connection \"\";",
        "    proxy_set_header Host $http_host;",
        "    proxy_set_header X-Forwarded-Proto https;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_ssl_session_reuse on;",
        // the registries take what clients may use (nginx before 1.23.4 offers no TLS 1.3 upstream by default)
        `    proxy_ssl_protocols ${PROTOCOLS[o.minTlsVersion]};`,
        // the registries serve the same certificate on a network only the front and they share
        "    proxy_ssl_verify off;",
        // streamed both ways, in large buffers (few system calls per MiB) and never through a temporary file
        "    proxy_request_buffering off;",
        "    client_body_buffer_size 1m;",
        "    proxy_buffering on;",
        "    proxy_max_temp_file_size 0;",
        "    proxy_buffer_size 64k;",
        "    proxy_buffers 32 64k;",
        "    proxy_busy_buffers_size 256k;",
        "    proxy_read_timeout 900s;",
        "    proxy_send_timeout 900s;",
        "    server {",
        `        listen ${o.port} ssl;`,
        `        ssl_certificate ${o.certFile};`,
        `        ssl_certificate_key ${o.keyFile};`,
        `        ssl_protocols ${PROTOCOLS[o.minTlsVersion]};`,
        "        ssl_session_cache shared:TLS:4m;",
        "        client_max_body_size 0;",
        "        chunked_transfer_encoding on;",
        // as the registry itself: GET / answers without a login (readiness follows the reader)
        "        location = / {",
        "            proxy_pass https://reader;",
        "        }",
        // an upload is the writer's, whatever the method (its status too)
        "        location ~ ^/v2/.+/blobs/uploads/ {",
        `            auth_basic "${REALM}";`,
        `            auth_basic_user_file ${FRONT_FILES.pushUsers};`,
        "            add_header Docker-Distribution-Api-Version $registry_api_version always;",
        "            proxy_pass https://writer;",
        "            error_page 502 504 = @unavailable;",
        "        }",
        "        location /v2/ {",
        `            auth_basic "${REALM}";`,
        "            auth_basic_user_file $registry_users;",
        "            add_header Docker-Distribution-Api-Version $registry_api_version always;",
        "            proxy_pass https://$registry_backend;",
        "            error_page 502 504 = @unavailable;",
        "        }",
        "        location / { return 404; }",
        // a registry that is not there (the writer stopped for a maintenance window, or restarting): a
        // 503 clients retry, with the reason, instead of nginx's bare 502 page
        "        location @unavailable {",
        "            default_type application/json;",
        "            add_header Retry-After 10 always;",
        "            add_header Docker-Distribution-Api-Version registry/2.0 always;",
        `            return 503 '${UNAVAILABLE}';`,
        "        }",
        "    }",
        "    server {",
        `        listen 127.0.0.1:${FRONT_HEALTH_PORT};`,
        "        access_log off;",
        "        location = /reader { proxy_pass https://reader/; }",
        "        location = /writer { proxy_pass https://writer/; }",
        "    }",
        "}",
        "",
    ].join("\n");
}

/** The front container's health check: both registries answer through it. */
export const FRONT_HEALTHCHECK = [
    "CMD-SHELL",
    `wget -q -O /dev/null http://127.0.0.1:${FRONT_HEALTH_PORT}/reader && wget -q -O /dev/null http://127.0.0.1:${FRONT_HEALTH_PORT}/writer`,
];

/** The reader's and the writer's storage maintenance (the whole map: distribution ignores the leaf form). */
export const MAINTENANCE = {
    /** Read-only: no write handler, no background purge. */
    reader: "{readonly: {enabled: true}, uploadpurging: {enabled: false}}",
    /** Uploads abandoned for a week are purged daily, set here so every image line does the same. */
    writer: "{readonly: {enabled: false}, uploadpurging: {enabled: true, age: 168h, interval: 24h, dryrun: false}}",
};
