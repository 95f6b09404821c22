import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { makePki, Pki } from "../support/pki";
import { unwrap } from "../support/unwrap";

/** One resource the program registered, with the options the engine would act on. */
export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    /** Set for a resource the program reads (`Resource.get`) rather than manages. */
    id?: string;
    opts?: pulumi.CustomResourceOptions;
    /** The arguments as the program passed them (Outputs intact, so secretness can be checked). */
    props?: Record<string, unknown>;
}

export const created: Recorded[] = [];
/** The provider functions the program called, with their arguments. */
export const invoked: { token: string; inputs: Record<string, any> }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
/** Answers to provider functions by token (a test may replace one); any other call fails. */
export const functions: Record<string, (inputs: Record<string, any>) => Record<string, unknown>> = { // eslint-disable-line @typescript-eslint/no-explicit-any
    // PullSecret's namespace check (kubernetes.sh check): every namespace asked about exists; RegistryMigration's
    // check of the old container (migrate.sh check): it can be taken over; RegistryCluster's store check: it answers
    "command:local:run": (inputs) => ({
        stdout: inputs.environment?.BUCKET !== undefined ? "ok" : inputs.environment?.FROM !== undefined ? `ok ${inputs.environment.FROM}: 1 repositories in volume v` :
            String(inputs.environment?.NAMESPACES ?? "").split(" ").filter(Boolean).map((ns) => `present ${ns}`).join("\n"), stderr: "",
    }),
};
const captured = new Map<string, { opts: pulumi.CustomResourceOptions; props: Record<string, unknown> }>();

function digest(s: string): string {
    return crypto.createHash("sha256").update(s).digest("hex");
}

const certs = new Map<string, Pki>();

/** A real certificate per name: node scripts parse the CA they are given. */
export function realPki(name: string): Pki {
    if (!certs.has(name)) certs.set(name, makePki(name.toLowerCase().replace(/[^a-z0-9.-]/g, "-")));
    return certs.get(name)!;
}

function fakePem(label: string, name: string): string {
    return `-----BEGIN ${label}-----\n${Buffer.from(digest(name)).toString("base64")}\n-----END ${label}-----\n`;
}

/** Provider-computed outputs, stable for a given resource name (as state would keep them). */
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
    switch (type) {
        case "tls:index/privateKey:PrivateKey":
            return { privateKeyPem: fakePem("PRIVATE KEY", name), publicKeyPem: fakePem("PUBLIC KEY", name) };
        case "tls:index/selfSignedCert:SelfSignedCert":
            return { certPem: realPki(name).caCertPem, validityEndTime: "2036-01-01T00:00:00Z" };
        case "tls:index/certRequest:CertRequest":
            return { certRequestPem: fakePem("CERTIFICATE REQUEST", JSON.stringify(inputs)) };
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { certPem: realPki(name + inputs.certRequestPem).certPem, validityEndTime: "2027-01-01T00:00:00Z" };
        case "random:index/randomPassword:RandomPassword":
            return { result: `pw${digest(name).slice(0, inputs.length - 2)}` };
        case "random:index/randomBytes:RandomBytes": {
            const bytes = Buffer.from(digest(name), "hex").subarray(0, inputs.length);
            return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
        }
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: `sha256:${digest(inputs.name)}`, repoDigest: `${inputs.name}@sha256:${digest(inputs.name)}` };
        case "docker:index/image:Image":
            return { repoDigest: `${String(inputs.imageName).replace(/:[^:/]+$/, "")}@sha256:${digest(inputs.imageName)}` };
        case "command:local:Command":
            // the old container's htpasswd, for RegistryMigration's logins step
            return inputs.create === "logins" ? { stdout: "admin:$2y$05$recipehashrecipehashrecipehashrecipehashrecipehashrecip", stderr: "" } : { stdout: `${inputs.create} done`, stderr: "" };
        case "command:remote:Command":
            return { stdout: "unchanged: /etc/docker/certs.d\n", stderr: "" };
        default:
            return {};
    }
}

/**
 * Sets mocks that record every resource; `call` fails loudly on anything unexpected. In a preview,
 * provider-computed outputs stay unknown, as the engine leaves them.
 */
export async function setupMocks(preview = false, stack = "test"): Promise<void> {
    await pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs) {
            created.push({ type: args.type, name: args.name, inputs: unwrap(args.inputs), ...(args.id ? { id: args.id } : {}), ...captured.get(args.name) });
            return { id: preview ? "" : `${args.name}-id`, state: preview ? args.inputs : { ...args.inputs, ...computed(args.type, args.name, unwrap(args.inputs)) } };
        },
        call(args: pulumi.runtime.MockCallArgs) {
            const answer = functions[args.token];
            if (!answer) throw new Error(`unexpected provider function call ${args.token}`);
            invoked.push({ token: args.token, inputs: unwrap(args.inputs) });
            return answer(unwrap(args.inputs));
        },
    }, "private-registry", stack, preview, "organization");
    // The mock monitor says it supports resource and error hooks but lacks the calls that register them: they
    // are accepted here (the hooks themselves run only under the engine, which the live suite drives).
    const monitor = pulumi.runtime.getMonitor() as unknown as Record<string, unknown>;
    const accept = (_req: unknown, cb: (err: Error | null, res: unknown) => void) => cb(null, {});
    monitor.registerResourceHook ??= accept;
    monitor.registerErrorHook ??= accept;
}

/** A transformation to pass to a top component: records each child's options and arguments. */
export const captureOptions: pulumi.ResourceTransformation = (a) => {
    captured.set(a.name, { opts: a.opts as pulumi.CustomResourceOptions, props: a.props });
    return undefined;
};

export function reset(): void {
    created.length = 0;
    invoked.length = 0;
}

export function byType(type: string): Recorded[] {
    return created.filter((r) => r.type === type);
}

export function one(type: string, name?: string): Recorded {
    const found = created.filter((r) => r.type === type && (name === undefined || r.name === name));
    if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    return found[0];
}

/** Resolves an Output in a test (undefined when unknown, as in a preview). */
export function valueOf<T>(o: pulumi.Input<T> | undefined): Promise<T> {
    // Output.promise() is internal, but it is the one way to see "unknown" without hanging
    return (pulumi.output(o) as unknown as { promise(): Promise<T> }).promise();
}

/** Whether an Output is secret. */
export function secret<T>(o: pulumi.Input<T>): Promise<boolean> {
    return pulumi.isSecret(pulumi.output(o));
}

/** Waits until every registered resource has been handed to the mocks. */
export async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 50));
}

/** Runs `body` with the unhandled rejections collected, as the language host's handler would see them. */
export async function rejections(body: () => Promise<void>): Promise<unknown[]> {
    const seen: unknown[] = [];
    const others = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    const collect = (e: unknown) => seen.push(e);
    process.on("unhandledRejection", collect);
    try {
        await body();
        await settle();
    } finally {
        process.off("unhandledRejection", collect);
        for (const l of others) process.on("unhandledRejection", l);
    }
    return seen;
}
