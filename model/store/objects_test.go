package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// objectsScan is a sample scan whose inventory index holds every case the
// stored groups must give back: several objects of one file and
// namespace, a file with two namespaces, a namespace split by another
// file, cluster-scoped objects, objects read from an API server (a file
// each), a line of 0, and text that JSON escapes.
func objectsScan() store.ScanRecord {
	rec := scanWithFindings(2)
	ref := func(kind, ns, name, file string, line int) store.ObjectRef {
		return store.ObjectRef{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name, Location: discover.Location{File: file, Line: line}}
	}
	rec.Objects = []store.ObjectRef{
		ref("Namespace", "", "shop", "deploy/shop.yaml", 1),
		ref("Service", "shop", "web", "deploy/shop.yaml", 5),
		ref("ConfigMap", "shop", "web <&> \u2028 \u2029 \"quoted\"", "deploy/shop.yaml", 20),
		ref("Service", "pay", "api", "deploy/shop.yaml", 31),
		ref("Service", "shop", "db", "deploy/db.yaml", 0),
		ref("Service", "shop", "cache", "deploy/shop.yaml", 40), // shop again, after db.yaml
		ref("Pod", "shop", "web-1", "https://10.0.0.1:6443/api/v1/namespaces/shop/pods/web-1", 0),
		ref("Pod", "shop", "web-2", "https://10.0.0.1:6443/api/v1/namespaces/shop/pods/web-2", 0),
	}
	return rec
}

// TestObjectGroups: the inventory index saved as one row per run of one
// file and namespace reads back as it was saved, in order.
func TestObjectGroups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := objectsScan()
	id := mustSave(t, s, rec)
	got, err := s.Objects(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rec.Objects) {
		t.Errorf("Objects:\n got %+v\nwant %+v", got, rec.Objects)
	}
	db := rawDB(t, path)
	defer db.Close()
	// Seven runs: the Namespace, shop's two, pay's, db.yaml's, shop's
	// last, and a run per pod.
	if n := count(t, db, `SELECT count(*) FROM objects WHERE scan_id = `+fmt.Sprint(id)); n != 7 {
		t.Errorf("%d objects rows for %d objects in 7 runs", n, len(rec.Objects))
	}
	// The scan counts objects, not rows.
	saved, err := s.Scan(ctx, id)
	if err != nil || saved.Counts.Objects != len(rec.Objects) {
		t.Errorf("Counts.Objects = %d, %v; want %d", saved.Counts.Objects, err, len(rec.Objects))
	}
}

// TestStoreBeforeObjectGroupsOpens: a store that kept one row per object
// reads back the same after migration 0010, and the groups the migration
// builds in SQL are byte for byte the ones SaveScan writes.
func TestStoreBeforeObjectGroupsOpens(t *testing.T) {
	first, second := objectsScan(), scanWithFindings(3)
	s, path, ids, want := afterUpgrade(t, "schema-9", func(db *sql.DB) {
		modeltest.UndoFindingGroups(t, db)
		modeltest.UndoObjectGroups(t, db)
		if _, err := db.Exec(`PRAGMA user_version = 9`); err != nil {
			t.Fatal(err)
		}
		if n, all := count(t, db, `SELECT count(*) FROM objects`), len(first.Objects)+len(second.Objects); n != all {
			t.Fatalf("old layout has %d objects rows, want one per object (%d)", n, all)
		}
	}, first, second)
	db := rawDB(t, path)
	defer db.Close()
	before := count(t, db, `SELECT count(*) FROM objects_content`)
	id := mustSave(t, s, first)
	if after := count(t, db, `SELECT count(*) FROM objects_content`); after != before {
		t.Errorf("saving the first scan again added %d objects rows: the migration's groups differ from SaveScan's", after-before)
	}
	if got := readScan(t, s, id); !reflect.DeepEqual(got.Objects, want[ids[0]].Objects) {
		t.Errorf("the re-saved scan reads back differently")
	}
}
