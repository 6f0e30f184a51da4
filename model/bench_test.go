package model_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// BenchmarkBuild builds the graph of 500 copies of Online Boutique, each in
// its own namespace with fully qualified addresses (about 18,000 objects).
func BenchmarkBuild(b *testing.B) {
	base, err := os.ReadFile(filepath.Join("..", "..", "shared", "corpus", "online-boutique", "kubernetes-manifests.yaml"))
	if err != nil {
		b.Skipf("skipping: needs the corpus beside the repository: %v", err)
	}
	metadata := regexp.MustCompile(`(?m)^metadata:\s*$`)
	address := regexp.MustCompile(`value: "([a-z][a-z0-9-]*):([0-9]+)"`)
	inv := &discover.Inventory{}
	for i := 0; i < 500; i++ {
		ns := fmt.Sprintf("shop-%03d", i)
		text := metadata.ReplaceAllString(string(base), "metadata:\n  namespace: "+ns)
		text = address.ReplaceAllString(text, `value: "$1.`+ns+`.svc.cluster.local:$2"`)
		objects, _ := manifests.Decode(ns+".yaml", []byte(text), ns)
		inv.Objects = append(inv.Objects, objects...)
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
