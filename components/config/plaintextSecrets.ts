// Secret keys set without --secret: the program keeps them secret in state, but the stack file, usually
// committed, holds them in clear. Found here so the program can warn (or, under CI, refuse).
import * as pulumi from "@pulumi/pulumi";
import { SCHEMA } from "./configSchema";
import { Keys, PROJECT } from "./configSpec";

/** Whether the engine holds a config key encrypted (set with --secret); the SDK marks this internal. */
export function isConfigSecret(fullKey: string): boolean {
    const rt = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    return rt.isConfigSecret?.(fullKey) ?? false;
}

/**
 * The secret keys (by path) whose values the stack holds in plain text: the program keeps them secret in
 * state, but the stack file, usually committed, has them in clear. `isSecret` answers for a top-level
 * key; a list or object holding a secret is encrypted whole or not at all by `--path --secret`.
 */
export function plaintextSecrets(raw: Record<string, unknown>, isSecret: (fullKey: string) => boolean): string[] {
    const found: string[] = [];
    const walk = (keys: Keys, v: unknown, at: string): void => {
        if (v === undefined || v === null) return;
        for (const [k, spec] of Object.entries(keys)) {
            const value = (v as Record<string, unknown>)[k];
            if (value === undefined || value === "") continue;
            if (spec.kind === "string" && spec.secret) found.push(`${at}${k}`);
            else if (spec.kind === "object" && typeof value === "object") walk(spec.keys, value, `${at}${k}.`);
            else if (spec.kind === "objects" && Array.isArray(value)) value.forEach((item, i) => walk(spec.keys, item, `${at}${k}[${i}].`));
        }
    };
    for (const [key, value] of Object.entries(raw)) {
        if (!(key in SCHEMA) || isSecret(`${PROJECT}:${key}`)) continue;
        walk({ [key]: SCHEMA[key as keyof typeof SCHEMA] } as Keys, { [key]: value }, "");
    }
    return found;
}

export function plaintextProblem(key: string, stack: string): string {
    const path = key.includes(".") || key.includes("[") ? ` --path '${key}'` : ` ${key}`;
    return `private-registry:${key} is in Pulumi.${stack}.yaml in plain text (the state keeps it secret, the stack file does not): ` +
        `run \`pulumi config set --secret${path} <value>\` to encrypt it`;
}
