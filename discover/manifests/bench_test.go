package manifests_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// BenchmarkCollectOneStream reads the same 500 copies as one file, the
// shape of a cluster's dump or of helm template's output piped in: one
// stream, whose documents are decoded on all cores.
func BenchmarkCollectOneStream(b *testing.B) {
	in := discovertest.BoutiqueInput(b, 500)
	var all []byte
	for i := range in.Files {
		data, err := os.ReadFile(filepath.Join(in.Dir, fmt.Sprintf("shop-%03d.yaml", i)))
		if err != nil {
			b.Fatal(err)
		}
		all = append(append(all, "---\n"...), data...)
	}
	file := filepath.Join(b.TempDir(), "all.yaml")
	if err := os.WriteFile(file, all, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(all)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{file}})
		if err != nil {
			b.Fatal(err)
		}
		if len(inv.Objects) != in.Objects || len(inv.Problems) != 0 {
			b.Fatalf("%d objects, %d problems", len(inv.Objects), len(inv.Problems))
		}
	}
}
