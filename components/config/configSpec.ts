// The vocabulary components/config/configSchema.ts describes the keys in, the settings types that follow from
// it, and the generic reader that checks raw values against it. No key is named here.
import type * as pulumi from "@pulumi/pulumi";

/** The config namespace every key lives under (`private-registry:<key>`). */
export const PROJECT = "private-registry";

/** A secret key's value: plain out of parseSettings, a secret Output once readSettings has marked it. */
export type Secret = pulumi.Input<string>;

/** A test and the problem text when it fails (`got` appends the value, except for secrets). */
/** A test and what to say when a value fails it (a function where the message depends on the value). */
export type Check<T> = readonly [test: (v: T) => boolean, message: string | ((v: T) => string)];

interface Common {
    /** One line: what the key is for (README table, Pulumi.yaml description). */
    readonly doc: string;
    /** The README's type column, where the kind alone says too little. */
    readonly type?: string;
    /** The README's default column, for a default the program works out (or none). */
    readonly defaultDoc?: string;
    readonly got?: boolean;
}
export interface StringSpec extends Common {
    readonly kind: "string";
    readonly default?: string;
    readonly check?: Check<string>;
    /** The problem when the key is missing. */
    readonly required?: string;
    readonly secret?: boolean;
    readonly trim?: boolean;
    /** Unset, the program works out the value from other keys (see defaultDoc): the setting is always there. */
    readonly derived?: boolean;
}
export interface IntegerSpec extends Common {
    readonly kind: "integer";
    readonly default: number;
    readonly min: number;
    readonly max: number;
    readonly check?: Check<number>;
}
export interface BooleanSpec extends Common { readonly kind: "boolean"; readonly default: boolean }
export interface EnumSpec extends Common {
    readonly kind: "enum";
    readonly values: readonly string[];
    /** With `required`, only what the checks carry on with after reporting it missing. */
    readonly default: string;
    readonly required?: string;
}
/** A list of strings; a comma-separated string counts as one. Repeats are dropped. */
export interface ListSpec extends Common {
    readonly kind: "list";
    readonly item: readonly [test: (v: string) => boolean, what: string];
    readonly default: readonly string[];
    /** The problem for a list given empty; without it an empty list means the default. */
    readonly empty?: string;
}
export interface ObjectSpec extends Common {
    readonly kind: "object";
    readonly keys: Keys;
    /** Absent means off (undefined), not an object of defaults. */
    readonly optional?: boolean;
}
export interface ObjectsSpec extends Common { readonly kind: "objects"; readonly keys: Keys; readonly item: string }
export interface MapSpec extends Common { readonly kind: "map" }
export type Spec = StringSpec | IntegerSpec | BooleanSpec | EnumSpec | ListSpec | ObjectSpec | ObjectsSpec | MapSpec;
export type Keys = { readonly [key: string]: Spec };

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;
/** The settings type of one key. */
export type ValueOf<S> =
    S extends StringSpec ? (S extends { secret: true } ? Secret : string) | (S extends { default: string } | { required: string } | { derived: true } ? never : undefined) :
    S extends IntegerSpec ? number :
    S extends BooleanSpec ? boolean :
    S extends { kind: "enum"; values: readonly (infer V)[] } ? V :
    S extends ListSpec ? string[] :
    S extends { kind: "object"; keys: infer K } ? Shape<K> | (S extends { optional: true } ? undefined : never) :
    S extends { kind: "objects"; keys: infer K } ? Shape<K>[] :
    S extends MapSpec ? Record<string, string> : never;
/** The settings type of an object of keys: a key that may be unset is an optional property. */
export type Shape<K> = Simplify<
    { -readonly [k in keyof K as undefined extends ValueOf<K[k]> ? never : k]: ValueOf<K[k]> } &
    { -readonly [k in keyof K as undefined extends ValueOf<K[k]> ? k : never]?: ValueOf<K[k]> }>;

const missing = (v: unknown) => v === undefined || v === null || v === "";
const got = (v: unknown) => ` (got ${JSON.stringify(v)})`;
const at = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Reads raw values (as `pulumi config` stores them: strings, or parsed JSON) against specs; collects every problem. */
export class Reader {
    readonly problems: string[] = [];
    /** Where each object read from a list came from, for the checks that span keys (a list skips what is not an object). */
    readonly where = new WeakMap<object, { path: string; index: number }>();

    fail(path: string, message: string): void {
        this.problems.push(`${PROJECT}:${path} ${message}`);
    }

