// A consumer of the registry stack: it reads the outputs through a StackReference and pulls an image
// with them, as another team's program would; a push with the same login must be refused. The
// credentials and the CA reach skopeo on stdin.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const registry = new pulumi.StackReference(config.require("registryStack"));
const host = registry.requireOutput("registryHost");
const auth = registry.requireOutput("dockerConfigJson");
const ca = registry.requireOutput("caCertificatePem");

const pull = new command.local.Command("pull", {
    create: `set -euo pipefail
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
mkdir "$d/certs"
{ IFS= read -r host; IFS= read -r auth; cat > "$d/certs/ca.crt"; }
printf '%s' "$auth" > "$d/auth.json"
skopeo copy -q --digestfile "$d/digest" --src-cert-dir "$d/certs" --authfile "$d/auth.json" "docker://$host/$IMAGE" "oci:$d/oci:pulled"
cat "$d/digest"; echo
if skopeo copy -q --dest-cert-dir "$d/certs" --authfile "$d/auth.json" "$SOURCE" "docker://$host/consumer/app:1" 2>"$d/err"; then echo "push accepted"
else echo "push refused: $(grep -oiE 'unauthorized|denied|authentication required' "$d/err" | head -n 1)"; fi`,
    interpreter: ["/bin/bash", "-c"],
    stdin: pulumi.all([host, auth, ca]).apply(([h, a, c]) => `${h}\n${JSON.stringify(JSON.parse(a))}\n${c}`),
    environment: { SOURCE: config.require("source"), IMAGE: config.require("image") },
    logging: "none",
}, { additionalSecretOutputs: ["stdin"] });

/** The pulled manifest's digest, then what became of the push. */
export const pulled = pull.stdout;
export const registryHost = host;
/** Stays secret here as in the registry stack. */
export const dockerConfigJson = auth;
