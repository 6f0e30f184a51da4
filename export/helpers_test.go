package export_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	demoDir   = "../testdata/demo"
	goldenDir = "../testdata/golden/export"
)

// scanned is a graph and its findings, built in memory as a scan builds
// them (no store).
type scanned struct {
	graph    *model.Graph
	findings []threats.Finding
}

var catalogOnce = sync.OnceValues(func() (*catalog.Catalog, error) { return catalog.Load() })

// scanDir collects, builds and evaluates dir.
func scanDir(t testing.TB, dir string) scanned {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	g := model.Build(inv, controls.Detectors()...)
	c, err := catalogOnce()
	if err != nil {
		t.Fatal(err)
	}
	findings, err := threats.Evaluate(g, c)
	if err != nil {
		t.Fatal(err)
	}
	return scanned{g, findings}
}

var demoOnce sync.Once
var demoScan scanned

// demo is the demo shop of testdata/demo, built once per test binary. The
// graph and findings are shared: tests must not change them.
func demo(t testing.TB) scanned {
	t.Helper()
	demoOnce.Do(func() { demoScan = scanDir(t, demoDir) })
	if demoScan.graph == nil {
		t.Fatal("demo scan failed")
	}
	return demoScan
}

// report builds the report of s with fixed times, so outputs are stable.
func report(t testing.TB, s scanned, scope export.Scope) *export.Report {
	t.Helper()
	qs, err := catalog.Questions()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r, err := export.BuildReport(export.ReportInput{
		Title: "Threat model — test", ToolVersion: "test", GeneratedAt: at,
		Scan:  store.ScanInfo{ID: 1, StartedAt: at, FinishedAt: at, Catalog: "built-in"},
		Graph: s.graph, Findings: s.findings, Questions: qs,
		Answers: map[string]store.Decision{"backups-tested": {Subject: "backups-tested", Status: "partly", Reason: "orders-db only", Who: "bob", At: at}},
		Scope:   scope,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with the golden file name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./export -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s; if the change is intended, run go test ./export -update", path)
	}
}
