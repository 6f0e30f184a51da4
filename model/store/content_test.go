package store_test

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// undoContent rewrites a store's element tables in the layout before
// migration 0006, one row per element and scan with its columns, and sets
// user_version to 5, as a store written before content sharing would be.
func undoContent(t *testing.T, db *sql.DB) {
	t.Helper()
	modeltest.UndoRowGroups(t, db)
	for _, table := range store.ContentTables {
		rows, err := db.Query(`SELECT name FROM pragma_table_info(?) WHERE name NOT IN ('content_id', 'hash') ORDER BY cid`, table+"_content")
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, "c."+c)
		}
		rows.Close()
		if len(cols) == 0 {
			t.Fatalf("%s_content has no columns", table)
		}
		for _, stmt := range []string{
			`CREATE TABLE old_` + table + ` AS SELECT m.scan_id, m.ord, ` + strings.Join(cols, ", ") + ` FROM ` + table + ` m JOIN ` + table + `_content c ON c.content_id = m.content`,
			`DROP TABLE ` + table, `DROP TABLE ` + table + `_content`,
			`ALTER TABLE old_` + table + ` RENAME TO ` + table,
		} {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	for _, stmt := range []string{`DROP TABLE rescan_failures` /* 0008 */, `DROP INDEX scans_target`, `ALTER TABLE scans DROP COLUMN target`, `ALTER TABLE scans DROP COLUMN kept`, `PRAGMA user_version = 5`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// scanReads is everything the store gives back about one scan.
type scanReads struct {
	Info        store.ScanInfo
	Graph       any
	Objects     []store.ObjectRef
	Problems    any
	Findings    []store.Finding
	Rules       []store.Rule
	NotAssessed []store.NotAssessed
}

func readScan(t *testing.T, s *store.Store, id int64) scanReads {
	t.Helper()
	ctx := context.Background()
	var r scanReads
	var err error
	if r.Info, err = s.Scan(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.Graph, err = s.Graph(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.Objects, err = s.Objects(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.Problems, err = s.Problems(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.Findings, err = s.Findings(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.Rules, err = s.Rules(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.NotAssessed, err = s.NotAssessed(ctx, id); err != nil {
		t.Fatal(err)
	}
	return r
}

// scanWithFindings is a sample scan with findings, rules, gaps and rules
// not assessed, so every element table has rows.
func scanWithFindings(n int) store.ScanRecord {
	rec := gappedScan()
	sample := modeltest.SampleScan(n)
	rec.Graph.Nodes, rec.Graph.Edges, rec.Graph.Controls = sample.Graph.Nodes, sample.Graph.Edges, sample.Graph.Controls
	rec.Objects = sample.Objects
	for _, node := range rec.Graph.Nodes {
		id := "no-probe@" + node.ID
		data, _ := json.Marshal(map[string]string{"id": id})
		rec.Findings = append(rec.Findings, store.Finding{ID: id, RuleID: "no-probe", Stride: "denial-of-service", Severity: "low",
			Element: node.ID, Namespace: node.Namespace, Data: data})
	}
	// In ID order, as the catalog lists findings and the store reads them.
	slices.SortFunc(rec.Findings, func(a, b store.Finding) int { return cmp.Compare(a.ID, b.ID) })
	rec.Rules = []store.Rule{{ID: "no-probe", Data: []byte(`{"title":"No probe"}`)}}
	return rec
}

// TestStoreBeforeContentOpens: a store written before elements were shared
// between scans reads back the same after the upgrade, and a scan saved
// afterwards shares the elements it has in common with the old ones.
func TestStoreBeforeContentOpens(t *testing.T) {
	rec := scanWithFindings(2)
	s, path, ids, want := afterUpgrade(t, "schema-5", func(db *sql.DB) {
		undoContent(t, db)
		if rows := count(t, db, `SELECT count(*) FROM nodes`); rows == 0 {
			t.Fatalf("old layout has %d node rows", rows)
		}
	}, rec, scanWithFindings(3))
	// The two old scans share namespace 0 and 1; the rows migrated once.
	db := rawDB(t, path)
	defer db.Close()
	nodes := count(t, db, `SELECT count(*) FROM nodes_content`)
	if places := count(t, db, `SELECT count(*) FROM nodes`); nodes >= places {
		t.Errorf("%d node contents for %d places: the migration shared nothing", nodes, places)
	}
	// A scan equal to the first adds places but no content: the keys Go
	// computes match the ones the migration computed in SQL.
	before := contentRows(t, db)
	id := mustSave(t, s, rec)
	if after := contentRows(t, db); !reflect.DeepEqual(after, before) {
		t.Errorf("content rows after saving an unchanged scan: %v, want %v", after, before)
	}
	if got, first := readScan(t, s, id), want[ids[0]]; !reflect.DeepEqual(got.Graph, first.Graph) || !reflect.DeepEqual(got.Findings, first.Findings) {
		t.Errorf("the re-saved scan reads back differently")
	}
}

// afterUpgrade saves recs into a new store, rewinds the file to an older
// schema with rewind, which sets user_version, and opens it again: every
// scan must read back as it did before (compared as read through the API).
// It returns the upgraded store, closed when the test ends, its path, the
// scans' IDs and what they read back.
func afterUpgrade(t *testing.T, old string, rewind func(*sql.DB), recs ...store.ScanRecord) (*store.Store, string, []int64, map[int64]scanReads) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	want := map[int64]scanReads{}
	for _, rec := range recs {
		id := mustSave(t, s, rec)
		ids, want[id] = append(ids, id), readScan(t, s, id)
	}
	s.Close()

	db := rawDB(t, path)
	rewind(db)
	db.Close()

	if s, err = store.Open(ctx, path); err != nil {
		t.Fatalf("open a %s store: %v", old, err)
	}
	t.Cleanup(func() { s.Close() })
	for _, id := range ids {
		if got := readScan(t, s, id); dump(got) != dump(want[id]) {
			t.Errorf("scan %d after the upgrade:\n got %s\nwant %s", id, dump(got), dump(want[id]))
		}
	}
	return s, path, ids, want
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func contentRows(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range store.ContentTables {
		out[table] = count(t, db, `SELECT count(*) FROM `+table+`_content`)
	}
	return out
}
