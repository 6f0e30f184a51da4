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

// BenchmarkReportHTML writes the HTML report of a 500-copy scan in-process,
// its overview drawn by stridemap-render: what an auditor waits for after
// a scan of a whole cluster (the performance issue's budget is 2 s).
func BenchmarkReportHTML(b *testing.B) {
	in := discovertest.BoutiqueInput(b, 500)
	bin, err := renderBin()
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv(rendererEnv, bin)
	db := filepath.Join(b.TempDir(), "stridemap.db")
	if code := run(context.Background(), []string{"--db", db, "scan", "-f", in.Dir}, nil, io.Discard, io.Discard); code != 0 {
		b.Fatalf("scan exited %d", code)
	}
	out := filepath.Join(b.TempDir(), "report.html")
	b.ReportAllocs()
	for b.Loop() {
		if code := run(context.Background(), []string{"--db", db, "report", "--format", "html", "-o", out}, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("report exited %d", code)
		}
	}
}
