package store_test

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// TestFailedRescans: failures are grouped per target, counting only those
// after the target's latest scan was stored or confirmed; a message is
// kept on one bounded line.
func TestFailedRescans(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "stridemap.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shop := discover.Target{Files: []string{"/src/shop"}}
	live := discover.Target{Server: "https://10.0.0.1:6443", Context: "prod"}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fail := func(target discover.Target, at time.Duration, msg string) {
		t.Helper()
		if err := s.RecordFailure(ctx, store.Failure{At: t0.Add(at), Target: target, Message: msg}); err != nil {
			t.Fatal(err)
		}
	}
	fail(shop, time.Minute, "before the scan")
	rec := modeltest.SampleScan(1)
	rec.Target, rec.ContentHash = shop, "h1"
	rec.StartedAt, rec.FinishedAt = t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	id := mustSave(t, s, rec)
	fail(shop, 4*time.Minute, "open /src/shop: no such file")
	fail(live, 5*time.Minute, "connect: refused")
	fail(shop, 6*time.Minute, "line one\nline two\x1b[31m\t"+strings.Repeat("x", 1000))

	got, err := s.FailedSinceLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("FailedSinceLatest = %+v; want shop and live", got)
	}
	if g := got[0]; !g.Target.Same(shop) || g.Since != id || g.Count != 2 || !g.Last.At.Equal(t0.Add(6*time.Minute)) {
		t.Errorf("shop: %+v; want 2 failures since scan %d, the last at +6m", g, id)
	}
	last := got[0].Last.Message
	if strings.ContainsAny(last, "\n\t\x1b") || !strings.HasPrefix(last, "line one line two [31m xxx") ||
		len([]rune(last)) != store.MaxFailureMessage || !strings.HasSuffix(last, "…") {
		t.Errorf("message not one bounded line: %q (%d runes)", last, len([]rune(last)))
	}
	if g := got[1]; !g.Target.Same(live) || g.Since != 0 || g.Count != 1 || g.Last.Message != "connect: refused" {
		t.Errorf("live: %+v; want 1 failure, no scan", g)
	}
	all, err := s.Failures(ctx, 10)
	if err != nil || len(all) != 4 || all[3].Message != "before the scan" {
		t.Errorf("Failures = %+v, %v; want the 4 recorded, newest first", all, err)
	}

	// A re-scan that finds the shop again confirms its scan: its failures
	// are behind it.
	if err := s.Confirm(ctx, id, "h1", t0.Add(7*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FailedSinceLatest(ctx); err != nil || len(got) != 1 || !got[0].Target.Same(live) {
		t.Errorf("after the shop's scan is confirmed: %+v, %v; want the live target only", got, err)
	}
}

// TestPruneFailuresAndTargets: prune keeps the latest scan of every
// target, not only the newest, and removes failed re-scans older than the
// oldest scan it keeps.
func TestPruneFailuresAndTargets(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "stridemap.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shop := discover.Target{Files: []string{"/src/shop"}}
	blog := discover.Target{Files: []string{"/src/blog"}}
	day0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, target := range []discover.Target{shop, blog, shop, blog, shop, shop} {
		rec := modeltest.SampleScan(1)
		rec.Target = target
		rec.StartedAt = day0.Add(time.Duration(i+1) * 24 * time.Hour)
		rec.FinishedAt = rec.StartedAt.Add(time.Minute)
		mustSave(t, s, rec)
		if err := s.RecordFailure(ctx, store.Failure{At: rec.FinishedAt.Add(time.Hour), Target: target, Message: "failed"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Prune(ctx, store.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	var pruned []int64
	for _, sc := range res.Pruned {
		pruned = append(pruned, sc.ID)
	}
	if want := []int64{5, 3, 2, 1}; !slices.Equal(pruned, want) || len(res.Protected) != 1 || res.Protected[0] != (store.Protected{ID: 4, Reason: "latest of its target"}) {
		t.Errorf("pruned %v, protected %+v; want %v, scan 4 kept as the blog's latest", pruned, res.Protected, want)
	}
	// Scan 4 (day 4) is the oldest left: the failures after scans 1 to 3 go.
	if left, err := s.Failures(ctx, 10); err != nil || len(left) != 3 || res.Failures != 3 {
		t.Errorf("failures left %d, removed %d, %v; want 3 and 3", len(left), res.Failures, err)
	}
	// Nothing left to prune: the failures are still bounded by the oldest scan.
	if err := s.RecordFailure(ctx, store.Failure{At: day0, Target: shop, Message: "older than every scan"}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Prune(ctx, store.PruneOptions{Keep: 1}); err != nil || len(res.Pruned) != 0 || res.Failures != 1 {
		t.Errorf("second prune: %+v, %v; want no scan and 1 failure removed", res, err)
	}
}

// TestStoreBeforeFailuresOpens: a store an older stridemap left at schema 7
// gains the table of failures, and its scans read as before.
func TestStoreBeforeFailuresOpens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := mustSave(t, s, modeltest.SampleScan(1))
	before := readScan(t, s, id)
	s.Close()

	db := rawDB(t, path)
	modeltest.UndoRowGroups(t, db)
	for _, stmt := range []string{`DROP TABLE rescan_failures`, `PRAGMA user_version = 7`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	if s, err = store.Open(ctx, path); err != nil {
		t.Fatalf("open a schema-7 store: %v", err)
	}
	defer s.Close()
	if got := readScan(t, s, id); !reflect.DeepEqual(got, before) {
		t.Errorf("scan %d reads differently after the upgrade", id)
	}
	if err := s.RecordFailure(ctx, store.Failure{At: time.Now(), Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FailedSinceLatest(ctx); err != nil || len(got) != 1 || got[0].Since != id || !got[0].Target.IsZero() {
		t.Errorf("after the upgrade: %+v, %v; want one failure of the unknown target since scan %d", got, err, id)
	}
}

// TestConfirm: a re-scan's confirmation gives a scan stored without a
// content hash (by a plain scan) the hash confirmed, moves the time of a
// scan that has the same one, and is refused, changing nothing, for a
// scan whose content hashes differently.
func TestConfirm(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "stridemap.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := modeltest.SampleScan(1)
	rec.StartedAt, rec.FinishedAt = t0, t0.Add(time.Minute)
	id := mustSave(t, s, rec)
	content := func() store.Content {
		t.Helper()
		c, ok, err := s.Content(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return store.Content{}
		}
		return c
	}
	if c := content(); c.Hash != "" {
		t.Fatalf("a scan saved without a hash has %+v", c)
	}
	for i, at := range []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
		if err := s.Confirm(ctx, id, "h1", at); err != nil {
			t.Fatalf("confirmation %d: %v", i+1, err)
		}
		if c := content(); c.Hash != "h1" || !c.ConfirmedAt.Equal(at) {
			t.Errorf("after confirmation %d at %v: %+v", i+1, at, c)
		}
	}
	if err := s.Confirm(ctx, id, "h2", t0.Add(3*time.Hour)); err == nil || !strings.Contains(err.Error(), "hashes differently") {
		t.Errorf("confirming other content: %v", err)
	}
	if c := content(); c.Hash != "h1" || !c.ConfirmedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("a refused confirmation changed the content record: %+v", c)
	}
}
