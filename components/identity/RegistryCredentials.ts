import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { dockerConfigJson, htpasswdLine } from "./auth";

export interface RegistryCredentialsArgs {
    /** The registry address clients log in to (`host:port`). */
    registry: string;
    username: string;
    /** A given password; when absent a long random one is generated and kept in state. */
    password?: pulumi.Input<string>;
    /** Length of a generated password. */
    passwordLength: number;
    /** bcrypt cost of the htpasswd hash (the registry pays it on every request). */
    bcryptCost: number;
}

/**
 * The registry's login: username, password (given or generated), a stable bcrypt htpasswd line and the
 * docker `config.json` that the pull secret and the outputs share. Every derived value is a secret.
 */
export class RegistryCredentials extends pulumi.ComponentResource {
    public readonly username: pulumi.Output<string>;
    public readonly password: pulumi.Output<string>;
    /** `user:$2y$...` plus newline, for the registry's htpasswd file. */
    public readonly htpasswd: pulumi.Output<string>;
    /** `{"auths":{"host:port":{"username","password","auth"}}}`. */
    public readonly dockerConfigJson: pulumi.Output<string>;

    constructor(name: string, args: RegistryCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryCredentials", name, {}, opts);
        const password = args.password !== undefined
            ? pulumi.secret(args.password)
            : new random.RandomPassword(`${name}-password`, {
                length: args.passwordLength,
                // alphanumeric only: survives shells, URLs and YAML unquoted; 32 chars are still ~190 bits
                special: false,
                minLower: 1, minUpper: 1, minNumeric: 1,
            }, { parent: this }).result;
        // the salt lives in state, so the hash is the same on every run (RandomPassword.bcryptHash would be cost 10)
        const salt = new random.RandomBytes(`${name}-salt`, { length: 16 }, { parent: this });
        this.username = pulumi.output(args.username);
        this.password = pulumi.secret(password);
        this.htpasswd = pulumi.secret(pulumi.all([password, salt.base64]).apply(([pw, s]) =>
            htpasswdLine(args.username, pw, args.bcryptCost, Buffer.from(s, "base64"))));
        this.dockerConfigJson = pulumi.secret(password.apply((pw) => dockerConfigJson(args.registry, args.username, pw)));
        this.registerOutputs({
            username: this.username, password: this.password, htpasswd: this.htpasswd, dockerConfigJson: this.dockerConfigJson,
        });
    }
}
