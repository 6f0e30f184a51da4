package store_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// gappedScan is a sample scan whose live read could not see NetworkPolicies
// in one namespace nor ClusterRoles anywhere.
func gappedScan() store.ScanRecord {
	rec := modeltest.SampleScan(1)
	ns := modeltest.Namespace(0)
	rec.Graph.Gaps = []discover.Gap{
		{Group: "networking.k8s.io", Kind: "NetworkPolicy", Namespace: ns, Reason: "forbidden"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Reason: "the server answered 500"},
	}
	rec.NotAssessed = []store.NotAssessed{
		{RuleID: "datastore-reachable-by-any-workload", Title: "Data store reachable by any workload", Element: "workload:" + ns + "/cart-db", Namespace: ns, Gap: rec.Graph.Gaps[0]},
		{RuleID: "rbac-wildcard", Title: "Wildcard RBAC", Element: "workload:" + ns + "/cart", Namespace: ns, Gap: rec.Graph.Gaps[1]},
	}
	return rec
}

func TestCoverageRoundTrip(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()
	rec := gappedScan()
	id := mustSave(t, s, rec)

	g, err := s.Graph(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Gaps, rec.Graph.Gaps) {
		t.Errorf("Gaps = %+v, want %+v", g.Gaps, rec.Graph.Gaps)
	}
	if gaps, err := s.Gaps(ctx, id); err != nil || !reflect.DeepEqual(gaps, rec.Graph.Gaps) {
		t.Errorf("Gaps = %+v, %v; want %+v", gaps, err, rec.Graph.Gaps)
	}
	got, err := s.NotAssessed(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rec.NotAssessed) {
		t.Errorf("NotAssessed = %+v, want %+v", got, rec.NotAssessed)
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Counts.Gaps != 2 || info.Counts.NotAssessed != 2 || info.Counts.Findings != 0 {
		t.Errorf("counts: %d gaps, %d not assessed, %d findings; want 2, 2, 0", info.Counts.Gaps, info.Counts.NotAssessed, info.Counts.Findings)
	}
	if want := "not assessed: NetworkPolicy.networking.k8s.io in namespace " + modeltest.Namespace(0) + " could not be read (forbidden)"; got[0].Reason() != want {
		t.Errorf("Reason = %q, want %q", got[0].Reason(), want)
	}

	// A scan without gaps reads back without them.
	plain := mustSave(t, s, modeltest.SampleScan(1))
	if g, err := s.Graph(ctx, plain); err != nil || g.Gaps != nil {
		t.Errorf("Gaps of a scan without = %#v, %v; want nil", g.Gaps, err)
	}
	if na, err := s.NotAssessed(ctx, plain); err != nil || na == nil || len(na) != 0 {
		t.Errorf("NotAssessed of a scan without = %#v, %v; want empty, not nil", na, err)
	}
}

// TestStoreBeforeGapsOpens: a store written before coverage gaps existed
// (schema 3) is brought up to date on open and its scans read as scans
// without gaps.
func TestStoreBeforeGapsOpens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := mustSave(t, s, modeltest.SampleScan(1))
	s.Close()

	db := rawDB(t, path)
	undoContent(t, db)
	for _, stmt := range []string{
		`DROP TABLE scan_content`, // 0005
		`DROP TABLE gaps`, `DROP TABLE not_assessed`,
		`ALTER TABLE scans DROP COLUMN n_gaps`, `ALTER TABLE scans DROP COLUMN n_not_assessed`,
		`PRAGMA user_version = 3`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s, err = store.Open(ctx, path)
	if err != nil {
		t.Fatalf("open a schema-3 store: %v", err)
	}
	defer s.Close()
	info, err := s.Scan(ctx, id)
	if err != nil || info.Counts.Gaps != 0 || info.Counts.NotAssessed != 0 {
		t.Errorf("Scan = %+v, %v; want no gaps", info.Counts, err)
	}
	if na, err := s.NotAssessed(ctx, id); err != nil || len(na) != 0 {
		t.Errorf("NotAssessed = %v, %v; want none", na, err)
	}
	// And it takes scans with gaps from now on.
	rec := gappedScan()
	id = mustSave(t, s, rec)
	if g, err := s.Graph(ctx, id); err != nil || len(g.Gaps) != 2 {
		t.Errorf("Graph gaps after upgrade = %v, %v; want 2", g.Gaps, err)
	}
}
