package manifests_test

import (
	"context"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
)

// BenchmarkCollect reads the scale benchmark's input: 500 copies of the
// online-boutique release manifest, each in its own namespace (shop-N) and
// file, about 17,500 objects and 12 MB of YAML.
func BenchmarkCollect(b *testing.B) {
	in := discovertest.BoutiqueInput(b, 500)
	b.SetBytes(in.Bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{in.Dir}})
		if err != nil {
			b.Fatal(err)
		}
		if len(inv.Objects) != in.Objects || len(inv.Problems) != 0 {
			b.Fatalf("%d objects, %d problems", len(inv.Objects), len(inv.Problems))
		}
	}
}
