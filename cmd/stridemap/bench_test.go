package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
)

// BenchmarkScan runs "stridemap scan" in-process on 500 copies of Online
// Boutique (about 18,000 objects), into a fresh store each time: the whole
// path a user waits for. make bench measures the real binary's wall time and
// peak memory; this one is for profiling (-cpuprofile, -memprofile).
func BenchmarkScan(b *testing.B) {
	in := discovertest.BoutiqueInput(b, 500)
	dbDir := b.TempDir()
	b.SetBytes(in.Bytes)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		db := filepath.Join(dbDir, fmt.Sprintf("scan-%d.db", i))
		if code := run(context.Background(), []string{"--db", db, "scan", "-f", in.Dir}, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("scan exited %d", code)
		}
	}
}
