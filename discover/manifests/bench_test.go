package manifests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// BenchmarkCollect reads the scale benchmark's input: 500 copies of the
// online-boutique release manifest, each in its own namespace (shop-N) and
// file, about 17,500 objects and 12 MB of YAML.
func BenchmarkCollect(b *testing.B) {
	src := filepath.Join(corpusDir(b), "online-boutique", "kubernetes-manifests.yaml")
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	metadata := regexp.MustCompile(`(?m)^metadata:\n`)
	total := 0
	for i := range 500 {
		copy := metadata.ReplaceAll(data, []byte(fmt.Sprintf("metadata:\n  namespace: shop-%d\n", i)))
		total += len(copy)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("shop-%03d.yaml", i)), copy, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inv, err := Collect(context.Background(), Request{Paths: []string{dir}})
		if err != nil {
			b.Fatal(err)
		}
		if len(inv.Objects) != 500*35 || len(inv.Problems) != 0 {
			b.Fatalf("%d objects, %d problems", len(inv.Objects), len(inv.Problems))
		}
	}
}
