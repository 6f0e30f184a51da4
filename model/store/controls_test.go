package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// controlsScan is a sample scan whose controls hold every case the stored
// groups must give back: several controls of one target, a target with
// one, an ID that is not TYPE@TARGET, an empty ID, evidence nil and
// empty, text that JSON escapes, and a target whose controls are not all
// consecutive.
func controlsScan() store.ScanRecord {
	rec := scanWithFindings(2)
	ev := []model.Evidence{{File: "deploy/a.yaml", Line: 3, Object: "Deployment shop/a", Field: "spec.template.spec.securityContext", Detail: "runAsNonRoot: true <&> \u2028 \"quoted\""}}
	rec.Graph.Controls = []model.Control{
		{ID: "network-policy-default-deny@boundary:namespace:shop", Type: "network-policy-default-deny", Target: "boundary:namespace:shop", Evidence: ev},
		{ID: "read-only-root-fs@workload:shop/a", Type: "read-only-root-fs", Target: "workload:shop/a", Evidence: ev},
		{ID: "run-as-non-root@workload:shop/a", Type: "run-as-non-root", Target: "workload:shop/a", Evidence: []model.Evidence{}},
		{ID: "custom \u2028 id", Type: "seccomp", Target: "workload:shop/a"},
		{ID: "", Type: "empty-id", Target: "workload:shop/a", Evidence: ev},
		{ID: "mtls@workload:shop/b", Type: "mtls", Target: "workload:shop/b", Evidence: ev},
		{ID: "run-as-non-root@workload:shop/b", Type: "run-as-non-root", Target: "workload:shop/b", Evidence: ev},
		{ID: "tls@workload:shop/a", Type: "tls", Target: "workload:shop/a", Evidence: ev}, // apart from a's others
	}
	return rec
}

// TestControlGroups: controls saved as one row per run of one target read
// back as they were saved, in order, through every read.
func TestControlGroups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := controlsScan()
	want := rec.Graph.Controls
	a := mustSave(t, s, rec)
	g, err := s.Graph(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Controls, want) {
		t.Errorf("Graph controls:\n got %+v\nwant %+v", g.Controls, want)
	}
	db := rawDB(t, path)
	defer db.Close()
	// Four runs: the boundary's, a's four, b's two, a's last.
	if n := count(t, db, `SELECT count(*) FROM controls WHERE scan_id = `+fmt.Sprint(a)); n != 4 {
		t.Errorf("%d controls rows for %d controls in 4 runs", n, len(want))
	}

	// A second scan where only b's evidence changed shares every other row,
	// and both scans read back whole as a pair.
	changed := controlsScan()
	changed.Graph.Controls[6].Evidence = []model.Evidence{{File: "deploy/b.yaml", Line: 9}}
	b := mustSave(t, s, changed)
	if n := count(t, db, `SELECT count(*) FROM controls_content`); n != 5 {
		t.Errorf("%d controls contents after a scan that changed one element's controls, want 5", n)
	}
	ga, gb, err := s.GraphPair(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ga.Controls, want) || !reflect.DeepEqual(gb.Controls, changed.Graph.Controls) {
		t.Errorf("GraphPair controls:\n got %+v\n     %+v\nwant %+v\n     %+v", ga.Controls, gb.Controls, want, changed.Graph.Controls)
	}
	// The delta holds the controls of the one element whose controls
	// differ, on both sides.
	d, err := s.Delta(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.OnlyA.Controls, want[5:7]) || !reflect.DeepEqual(d.OnlyB.Controls, changed.Graph.Controls[5:7]) {
		t.Errorf("Delta controls:\n got %+v\n     %+v\nwant %+v\n     %+v", d.OnlyA.Controls, d.OnlyB.Controls, want[5:7], changed.Graph.Controls[5:7])
	}

	// Two controls with one ID are refused, and nothing is saved.
	dup := controlsScan()
	dup.Graph.Controls[2].ID = dup.Graph.Controls[1].ID
	if _, err := s.SaveScan(ctx, dup); err == nil || !strings.Contains(err.Error(), `duplicate control ID "read-only-root-fs@workload:shop/a"`) {
		t.Errorf("SaveScan with a duplicate control ID = %v", err)
	}
	if scans, err := s.Scans(ctx); err != nil || len(scans) != 2 {
		t.Errorf("after the refused save: %d scans, %v; want 2", len(scans), err)
	}
}

// TestStoreBeforeControlGroupsOpens: a store that kept one row per control
// reads back the same after migration 0009, and a scan saved afterwards
// shares the groups it has in common with the migrated ones: the groups
// the migration builds in SQL are byte for byte the ones SaveScan writes.
func TestStoreBeforeControlGroupsOpens(t *testing.T) {
	first, second := controlsScan(), scanWithFindings(3)
	s, path, ids, want := afterUpgrade(t, "schema-8", func(db *sql.DB) {
		modeltest.UndoRowGroups(t, db)
		if _, err := db.Exec(`PRAGMA user_version = 8`); err != nil {
			t.Fatal(err)
		}
		if n, all := count(t, db, `SELECT count(*) FROM controls`), len(first.Graph.Controls)+len(second.Graph.Controls); n != all {
			t.Fatalf("old layout has %d controls rows, want one per control (%d)", n, all)
		}
	}, first, second)
	db := rawDB(t, path)
	defer db.Close()
	before := count(t, db, `SELECT count(*) FROM controls_content`)
	id := mustSave(t, s, first)
	if after := count(t, db, `SELECT count(*) FROM controls_content`); after != before {
		t.Errorf("saving the first scan again added %d controls rows: the migration's groups differ from SaveScan's", after-before)
	}
	if got := readScan(t, s, id); !reflect.DeepEqual(got.Graph, want[ids[0]].Graph) {
		t.Errorf("the re-saved scan reads back differently")
	}
}
