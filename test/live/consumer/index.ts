// A consumer of the registry stack: it reads the outputs through a StackReference and pushes an image
// with them, as another team's program would. The credentials and the CA reach skopeo on stdin.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const registry = new pulumi.StackReference(config.require("registryStack"));
const host = registry.requireOutput("registryHost");
const auth = registry.requireOutput("dockerConfigJson");
const ca = registry.requireOutput("caCertificatePem");

const push = new command.local.Command("push", {
    create: `set -euo pipefail
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
mkdir "$d/certs"
{ IFS= read -r host; IFS= read -r auth; cat > "$d/certs/ca.crt"; }
printf '%s' "$auth" > "$d/auth.json"
skopeo copy -q --digestfile "$d/digest" --dest-cert-dir "$d/certs" --authfile "$d/auth.json" "$SOURCE" "docker://$host/consumer/app:1"
cat "$d/digest"`,
    interpreter: ["/bin/bash", "-c"],
    stdin: pulumi.all([host, auth, ca]).apply(([h, a, c]) => `${h}\n${JSON.stringify(JSON.parse(a))}\n${c}`),
    environment: { SOURCE: config.require("source") },
    logging: "none",
}, { additionalSecretOutputs: ["stdin"] });

export const pushedDigest = push.stdout;
export const registryHost = host;
/** Stays secret here as in the registry stack. */
export const dockerConfigJson = auth;
