import * as bcrypt from "bcryptjs";

/**
 * One htpasswd line, `user:$2y$<cost>$...`, hashed with bcrypt (the only scheme the registry accepts).
 * The salt is given rather than drawn, so the same password, salt and cost always give the same line:
 * the program stores the salt in state (random.RandomBytes) and re-running `up` shows no diff.
 */
export function htpasswdLine(username: string, password: string, cost: number, salt: Buffer): string {
    if (salt.length < 16) throw new Error(`bcrypt salt must be 16 bytes (got ${salt.length})`);
    const prefix = `$2y$${String(cost).padStart(2, "0")}$`;
    return `${username}:${bcrypt.hashSync(password, prefix + bcrypt.encodeBase64(salt.subarray(0, 16), 16))}\n`;
}

/** Checks a password against one htpasswd line (as the registry would). */
export function htpasswdVerify(line: string, username: string, password: string): boolean {
    const [user, hash] = line.trim().split(":", 2);
    return user === username && hash !== undefined && bcrypt.compareSync(password, hash);
}

/**
 * A docker/OCI client auth file for one registry. It carries `auth` (base64 of user:password), which
 * skopeo and containerd read, as well as username/password, which other clients read.
 */
export function dockerConfigJson(registry: string, username: string, password: string): string {
    const auth = Buffer.from(`${username}:${password}`).toString("base64");
    return JSON.stringify({ auths: { [registry]: { username, password, auth } } });
}
