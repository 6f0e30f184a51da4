package catalog_test

import (
	"slices"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// TestRulesDependOnKindsAScanReads: every kind a built-in rule depends on
// is one a live scan reads, so a gap in it can be reported, and the rules
// that claim NetworkPolicies missing depend on them.
func TestRulesDependOnKindsAScanReads(t *testing.T) {
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	read := slices.Concat(manifests.TypedKinds(), model.UnstructuredKinds(), controls.UnstructuredKinds())
	for _, r := range c.Rules {
		for _, kind := range r.DependsOn() {
			if !slices.Contains(read, kind) {
				t.Errorf("rule %s depends on %s, which no scan reads", r.ID, kind)
			}
		}
	}
	for _, id := range []string{"datastore-reachable-by-any-workload", "namespace-without-default-deny-ingress", "cross-namespace-flow-without-policy"} {
		if !slices.Contains(c.Rule(id).DependsOn(), "networking.k8s.io/NetworkPolicy") {
			t.Errorf("rule %s does not depend on NetworkPolicies: %v", id, c.Rule(id).DependsOn())
		}
	}
	if got := c.Rule("no-resource-limits").DependsOn(); !slices.Equal(got, []string{"/LimitRange"}) {
		t.Errorf("no-resource-limits depends on %v, want its needs: [/LimitRange]", got)
	}
	if got := c.Rule("container-privileged").DependsOn(); len(got) != 0 {
		t.Errorf("container-privileged depends on %v; its evidence is the workload itself", got)
	}
}
