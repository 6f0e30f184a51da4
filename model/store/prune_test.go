package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/store"
)

// pruneFixture saves six scans a day apart (scan i finished on day i),
// each of a different size so they share some elements and not others;
// pins scan 2; and triages a finding of every scan between scans 3 and 4,
// so the decision refers to scan 3.
func pruneFixture(t *testing.T, path string) (*store.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	day0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= 6; i++ {
		rec := scanWithFindings(1 + i%3)
		rec.StartedAt = day0.Add(time.Duration(i) * 24 * time.Hour)
		rec.FinishedAt = rec.StartedAt.Add(time.Minute)
		// A problem of its own, large enough that removing the scan frees pages.
		rec.Problems = append(rec.Problems, discover.Problem{Severity: discover.SeverityWarning, Code: "test",
			Message: fmt.Sprintf("scan %d: %s", i, strings.Repeat("x", 20000))})
		if id := mustSave(t, s, rec); id != int64(i) {
			t.Fatalf("saved scan %d as %d", i, id)
		}
	}
	if err := s.SetKept(ctx, 2, true); err != nil {
		t.Fatal(err)
	}
	findings, err := s.Findings(ctx, 6)
	if err != nil || len(findings) == 0 {
		t.Fatalf("findings of scan 6: %v, %v", findings, err)
	}
	if err := s.AddTriage(ctx, store.Decision{Subject: findings[0].ID, Status: "accepted", Reason: "r", Who: "w",
		At: day0.Add(3*24*time.Hour + time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return s, day0
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name      string
		opts      func(day0 time.Time) store.PruneOptions
		pruned    []int64
		protected []store.Protected
		leavesAll bool
	}{
		{name: "keep 2", opts: func(time.Time) store.PruneOptions { return store.PruneOptions{Keep: 2} },
			pruned: []int64{4, 1}, protected: []store.Protected{{ID: 3, Reason: "triage of no-probe@external:api.stripe.com"}, {ID: 2, Reason: "kept"}}},
		{name: "keep 2 including triaged", opts: func(time.Time) store.PruneOptions { return store.PruneOptions{Keep: 2, IncludeTriaged: true} },
			pruned: []int64{4, 3, 1}, protected: []store.Protected{{ID: 2, Reason: "kept"}}},
		{name: "older than day 6", opts: func(d time.Time) store.PruneOptions { return store.PruneOptions{Before: d.Add(6 * 24 * time.Hour)} },
			pruned: []int64{5, 4, 1}, protected: []store.Protected{{ID: 3, Reason: "triage of no-probe@external:api.stripe.com"}, {ID: 2, Reason: "kept"}}},
		{name: "older than everything keeps the latest", opts: func(d time.Time) store.PruneOptions { return store.PruneOptions{Before: d.Add(99 * 24 * time.Hour)} },
			pruned: []int64{5, 4, 1}, protected: []store.Protected{{ID: 6, Reason: "latest"}, {ID: 3, Reason: "triage of no-probe@external:api.stripe.com"}, {ID: 2, Reason: "kept"}}},
		{name: "keep more than there are", opts: func(time.Time) store.PruneOptions { return store.PruneOptions{Keep: 10} }},
		{name: "dry run", opts: func(time.Time) store.PruneOptions { return store.PruneOptions{Keep: 1, DryRun: true} },
			pruned: []int64{5, 4, 1}, protected: []store.Protected{{ID: 3, Reason: "triage of no-probe@external:api.stripe.com"}, {ID: 2, Reason: "kept"}}, leavesAll: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "stridemap.db")
			s, day0 := pruneFixture(t, path)
			defer s.Close()
			before := map[int64]scanReads{}
			for id := int64(1); id <= 6; id++ {
				before[id] = readScan(t, s, id)
			}
			triage, err := s.Triage(ctx)
			if err != nil {
				t.Fatal(err)
			}

			res, err := s.Prune(ctx, tc.opts(day0))
			if err != nil {
				t.Fatal(err)
			}
			var pruned []int64
			for _, sc := range res.Pruned {
				pruned = append(pruned, sc.ID)
			}
			if !slices.Equal(pruned, tc.pruned) || !reflect.DeepEqual(res.Protected, tc.protected) {
				t.Errorf("pruned %v, protected %+v; want %v, %+v", pruned, res.Protected, tc.pruned, tc.protected)
			}

			gone := pruned
			if tc.leavesAll {
				gone = nil
			}
			for id := int64(1); id <= 6; id++ {
				_, err := s.Scan(ctx, id)
				if slices.Contains(gone, id) {
					if !errors.Is(err, store.ErrScanNotFound) {
						t.Errorf("scan %d: %v, want it pruned", id, err)
					}
					continue
				}
				if got := readScan(t, s, id); !reflect.DeepEqual(got, before[id]) {
					t.Errorf("scan %d reads differently after the prune", id)
				}
			}
			if after, err := s.Triage(ctx); err != nil || !reflect.DeepEqual(after, triage) {
				t.Errorf("triage after the prune = %v, %v; want %v", after, err, triage)
			}
			db := rawDB(t, path)
			defer db.Close()
			for _, table := range store.ContentTables {
				if n := count(t, db, `SELECT count(*) FROM `+table+`_content WHERE content_id NOT IN (SELECT content FROM `+table+`)`); n != 0 {
					t.Errorf("%s: %d content rows no scan refers to", table, n)
				}
			}
			if len(gone) > 0 && res.Reclaimed <= 0 {
				t.Errorf("reclaimed %d bytes after pruning %v", res.Reclaimed, gone)
			}
		})
	}
}

