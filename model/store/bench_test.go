package store_test

import (
	"context"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// benchScan is the scan the store is sized for: about 6,000 nodes, 9,000
// edges, 18,000 inventory objects and 18,000 boundary memberships.
func benchScan(tb testing.TB) store.ScanRecord {
	rec := modeltest.SampleScan(300)
	g := rec.Graph
	// The sample puts each in-cluster node in two boundaries (cluster and
	// namespace). Pad with one more membership per node, as node/host or mesh
	// boundaries would add, to reach the benchmark's 18,000.
	host := model.Boundary{ID: "boundary:host:bench", Type: "host", Name: "bench", Parent: "boundary:cluster"}
	for _, n := range g.Nodes {
		if n.Namespace != "" {
			host.Members = append(host.Members, n.ID)
		}
	}
	g.Boundaries = append(g.Boundaries, host)

	members := 0
	for _, b := range g.Boundaries {
		members += len(b.Members)
	}
	if len(g.Nodes) < 6000 || len(g.Edges) < 9000 || len(rec.Objects) < 18000 || members < 18000 {
		tb.Fatalf("bench scan too small: %d nodes, %d edges, %d objects, %d memberships",
			len(g.Nodes), len(g.Edges), len(rec.Objects), members)
	}
	return rec
}

func BenchmarkSaveScan(b *testing.B) {
	rec := benchScan(b)
	s := modeltest.OpenStore(b)
	// Cancellable, like the CLI's signal context, so the cost of
	// cancellation checks is measured.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SaveScan(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGraph(b *testing.B) {
	s := modeltest.OpenStore(b)
	ctx := context.Background()
	id := mustSave(b, s, benchScan(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Graph(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveFirstScan saves the scan into a new store each time: every
// row is new content. BenchmarkSaveScan saves it again and again into one
// store, as a re-scan of an unchanged system does: only places are new.
func BenchmarkSaveFirstScan(b *testing.B) {
	rec := benchScan(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s := modeltest.OpenStore(b)
		b.StartTimer()
		if _, err := s.SaveScan(ctx, rec); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}
