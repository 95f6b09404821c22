// What the configuration schema (components/config/configSchema.ts) says, for people and for the engine: the
// the configuration table (docs/CONFIG.md) and the `config:` block of Pulumi.yaml. Run this file to rewrite both:
//   node --import tsx components/config/configDocs.ts
// test/unit/configDocs.test.ts fails while either differs from what this makes of the schema.
import * as fs from "fs";
import * as path from "path";
import { SCHEMA } from "./configSchema";
import { Keys, PROJECT, Spec } from "./configSpec";

const ROOT = path.resolve(__dirname, "../..");
export const CONFIG_DOC = path.join(ROOT, "docs", "CONFIG.md");
export const PROJECT_FILE = path.join(ROOT, "Pulumi.yaml");
export const TABLE_START = "<!-- config:reference -->";
export const TABLE_END = "<!-- /config:reference -->";
/** The first line of the generated part of Pulumi.yaml, which runs to the end of the file. */
export const PROJECT_MARK = "# The keys `pulumi config` knows, generated from components/config/configSchema.ts";

function typeText(s: Spec): string {
    if (s.type) return s.type;
    switch (s.kind) {
    case "integer": return `${s.min}–${s.max}`;
    case "boolean": return "bool";
    case "enum": return s.values.map((v) => `\`${v}\``).join(", ");
    case "objects": return "list of objects";
    case "map": return "map of strings";
    default: return s.kind;
    }
}

function defaultText(s: Spec): string {
    if (s.defaultDoc) return s.defaultDoc;
    if ("required" in s && s.required) return "required";
    const d = "default" in s ? s.default : undefined;
    if (d === undefined) return "—";
    return Array.isArray(d) ? `\`[${d.join(", ")}]\`` : `\`${d}\``;
}

function rows(keys: Keys, prefix: string): string[][] {
    return Object.entries(keys).flatMap(([k, s]) => {
        const row = [`\`${prefix}${k}\``, typeText(s), defaultText(s), s.kind === "string" && s.secret ? "yes" : "", s.doc];
        if (row.some((cell) => cell.includes("|"))) throw new Error(`${prefix}${k}: a table cell cannot hold '|'`);
        if (s.kind === "object") return [row, ...rows(s.keys, `${prefix}${k}.`)];
        if (s.kind === "objects") return [row, ...rows(s.keys, `${prefix}${k}[].`)];
        return [row];
    });
}

/** The the configuration table (docs/CONFIG.md), one row per key, nested keys under their parent. */
export function configTable(): string {
    const head = ["key", "type", "default", "secret", "meaning"];
    return [head, head.map(() => "---"), ...rows(SCHEMA, "")].map((r) => `| ${r.join(" | ")} |`).join("\n").replace(/ {2}\|/g, " |");
}

/** One key of Pulumi.yaml's `config:` block (the project schema's ConfigTypeDeclaration). */
export interface ProjectKey {
    type?: "string" | "integer" | "boolean" | "array" | "object";
    items?: { type: "object" };
    description: string;
    default: unknown;
}

/**
 * The `config:` block. The engine treats a declared key without a default as required, and fills in
 * the default of every key a stack leaves unset; so each default is what the program does without the
 * key ("" and [] are read as unset). A `secret: true` would refuse that default (it is not encrypted),
 * so secrets say so in their description. A list key stays untyped: a comma-separated string (and for
 * bindAddress a single address) is accepted as well, and the engine would refuse it as not an array.
 */
export function projectConfig(): Record<string, ProjectKey> {
    return Object.fromEntries(Object.entries(SCHEMA as Keys).map(([k, s]) => {
        const nested = "keys" in s ? ` (keys: ${Object.keys(s.keys).join(", ")})` : "";
        const description = `${s.kind === "string" && s.secret ? "secret (set it with --secret): " : ""}${s.doc.replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")}${nested}`;
        switch (s.kind) {
        case "string": return [k, { type: "string", description, default: s.default ?? "" }];
        case "enum": return [k, { type: "string", description, default: s.default }];
        case "integer": return [k, { type: "integer", description, default: s.default }];
        case "boolean": return [k, { type: "boolean", description, default: s.default }];
        case "list": return [k, { description, default: [...s.default] }];
        case "object": return [k, s.optional ? { description, default: "" } : { type: "object", description, default: {} }];
        case "objects": return [k, { type: "array", items: { type: "object" }, description, default: [] }];
        case "map": return [k, { type: "object", description, default: {} }];
        }
    }));
}

/** The generated part of Pulumi.yaml (JSON scalars and flow collections are YAML too). */
export function projectConfigYaml(): string {
    const lines = [
        `${PROJECT_MARK}`,
        "# (node --import tsx components/config/configDocs.ts); docs/CONFIG.md describes them. Every default",
        "# is what the program does without the key, so the engine filling it in changes nothing.",
        "config:",
    ];
    for (const [k, decl] of Object.entries(projectConfig())) {
        lines.push(`  ${k}:`);
        for (const [field, v] of Object.entries(decl)) lines.push(`    ${field}: ${JSON.stringify(v)}`);
    }
    return `${lines.join("\n")}\n`;
}

/** How the engine hands a project default to the program: scalars as text, the rest as JSON. */
export function engineValue(v: unknown): string {
    return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
}

export function withConfigTable(readme: string): string {
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    if (start < 0 || end < start) throw new Error(`docs/CONFIG.md has no ${TABLE_START} ... ${TABLE_END} section`);
    return `${readme.slice(0, start + TABLE_START.length)}\n${configTable()}\n${readme.slice(end)}`;
}

export function withProjectConfig(project: string): string {
    const at = project.indexOf(PROJECT_MARK);
    return `${at < 0 ? `${project.trimEnd()}\n\n` : project.slice(0, at)}${projectConfigYaml()}`;
}

if (require.main === module) {
    fs.writeFileSync(CONFIG_DOC, withConfigTable(fs.readFileSync(CONFIG_DOC, "utf8")));
    fs.writeFileSync(PROJECT_FILE, withProjectConfig(fs.readFileSync(PROJECT_FILE, "utf8")));
    console.log(`updated docs/CONFIG.md and Pulumi.yaml from the ${Object.keys(SCHEMA).length} top-level ${PROJECT} keys`);
}
