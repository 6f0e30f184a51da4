package threats_test

import (
	"context"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// BenchmarkEvaluate runs the whole built-in catalog over 500 copies of
// Online Boutique (about 6,000 workloads and 8,500 flows): the time a scan
// spends on threats, on top of discovery and storage.
func BenchmarkEvaluate(b *testing.B) {
	in := discovertest.BoutiqueInput(b, 500)
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{in.Dir}})
	if err != nil {
		b.Fatal(err)
	}
	g := model.Build(inv, controls.Detectors()...)
	c, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		findings, err := threats.Evaluate(g, c)
		if err != nil {
			b.Fatal(err)
		}
		if len(findings) == 0 {
			b.Fatal("no findings")
		}
	}
	b.ReportMetric(float64(len(c.Rules)), "rules")
}
