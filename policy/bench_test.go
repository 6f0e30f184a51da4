package policy_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
)

// BenchmarkSuggest suggests the policies of 500 copies of Online
// Boutique, each in its own namespace (about 6,000 elements and 8,500
// flows), as make bench's scale input is built: a suggestion for a whole
// cluster must stay linear in its flows.
func BenchmarkSuggest(b *testing.B) {
	in := discovertest.BoutiqueInput(b, 500)
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{in.Dir}})
	if err != nil {
		b.Fatal(err)
	}
	g := model.Build(inv, controls.Detectors()...)
	runtime.GC() // the input's garbage is not the suggestion's
	b.ReportAllocs()
	var s policy.Suggestion
	for b.Loop() {
		s = policy.Suggest(g, policy.Options{})
	}
	if got := len(s.Namespaces()); got != 500 {
		b.Fatalf("policies in %d namespaces, want 500", got)
	}
	b.ReportMetric(float64(len(g.Edges)), "flows")
	b.ReportMetric(float64(len(s.Policies)), "policies")
}
