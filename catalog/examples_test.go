package catalog_test

import (
	"testing"

	"github.com/stridemap/stridemap/catalog"
)

// TestExampleCatalog keeps docs/examples/catalog loading, so the example a
// user copies works.
func TestExampleCatalog(t *testing.T) {
	c, err := catalog.Load("../docs/examples/catalog")
	if err != nil {
		t.Fatal(err)
	}
	if c.Rule("workload-without-owner") == nil || c.Rule("no-seccomp-profile") != nil || c.Rule("image-from-docker-hub").Likelihood != catalog.High {
		t.Error("the example catalog should add one rule, disable one and override one")
	}
}
