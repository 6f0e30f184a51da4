package model_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// BenchmarkBuild builds the graph of 500 copies of Online Boutique, each in
// its own namespace with fully qualified addresses (about 18,000 objects).
func BenchmarkBuild(b *testing.B) {
	base, err := os.ReadFile(filepath.Join(discovertest.CorpusDir(b), "online-boutique", "kubernetes-manifests.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	in, err := discovertest.WriteBoutiqueCopies(b.TempDir(), base, 500)
	if err != nil {
		b.Fatal(err)
	}
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{in.Dir}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		g := model.Build(inv)
		if len(g.Edges) != 8500 {
			b.Fatalf("%d edges, want 8500", len(g.Edges))
		}
	}
}