// TestPruneFailureLeavesEveryScan: a prune that fails half-way (here, its
// context cancelled after the first content table was cleaned) removes
// nothing.
func TestPruneFailureLeavesEveryScan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, _ := pruneFixture(t, path)
	defer s.Close()
	before := map[int64]scanReads{}
	for id := int64(1); id <= 6; id++ {
		before[id] = readScan(t, s, id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	store.SetSaveHook(s, func(string) { cancel() })
	if _, err := s.Prune(ctx, store.PruneOptions{Keep: 1, IncludeTriaged: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Prune = %v, want it cancelled", err)
	}
	store.SetSaveHook(s, nil)
	for id := int64(1); id <= 6; id++ {
		if got := readScan(t, s, id); !reflect.DeepEqual(got, before[id]) {
			t.Errorf("scan %d changed by a failed prune", id)
		}
	}
}

func TestPruneBadInput(t *testing.T) {
	s, _ := pruneFixture(t, filepath.Join(t.TempDir(), "stridemap.db"))
	defer s.Close()
	ctx := context.Background()
	for name, opts := range map[string]store.PruneOptions{
		"neither": {}, "both": {Keep: 1, Before: time.Now()}, "negative keep": {Keep: -1},
	} {
		if _, err := s.Prune(ctx, opts); !errors.Is(err, store.ErrNothingToPrune) {
			t.Errorf("%s: %v, want ErrNothingToPrune", name, err)
		}
	}
	if err := s.SetKept(ctx, 99, true); !errors.Is(err, store.ErrScanNotFound) {
		t.Errorf("SetKept(99) = %v, want ErrScanNotFound", err)
	}
	if scans, err := s.Scans(ctx); err != nil || len(scans) != 6 {
		t.Errorf("%d scans after bad prunes, %v; want 6", len(scans), err)
	}
}

// TestPruneVacuumsAnOldStoreOnce: a store created before incremental
// auto-vacuum is vacuumed whole by its first prune, and is incremental
// afterwards.
func TestPruneVacuumsAnOldStoreOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, _ := pruneFixture(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, stmt := range []string{`PRAGMA auto_vacuum = NONE`, `VACUUM`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if mode := pragma(t, db, "auto_vacuum"); mode != 0 {
		t.Fatalf("auto_vacuum = %d, want 0 for the old store", mode)
	}
	db.Close()
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Prune(ctx, store.PruneOptions{Keep: 1, IncludeTriaged: true})
	if err != nil || res.Reclaimed <= 0 {
		t.Fatalf("Prune = %+v, %v; want space reclaimed", res, err)
	}
	// VACUUM ran with a temporary file; the writer is back to memory.
	if mode, err := store.WriterTempStore(s); err != nil || mode != 2 {
		t.Errorf("writer's temp_store = %d, %v after the vacuum; want 2 (memory)", mode, err)
	}
	db = rawDB(t, path)
	defer db.Close()
	if mode := pragma(t, db, "auto_vacuum"); mode != 2 {
		t.Errorf("auto_vacuum = %d after the first prune, want 2 (incremental)", mode)
	}
}
