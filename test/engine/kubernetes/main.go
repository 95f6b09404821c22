// The kubernetes resource plugin, built from the provider's Go module. The module's own main embeds
// a generated schema-embed.json that the module does not ship; build.sh copies the schema and the
// mapping the module does ship next to this file in a scratch copy before building.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var mapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, mapping)
}
