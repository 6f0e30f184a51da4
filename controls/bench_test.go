package controls_test

import (
	"context"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// BenchmarkBuild builds the graph of 500 copies of Online Boutique, each in
// its own namespace with fully qualified addresses (about 18,000 objects),
// and detects its controls, as a scan does.
func BenchmarkBuild(b *testing.B) {
	in := discovertest.BoutiqueInput(b, 500)
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{in.Dir}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		g := model.Build(inv, controls.Detectors()...)
		if len(g.Edges) != 8500 {
			b.Fatalf("%d edges, want 8500", len(g.Edges))
		}
	}
}
