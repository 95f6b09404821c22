// `npm run maintenance -- --stack <stack> [--dry-run] [--force]`: one maintenance now, on the stack's
// runner (its `maintenance` output), through the docker CLI; the runner's lines stream through and the
// last one is its JSON report. Exits with the run's status.
import { spawnSync } from "child_process";

function usage(problem: string): never {
    console.error(`maintenance: ${problem}\nusage: npm run maintenance -- --stack <stack> [--dry-run] [--force] [--cwd <project dir>]`);
    process.exit(2);
}

const argv = process.argv.slice(2);
const value = (flag: string) => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1] : undefined; };
const stack = value("--stack") ?? usage("--stack is required");
const known = new Set(["--stack", stack, "--dry-run", "--force", "--cwd", value("--cwd")]);
const unknown = argv.filter((a) => !known.has(a));
if (unknown.length) usage(`unknown arguments: ${unknown.join(" ")}`);

const out = spawnSync("pulumi", ["stack", "output", "maintenance", "--json", "--stack", stack, ...(value("--cwd") ? ["--cwd", value("--cwd")!] : [])], { encoding: "utf8" });
if (out.status !== 0) usage(`pulumi stack output failed: ${out.stderr.trim()}`);
const target = JSON.parse(out.stdout || '""') as { dockerHost: string; container: string } | "";
if (!target) usage(`stack ${stack} has no maintenance: set private-registry:maintenance and run pulumi up`);
const run = spawnSync("docker", ["-H", target.dockerHost, "exec", target.container, "node", "/maint/runner.mjs", "run",
    ...argv.filter((a) => a === "--dry-run" || a === "--force")], { stdio: "inherit" });
process.exit(run.status ?? 1);
