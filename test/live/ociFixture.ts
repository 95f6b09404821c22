// OCI image layouts written byte by byte, for pushes with `skopeo copy --all oci:<dir>:<ref>`: images
// whose layers are shared or unique on purpose, indexes whose children are shared, attachments. Layer
// bytes are random per run, so nothing a test pushes was ever in the registry before.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

export interface Blob { digest: string; size: number; mediaType: string }

export class OciLayout {
    private readonly refs: { digest: string; size: number; mediaType: string; ref: string }[] = [];

    constructor(readonly dir: string) {
        fs.mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
        fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    }

    private put(data: Buffer, mediaType: string): Blob {
        const hex = crypto.createHash("sha256").update(data).digest("hex");
        fs.writeFileSync(path.join(this.dir, "blobs", "sha256", hex), data);
        return { digest: `sha256:${hex}`, size: data.length, mediaType };
    }

    private readonly diffIds = new Map<string, string>();

    /**
     * A gzip layer of `size` random bytes (the registry never looks inside; compressed already, so skopeo
     * pushes it as it is and every digest here is the registry's).
     */
    layer(size = 4096): Blob {
        const raw = Buffer.concat([Buffer.from("layer:"), crypto.randomBytes(size)]);
        const b = this.put(zlib.gzipSync(raw), "application/vnd.oci.image.layer.v1.tar+gzip");
        this.diffIds.set(b.digest, `sha256:${crypto.createHash("sha256").update(raw).digest("hex")}`);
        return b;
    }

    /** An image manifest over `layers`, with a config naming `label` (so equal layers still differ). */
    image(label: string, layers: Blob[], arch = "amd64"): Blob {
        const config = this.put(Buffer.from(JSON.stringify({ architecture: arch, os: "linux", config: { Labels: { fixture: label } },
            rootfs: { type: "layers", diff_ids: layers.map((l) => this.diffIds.get(l.digest)) } })), "application/vnd.oci.image.config.v1+json");
        return this.put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
            layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })) })), "application/vnd.oci.image.manifest.v1+json");
    }

    /** An index of `children`, each with its platform. */
    index(children: { manifest: Blob; arch: string }[]): Blob {
        return this.put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: children.map((c) => ({ mediaType: c.manifest.mediaType, digest: c.manifest.digest, size: c.manifest.size,
                platform: { architecture: c.arch, os: "linux" } })) })), "application/vnd.oci.image.index.v1+json");
    }

    /** Names `top` in index.json as `ref`; returns the skopeo source. */
    ref(ref: string, top: Blob): string {
        this.refs.push({ ...top, ref });
        fs.writeFileSync(path.join(this.dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: this.refs.map((r) => ({
            mediaType: r.mediaType, digest: r.digest, size: r.size, annotations: { "org.opencontainers.image.ref.name": r.ref } })) }));
        return `oci:${this.dir}:${ref}`;
    }

    /** Every blob a manifest reaches (itself, configs, layers, children), with sizes. */
    closure(top: Blob): Map<string, number> {
        const out = new Map<string, number>([[top.digest, top.size]]);
        const m = JSON.parse(fs.readFileSync(path.join(this.dir, "blobs", "sha256", top.digest.slice(7)), "utf8"));
        for (const b of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) out.set(b.digest, b.size);
        for (const c of m.manifests ?? []) for (const [d, s] of this.closure(c)) out.set(d, s);
        return out;
    }
}
