import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { isIp, TlsSettings } from "../config/config";

export interface RegistryCertificateArgs {
    /** The registry's host name or IP: the leaf's common name and first SAN. */
    hostname: string;
    /** Further DNS names for the leaf's SANs. */
    dnsNames: string[];
    /** Further IP addresses for the leaf's SANs. */
    ipAddresses: string[];
    /** Key algorithm, validity, renewal window, rotation counter, or bring-your-own PEMs. */
    tls: TlsSettings;
    /** Common name of the generated CA. */
    caCommonName: string;
}

/**
 * The registry's TLS material: a private CA (key + self-signed CA certificate) and a server leaf signed
 * by it. Nodes trust the CA, so the leaf can be renewed without touching them. With bring-your-own
 * PEMs nothing is generated.
 */
export class RegistryCertificate extends pulumi.ComponentResource {
    /** The CA certificate nodes and clients trust. */
    public readonly caCertPem: pulumi.Output<string>;
    /** The server (leaf) certificate the registry presents. */
    public readonly certPem: pulumi.Output<string>;
    /** The leaf's private key (secret). */
    public readonly privateKeyPem: pulumi.Output<string>;
    /** When the leaf expires (RFC 3339). */
    public readonly expiry: pulumi.Output<string>;

    constructor(name: string, args: RegistryCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryCertificate", name, {}, opts);
        const { hostname, tls: t } = args;
        const sans = [hostname, ...args.dnsNames, ...args.ipAddresses];
        const dnsNames = sans.filter((s) => !isIp(s)).filter((s, i, a) => a.indexOf(s) === i);
        const ipAddresses = sans.filter(isIp).filter((s, i, a) => a.indexOf(s) === i);

        if (t.certificatePem && t.privateKeyPem && t.caCertificatePem) {
            this.caCertPem = pulumi.output(t.caCertificatePem);
            this.certPem = pulumi.output(t.certificatePem);
            this.privateKeyPem = pulumi.secret(t.privateKeyPem);
            this.expiry = pulumi.output(new Date(new crypto.X509Certificate(t.certificatePem).validTo).toISOString());
        } else {
            const keyArgs: tls.PrivateKeyArgs = t.keyAlgorithm === "RSA"
                ? { algorithm: "RSA", rsaBits: t.rsaBits }
                : { algorithm: "ECDSA", ecdsaCurve: t.ecdsaCurve };
            const caKey = new tls.PrivateKey(`${name}-ca-key`, keyArgs, { parent: this });
            const ca = new tls.SelfSignedCert(`${name}-ca`, {
                privateKeyPem: caKey.privateKeyPem,
                // a CA with an empty subject fails at create time
                subject: { commonName: args.caCommonName, organization: "private-registry" },
                isCaCertificate: true,
                validityPeriodHours: t.caValidityHours,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            }, { parent: this });
            // Bumping tls.rotation is what someone does after a key leak: the leaf gets a new key, not only a
            // new certificate (a key resource of another name replaces the old one). Rotation 0 keeps the
            // name stacks have always had. Early renewal (earlyRenewalHours) keeps the key.
            const leafKey = new tls.PrivateKey(t.rotation > 0 ? `${name}-key-r${t.rotation}` : `${name}-key`, keyArgs, { parent: this });
            const csr = new tls.CertRequest(`${name}-csr`, {
                privateKeyPem: leafKey.privateKeyPem,
                subject: {
                    commonName: hostname,
                    organization: "private-registry",
                    // with the new key this changes the request and so replaces the leaf: a renewal path that
                    // does not depend on the provider noticing the early-renewal window
                    ...(t.rotation > 0 ? { serialNumber: `rotation-${t.rotation}` } : {}),
                },
                dnsNames,
                ipAddresses,
            }, { parent: this });
            const leaf = new tls.LocallySignedCert(`${name}-leaf`, {
                certRequestPem: csr.certRequestPem,
                caPrivateKeyPem: caKey.privateKeyPem,
                caCertPem: ca.certPem,
                validityPeriodHours: t.validityHours,
                earlyRenewalHours: t.earlyRenewalHours,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            }, { parent: this });
            this.caCertPem = ca.certPem;
            this.certPem = leaf.certPem;
            this.privateKeyPem = pulumi.secret(leafKey.privateKeyPem);
            this.expiry = leaf.validityEndTime;
        }
        this.registerOutputs({ caCertPem: this.caCertPem, certPem: this.certPem, privateKeyPem: this.privateKeyPem, expiry: this.expiry });
    }
}
