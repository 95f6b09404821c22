import * as crypto from "crypto";
import * as forge from "node-forge";

export interface Pki {
    caCertPem: string;
    caKeyPem: string;
    certPem: string;
    keyPem: string;
}

/** RSA keys from node's crypto (forge's pure-JS generation takes seconds). */
function rsaPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
    const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const key = forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey;
    return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function serial(): string {
    return forge.util.bytesToHex(forge.random.getBytesSync(8)).replace(/^[89a-f]/, "1");
}

/** A CA and a server leaf for the given SANs, made with node-forge (for bring-your-own tests). */
export function makePki(hostname: string, opts: { dns?: string[]; ips?: string[]; days?: number; caIsCa?: boolean } = {}): Pki {
    const caKeys = rsaPair();
    const ca = forge.pki.createCertificate();
    ca.publicKey = caKeys.publicKey;
    ca.serialNumber = serial();
    ca.validity.notBefore = new Date(Date.now() - 3600_000);
    ca.validity.notAfter = new Date(Date.now() + 3650 * 86400_000);
    ca.setSubject([{ name: "commonName", value: "Test CA" }]);
    ca.setIssuer([{ name: "commonName", value: "Test CA" }]);
    ca.setExtensions([{ name: "basicConstraints", cA: opts.caIsCa ?? true, critical: true }, { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true }]);
    ca.sign(caKeys.privateKey, forge.md.sha256.create());

    const keys = rsaPair();
    const leaf = forge.pki.createCertificate();
    leaf.publicKey = keys.publicKey;
    leaf.serialNumber = serial();
    leaf.validity.notBefore = new Date(Date.now() - 3600_000);
    leaf.validity.notAfter = new Date(Date.now() + (opts.days ?? 365) * 86400_000);
    leaf.setSubject([{ name: "commonName", value: hostname }]);
    leaf.setIssuer(ca.subject.attributes);
    const altNames = [
        ...[hostname, ...(opts.dns ?? [])].filter((n) => !/^[0-9.]+$/.test(n)).map((value) => ({ type: 2, value })),
        ...[...(opts.ips ?? []), ...(/^[0-9.]+$/.test(hostname) ? [hostname] : [])].map((ip) => ({ type: 7, ip })),
    ];
    leaf.setExtensions([{ name: "basicConstraints", cA: false }, { name: "extKeyUsage", serverAuth: true }, { name: "subjectAltName", altNames }]);
    leaf.sign(caKeys.privateKey, forge.md.sha256.create());
    return {
        caCertPem: forge.pki.certificateToPem(ca),
        caKeyPem: forge.pki.privateKeyToPem(caKeys.privateKey),
        certPem: forge.pki.certificateToPem(leaf),
        keyPem: forge.pki.privateKeyToPem(keys.privateKey),
    };
}