    /** Reports a value that fails `check`; true when it passes. */
    check<T>(path: string, value: T, check: Check<T> | undefined, withValue: boolean | undefined): boolean {
        if (!check || check[0](value)) return true;
        const message = typeof check[1] === "function" ? check[1](value) : check[1];
        this.fail(path, `${message}${withValue ? got(value) : ""}`);
        return false;
    }

    /** Every key of `keys` from `obj`, after reporting the keys `keys` does not know. */
    keys(keys: Keys, obj: Record<string, unknown>, path: string): Record<string, unknown> {
        const known = Object.keys(keys);
        for (const k of Object.keys(obj)) {
            if (!known.includes(k)) this.fail(at(path, k), `is not a known setting (known: ${known.join(", ")})`);
        }
        return Object.fromEntries(known.map((k) => [k, this.read(keys[k], obj, k, at(path, k))]));
    }

    read(spec: Spec, obj: Record<string, unknown>, key: string, path: string): unknown {
        const v = missing(obj[key]) ? undefined : obj[key];
        switch (spec.kind) {
        case "string": {
            let s = this.str(v, spec.default, path);
            if (s !== undefined && spec.trim) s = s.trim();
            if (spec.required && missing(s)) {
                this.fail(path, spec.required);
                return "";
            }
            if (s !== undefined) this.check(path, s, spec.check, spec.got);
            return s;
        }
        case "integer": {
            const n = typeof v === "number" ? v : typeof v === "string" && /^-?[0-9]+$/.test(v.trim()) ? Number(v) : NaN;
            if (v === undefined) return spec.default;
            if (!Number.isInteger(n) || n < spec.min || n > spec.max) {
                this.fail(path, `must be an integer from ${spec.min} to ${spec.max}${got(v)}`);
                return spec.default;
            }
            this.check(path, n, spec.check, spec.got);
            return n;
        }
        case "boolean":
            if (v === undefined) return spec.default;
            if (v === true || v === "true") return true;
            if (v === false || v === "false") return false;
            this.fail(path, `must be true or false${got(v)}`);
            return spec.default;
        case "enum": {
            if (spec.required && v === undefined) this.fail(path, spec.required);
            const s = this.str(v, spec.default, path) ?? spec.default;
            return this.check(path, s, [(x) => spec.values.includes(x), `must be one of ${spec.values.join(", ")}`], true) ? s : spec.default;
        }
        case "list": {
            if (v === undefined) return [...spec.default];
            const out: string[] = [];
            this.list(v, path).forEach((item, i) => {
                if (typeof item !== "string" || !spec.item[0](item)) this.fail(`${path}[${i}]`, `must be ${spec.item[1]}${got(item)}`);
                else if (!out.includes(item)) out.push(item);
            });
            if (out.length > 0) return out;
            if (spec.empty) this.fail(path, spec.empty);
            return spec.empty ? [] : [...spec.default];
        }
        case "object": {
            const o = this.object(v, path);
            return o === undefined && spec.optional ? undefined : this.keys(spec.keys, o ?? {}, path);
        }
        case "objects":
            return this.list(v, path).flatMap((item, i) => {
                if (typeof item === "object" && item !== null && !Array.isArray(item)) {
                    const read = this.keys(spec.keys, item as Record<string, unknown>, `${path}[${i}]`);
                    this.where.set(read, { path: `${path}[${i}]`, index: i });
                    return [read];
                }
                this.fail(`${path}[${i}]`, `${spec.item}${got(item)}`);
                return [];
            });
        case "map":
            return Object.fromEntries(Object.entries(this.object(v, path) ?? {}).filter(([k, s]) => {
                if (typeof s !== "string") this.fail(`${path}.${k}`, "must be a string");
                return typeof s === "string";
            }));
        }
    }

    private str(v: unknown, def: string | undefined, path: string): string | undefined {
        if (v === undefined || typeof v === "string") return (v as string | undefined) ?? def;
        this.fail(path, `must be a string${got(v)}`);
        return def;
    }

    private list(v: unknown, path: string): unknown[] {
        if (v === undefined) return [];
        // `pulumi config set key a,b` is a natural way to give a short list
        if (typeof v === "string" && !v.trim().startsWith("[")) return v.split(",").map((s) => s.trim()).filter((s) => s);
        if (Array.isArray(v)) return v;
        this.fail(path, `must be a list${got(v)}`);
        return [];
    }

    private object(v: unknown, path: string): Record<string, unknown> | undefined {
        if (v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v))) return v as Record<string, unknown> | undefined;
        this.fail(path, `must be an object${got(v)}`);
        return undefined;
    }
}
