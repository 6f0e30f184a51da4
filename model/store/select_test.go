package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// TestTargets: a scan's target is stored and read back; "previous" skips
// the scans of other targets; a scan stored before targets were recorded
// gets one from its sources when they were absolute paths.
func TestTargets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	shop := discover.Target{Files: []string{"/src/shop/b", "/src/shop/a"}}
	live := discover.Target{Server: "https://10.0.0.1:6443", Context: "prod", Namespaces: []string{"shop"}}
	save := func(target discover.Target, sources ...discover.Source) int64 {
		rec := modeltest.SampleScan(1)
		rec.Target, rec.Sources = target, sources
		return mustSave(t, s, rec)
	}
	first := save(shop)
	save(live)
	third := save(discover.Target{Files: []string{"/src/shop/a", "/src/shop/b"}})
	scans, err := s.Scans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := scans[0].Target.String(); got != "/src/shop/a + /src/shop/b" {
		t.Errorf("target = %q", got)
	}
	if got := scans[1].Target.String(); got != "https://10.0.0.1:6443 (context prod, namespaces shop)" {
		t.Errorf("live target = %q", got)
	}
	if prev, ok := store.Previous(scans, scans[0]); !ok || prev.ID != first || scans[0].ID != third {
		t.Errorf("previous of scan %d = %d, %v; want %d (the order paths were named in is no other target)", scans[0].ID, prev.ID, ok, first)
	}
	if latest, ok := store.LatestOf(scans, live); !ok || latest.ID != scans[1].ID {
		t.Errorf("latest of the live target = %d, %v; want %d, not the newer scan of shop", latest.ID, ok, scans[1].ID)
	}
	if _, ok := store.LatestOf(scans, discover.Target{Files: []string{"/elsewhere"}}); ok {
		t.Error("a target never scanned has a latest scan")
	}
	if _, err := store.Pick(scans, "previous", &scans[1]); !errors.Is(err, store.ErrNothingToCompare) {
		t.Errorf("previous of the only live scan: %v", err)
	}
	abs := save(shop, discover.Source{Kind: discover.SourceDir, Path: "/src/shop/a"})
	rel := save(shop, discover.Source{Kind: discover.SourceDir, Path: "deploy"})
	s.Close()

	// Back to schema 6, as an older stridemap left the store: the targets
	// (and the failed re-scans of 0008) are gone, the sources are there.
	db := rawDB(t, path)
	modeltest.UndoRowGroups(t, db)
	for _, stmt := range []string{`DROP TABLE rescan_failures`, `DROP INDEX scans_target`, `ALTER TABLE scans DROP COLUMN target`, `PRAGMA user_version = 6`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	if s, err = store.Open(ctx, path); err != nil {
		t.Fatalf("open a schema-6 store: %v", err)
	}
	defer s.Close()
	for _, tc := range []struct {
		id   int64
		want string
	}{{first, "unknown"}, {abs, "/src/shop/a"}, {rel, "unknown"}} {
		info, err := s.Scan(ctx, tc.id)
		if err != nil || info.Target.String() != tc.want {
			t.Errorf("scan %d migrated: target %q, %v; want %q", tc.id, info.Target, err, tc.want)
		}
	}
}
