// `npm run maintenance -- --stack <stack> [--dry-run] [--force]`: one maintenance now, on the stack's
// runner (its `maintenance` output): through the docker CLI on a docker host, through kubectl in cluster
// mode. The runner's lines stream through and the last one is its JSON report. Exits with the run's status.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

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

const cwd = value("--cwd") ? ["--cwd", value("--cwd")!] : [];
const pulumiGet = (args: string[]) => spawnSync("pulumi", [...args, "--stack", stack, ...cwd], { encoding: "utf8" });
const out = pulumiGet(["stack", "output", "maintenance", "--json"]);
if (out.status !== 0) usage(`pulumi stack output failed: ${out.stderr.trim()}`);
type Target = { dockerHost: string; container: string } | { namespace: string; deployment: string } | "";
const target = JSON.parse(out.stdout || '""') as Target;
if (!target) usage(`stack ${stack} has no maintenance: set private-registry:maintenance and run pulumi up`);
const flags = argv.filter((a) => a === "--dry-run" || a === "--force");
let cmd: string[];
if ("container" in target) {
    cmd = ["docker", "-H", target.dockerHost, "exec", target.container, "node", "/maint/runner.mjs", "run", ...flags];
} else {
    // cluster mode: the stack's own kubeconfig (a path, or its content in a file only this user reads) or context
    const kube = (key: string) => { const r = pulumiGet(["config", "get", "--path", `kubernetes.${key}`]); return r.status === 0 ? r.stdout.trim() : ""; };
    const kubeconfig = kube("kubeconfig");
    const context = kube("context");
    let where: string[] = [];
    if (kubeconfig && fs.existsSync(kubeconfig.replace(/^~(?=\/)/, os.homedir()))) where = ["--kubeconfig", kubeconfig.replace(/^~(?=\/)/, os.homedir())];
    else if (kubeconfig) {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "maintenance-")), "kubeconfig");
        fs.writeFileSync(file, kubeconfig, { mode: 0o600 });
        process.on("exit", () => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
        where = ["--kubeconfig", file];
    }
    if (context) where.push("--context", context);
    cmd = ["kubectl", ...where, "-n", target.namespace, "exec", `deploy/${target.deployment}`, "-c", "runner", "--", "node", "/maint/runner.mjs", "run", ...flags];
}
const run = spawnSync(cmd[0], cmd.slice(1), { stdio: "inherit" });
process.exit(run.status ?? 1);
