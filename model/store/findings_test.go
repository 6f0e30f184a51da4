package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// findingsScan is a sample scan whose findings hold every case the stored
// groups must give back, in ID order as the catalog lists them: elements
// with several findings that are not consecutive, an element with one, an
// ID that is not RULE@ELEMENT, nil data, an element without a namespace,
// and text that JSON escapes (as the threats package encodes it, HTML
// escaped).
func findingsScan() store.ScanRecord {
	rec := scanWithFindings(2)
	data := func(detail string) json.RawMessage {
		b, err := json.Marshal(map[string]any{"likelihood": 2, "evidence": []map[string]string{{"detail": detail}}})
		if err != nil {
			panic(err)
		}
		return b
	}
	finding := func(rule, element, namespace, severity string) store.Finding {
		return store.Finding{ID: rule + "@" + element, RuleID: rule, Stride: "tampering", Severity: severity, Element: element,
			Namespace: namespace, Data: data(rule + " on " + element + " <&> \u2028 \"quoted\"")}
	}
	rec.Findings = []store.Finding{
		finding("no-probe", "external:internet", "", "low"),
		finding("no-probe", "workload:shop/a", "shop", "low"),
		finding("no-probe", "workload:shop/b", "shop", "medium"),
		finding("plaintext", "workload:shop/a", "shop", "high"),
		finding("root", "workload:shop/a", "shop", "high"),
		finding("root", "workload:shop/b", "shop", "high"),
		{ID: "x-custom \u2028 id", RuleID: "custom", Stride: "spoofing", Severity: "critical", Element: "workload:shop/a", Namespace: "shop"},
	}
	return rec
}

// withoutContent clears what reads set and SaveScan ignores, to compare
// findings read back with those saved.
func withoutContent(findings []store.Finding) []store.Finding {
	out := make([]store.Finding, len(findings))
	for i, f := range findings {
		f.Content = 0
		out[i] = f
	}
	return out
}

// TestFindingGroups: findings saved as one row per element read back as
// they were saved, in ID order, through every read; a scan that changes
// one element's findings adds one row, and a duplicate ID saves nothing.
func TestFindingGroups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := findingsScan()
	want := rec.Findings
	a := mustSave(t, s, rec)
	got, err := s.Findings(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutContent(got), want) {
		t.Errorf("Findings:\n got %s\nwant %s", dump(got), dump(want))
	}
	db := rawDB(t, path)
	defer db.Close()
	if n := count(t, db, `SELECT count(*) FROM findings WHERE scan_id = `+fmt.Sprint(a)); n != 3 {
		t.Errorf("%d findings rows for %d findings of 3 elements", n, len(want))
	}

	// A second scan where only b's root finding changed shares every other
	// row, and both scans read back whole as a pair.
	changed := findingsScan()
	changed.Findings[5].Severity = "critical"
	b := mustSave(t, s, changed)
	if n := count(t, db, `SELECT count(*) FROM findings_content`); n != 4 {
		t.Errorf("%d findings contents after a scan that changed one element's findings, want 4", n)
	}
	fa, fb, err := s.FindingsPair(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutContent(fa), want) || !reflect.DeepEqual(withoutContent(fb), changed.Findings) {
		t.Errorf("FindingsPair:\n got %s\n     %s\nwant %s\n     %s", dump(fa), dump(fb), dump(want), dump(changed.Findings))
	}
	// The delta holds the findings of the one element whose findings
	// differ, on both sides, and counts the others as shared.
	d, err := s.Delta(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	onlyB := func(findings []store.Finding) []store.Finding {
		return []store.Finding{findings[2], findings[5]}
	}
	if !reflect.DeepEqual(withoutContent(d.FindingsA), onlyB(want)) || !reflect.DeepEqual(withoutContent(d.FindingsB), onlyB(changed.Findings)) || d.SharedFindings != 5 {
		t.Errorf("Delta findings:\n got %s\n     %s, %d shared\nwant %s\n     %s, 5 shared",
			dump(d.FindingsA), dump(d.FindingsB), d.SharedFindings, dump(onlyB(want)), dump(onlyB(changed.Findings)))
	}

	// Two findings with one ID are refused, and nothing is saved.
	dup := findingsScan()
	dup.Findings[2].ID = dup.Findings[1].ID
	if _, err := s.SaveScan(ctx, dup); err == nil || !strings.Contains(err.Error(), `duplicate finding ID "no-probe@workload:shop/a"`) {
		t.Errorf("SaveScan with a duplicate finding ID = %v", err)
	}
	if scans, err := s.Scans(ctx); err != nil || len(scans) != 2 {
		t.Errorf("after the refused save: %d scans, %v; want 2", len(scans), err)
	}
}

// TestStoreBeforeFindingGroupsOpens: a store that kept one row per
// finding reads back the same after migration 0011, and a scan saved
// afterwards shares the groups it has in common with the migrated ones:
// the groups the migration builds in SQL are byte for byte the ones
// SaveScan writes.
func TestStoreBeforeFindingGroupsOpens(t *testing.T) {
	first, second := findingsScan(), scanWithFindings(3)
	s, path, _, _ := afterUpgrade(t, "schema-10", func(db *sql.DB) {
		modeltest.UndoFindingGroups(t, db)
		if _, err := db.Exec(`PRAGMA user_version = 10`); err != nil {
			t.Fatal(err)
		}
		if n, all := count(t, db, `SELECT count(*) FROM findings`), len(first.Findings)+len(second.Findings); n != all {
			t.Fatalf("old layout has %d findings rows, want one per finding (%d)", n, all)
		}
	}, first, second)
	db := rawDB(t, path)
	defer db.Close()
	before := count(t, db, `SELECT count(*) FROM findings_content`)
	mustSave(t, s, first)
	if after := count(t, db, `SELECT count(*) FROM findings_content`); after != before {
		t.Errorf("saving the first scan again added %d findings rows: the migration's groups differ from SaveScan's", after-before)
	}
}
