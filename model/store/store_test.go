package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

func TestGraphRoundTrip(t *testing.T) {
	emptySlices := &model.Graph{Nodes: []model.Node{}, Edges: []model.Edge{}, Boundaries: []model.Boundary{},
		Controls: []model.Control{}, Dangling: []model.DanglingRef{}}
	tests := []struct {
		name  string
		graph *model.Graph
		want  *model.Graph // nil: the graph itself
	}{
		{name: "one namespace", graph: modeltest.SampleGraph(1)},
		{name: "four namespaces, rows in batches and a tail", graph: modeltest.SampleGraph(4)},
		{name: "internet only", graph: modeltest.SampleGraph(0)},
		{name: "empty slices", graph: emptySlices},
		{name: "nil slices read back empty", graph: &model.Graph{}, want: emptySlices},
		{name: "nil graph saved empty", graph: nil, want: emptySlices},
		{name: "text needing escapes", graph: &model.Graph{
			Nodes: []model.Node{{ID: `workload:a/"quoted" <b> & 'c' ünï 🙂`, Type: model.Process, Name: "x\ny\tz\x00",
				Labels: model.Labels{"k": `{"not":"json"}`}}},
			Edges: []model.Edge{}, Boundaries: []model.Boundary{}, Controls: []model.Control{}, Dangling: []model.DanglingRef{},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := modeltest.OpenStore(t)
			ctx := context.Background()
			rec := modeltest.SampleScan(1)
			rec.Graph = tc.graph
			id := mustSave(t, s, rec)

			got, err := s.Graph(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == nil {
				want = tc.graph
			}
			if d := diffGraph(want, got); d != "" {
				t.Fatalf("graph read back differs from the one saved:\n%s", d)
			}

			problems, err := s.Problems(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(problems, rec.Problems) {
				t.Errorf("Problems = %+v, want %+v", problems, rec.Problems)
			}
			objects, err := s.Objects(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(objects, rec.Objects) {
				t.Errorf("Objects differ: got %d, want %d", len(objects), len(rec.Objects))
			}
			info, err := s.Scan(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info.Sources, rec.Sources) {
				t.Errorf("Sources = %+v, want %+v", info.Sources, rec.Sources)
			}
			if !info.StartedAt.Equal(rec.StartedAt) || !info.FinishedAt.Equal(rec.FinishedAt) {
				t.Errorf("times = %v..%v, want %v..%v", info.StartedAt, info.FinishedAt, rec.StartedAt, rec.FinishedAt)
			}
		})
	}
}

func TestEmptyScanReadsBackEmptyNotNil(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()
	id := mustSave(t, s, store.ScanRecord{ToolVersion: "v0"})
	problems, err := s.Problems(ctx, id)
	if err != nil || problems == nil || len(problems) != 0 {
		t.Errorf("Problems = %#v, %v; want empty, not nil", problems, err)
	}
	objects, err := s.Objects(ctx, id)
	if err != nil || objects == nil || len(objects) != 0 {
		t.Errorf("Objects = %#v, %v; want empty, not nil", objects, err)
	}
	info, err := s.Scan(ctx, id)
	if err != nil || info.Sources == nil || info.Counts.NodesByType == nil {
		t.Errorf("Scan = %#v, %v; want empty Sources and NodesByType, not nil", info, err)
	}
	if !info.StartedAt.IsZero() {
		t.Errorf("StartedAt = %v, want zero", info.StartedAt)
	}
}

// sampleCounts is what SaveScan must count for modeltest.SampleScan(n).
func sampleCounts(n int) store.Counts {
	return store.Counts{
		Objects: 60 * n, Nodes: modeltest.NodesPerNamespace*n + 2, Edges: modeltest.EdgesPerNamespace * n,
		Boundaries: n + 2, Controls: 15 * n, Dangling: n, Problems: 1, Exposed: n,
		NodesByType:        map[model.NodeType]int{model.Process: 17 * n, model.DataStore: 2 * n, model.Gateway: n, model.ExternalEntity: 2},
		FindingsBySeverity: map[string]int{},
	}
}

func TestFindingsRoundTrip(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()
	rec := modeltest.SampleScan(1)
	rec.Catalog = "builtin (2 rules)"
	rec.Findings = []store.Finding{
		{ID: "a@workload:shop/x", RuleID: "a", Stride: "tampering", Severity: "high", Element: "workload:shop/x", Namespace: "shop", Data: []byte(`{"id":"a@workload:shop/x"}`)},
		{ID: "b@boundary:cluster", RuleID: "b", Stride: "repudiation", Severity: "medium", Element: "boundary:cluster", Data: []byte(`{"id":"b@boundary:cluster"}`)},
	}
	rec.Rules = []store.Rule{{ID: "a", Data: []byte(`{"title":"A"}`)}, {ID: "b", Data: []byte(`{"title":"B"}`)}}
	id, err := s.SaveScan(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := s.Rules(ctx, id)
	if err != nil || !reflect.DeepEqual(rules, rec.Rules) {
		t.Errorf("rules read back = %+v, %v", rules, err)
	}
	got, err := s.Findings(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].Content == 0 {
			t.Errorf("finding %s read back without the row it is stored in", got[i].ID)
		}
		got[i].Content = 0 // set by reads only
	}
	if !reflect.DeepEqual(got, rec.Findings) {
		t.Errorf("findings read back = %+v, want %+v", got, rec.Findings)
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Catalog != rec.Catalog || info.Counts.Findings != 2 || !reflect.DeepEqual(info.Counts.FindingsBySeverity, map[string]int{"high": 1, "medium": 1}) {
		t.Errorf("scan info = catalog %q counts %+v", info.Catalog, info.Counts)
	}
	if _, err := s.Findings(ctx, id+1); !errors.Is(err, store.ErrScanNotFound) {
		t.Errorf("findings of a missing scan: %v, want ErrScanNotFound", err)
	}
	rec.Findings = append(rec.Findings, rec.Findings[0])
	if _, err := s.SaveScan(ctx, rec); err == nil || !strings.Contains(err.Error(), "duplicate finding") {
		t.Errorf("a duplicate finding ID should fail the save: %v", err)
	}
}

// TestFindingsEncodedAsSaved: findings whose JSON EncodeFinding gives as
// they are saved (more than fit in the encoder's window) read back as the
// same findings given whole; an error encoding one fails the save, naming
// it, and saves nothing.
func TestFindingsEncodedAsSaved(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()
	const n = 10000
	data := func(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"id":"r@workload:shop/w%d"}`, i)) }
	whole := modeltest.SampleScan(1)
	lazy := modeltest.SampleScan(1)
	for i := range n {
		f := store.Finding{ID: fmt.Sprintf("r@workload:shop/w%d", i), RuleID: "r", Stride: "tampering", Severity: "high", Element: fmt.Sprintf("workload:shop/w%d", i), Namespace: "shop"}
		lazy.Findings = append(lazy.Findings, f)
		f.Data = data(i)
		whole.Findings = append(whole.Findings, f)
	}
	lazy.EncodeFinding = func(i int) (json.RawMessage, error) { return data(i), nil }
	read := func(rec store.ScanRecord) []store.Finding {
		t.Helper()
		id, err := s.SaveScan(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Findings(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i].Content = 0
		}
		return got
	}
	if got, want := read(lazy), read(whole); !reflect.DeepEqual(got, want) || len(got) != n {
		t.Fatalf("%d findings encoded as saved differ from the %d given whole", len(got), len(want))
	}
	before, err := s.Scans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lazy.EncodeFinding = func(i int) (json.RawMessage, error) {
		if i == 7000 {
			return nil, errors.New("finding r@workload:shop/w7000: cannot encode")
		}
		return data(i), nil
	}
	if _, err := s.SaveScan(ctx, lazy); err == nil || !strings.Contains(err.Error(), "w7000: cannot encode") || !strings.Contains(err.Error(), "nothing was saved") {
		t.Errorf("a finding that cannot be encoded: %v", err)
	}
	if after, err := s.Scans(ctx); err != nil || len(after) != len(before) {
		t.Errorf("the failed save left %d scans, want %d (%v)", len(after), len(before), err)
	}
}

func TestScansNewestFirstWithCounts(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()

	var want []store.ScanInfo
	for i, n := range []int{1, 4, 2} {
		rec := modeltest.SampleScan(n)
		rec.StartedAt = rec.StartedAt.Add(time.Duration(i) * time.Hour)
		rec.FinishedAt = rec.FinishedAt.Add(time.Duration(i) * time.Hour)
		rec.ToolVersion = fmt.Sprintf("v0.%d.0", i)
		c := sampleCounts(n)
		if i == 2 { // the newest scan could not read one file
			rec.Problems = append(rec.Problems, discover.Problem{Severity: discover.SeverityError, Code: "yaml",
				Location: discover.Location{File: "manifests/broken.yaml", Line: 3}, Message: "mapping values are not allowed here"})
			c.Problems, c.Errors = 2, 1
		}
		id := mustSave(t, s, rec)
		if id != int64(i+1) {
			t.Fatalf("scan %d saved with ID %d, want %d", i, id, i+1)
		}
		want = append([]store.ScanInfo{{ID: id, StartedAt: rec.StartedAt, FinishedAt: rec.FinishedAt,
			ToolVersion: rec.ToolVersion, Sources: rec.Sources, Partial: c.Errors > 0, Counts: c}}, want...)
	}

	got, err := s.Scans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Scans:\n got %s\nwant %s", dump(got), dump(want))
	}
	for _, w := range want {
		t.Run(fmt.Sprintf("scan %d", w.ID), func(t *testing.T) {
			info, err := s.Scan(ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info, w) {
				t.Errorf("Scan(%d):\n got %s\nwant %s", w.ID, dump(info), dump(w))
			}
		})
	}
	latest, err := s.LatestScanID(ctx)
	if err != nil || latest != 3 {
		t.Errorf("LatestScanID = %d, %v; want 3", latest, err)
	}
}

func TestNotFoundErrors(t *testing.T) {
	ctx := context.Background()
	empty := modeltest.OpenStore(t)
	one := modeltest.OpenStore(t)
	mustSave(t, one, modeltest.SampleScan(1))

	if scans, err := empty.Scans(ctx); err != nil || scans == nil || len(scans) != 0 {
		t.Errorf("Scans of an empty store = %#v, %v; want an empty list and no error", scans, err)
	}
	tests := []struct {
		name   string
		call   func() error
		target error
		says   []string
	}{
		{"latest of empty store", func() error { _, err := empty.LatestScanID(ctx); return err },
			store.ErrNoScans, []string{empty.Path(), "stridemap scan -f DIR"}},
		{"scan of empty store", func() error { _, err := empty.Scan(ctx, 1); return err },
			store.ErrScanNotFound, []string{empty.Path(), "no scan 1", "stridemap scan -f DIR"}},
		{"scan", func() error { _, err := one.Scan(ctx, 2); return err },
			store.ErrScanNotFound, []string{one.Path(), "no scan 2", "latest is 1"}},
		{"graph", func() error { _, err := one.Graph(ctx, 7); return err },
			store.ErrScanNotFound, []string{"no scan 7"}},
		{"problems", func() error { _, err := one.Problems(ctx, 0); return err },
			store.ErrScanNotFound, []string{"no scan 0"}},
		{"objects", func() error { _, err := one.Objects(ctx, -1); return err },
			store.ErrScanNotFound, []string{"no scan -1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.target) {
				t.Fatalf("error = %v, want one wrapping %v", err, tc.target)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestHistoryKeptPerScan(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()

	first := modeltest.SampleScan(2)
	second := modeltest.SampleScan(2)
	// The second scan drops a node, gains an edge and has other problems.
	g := second.Graph
	g.Nodes = append(g.Nodes[:5:5], g.Nodes[6:]...)
	g.Edges = append(g.Edges, model.Edge{ID: "workload:shop/ad->workload:shop/cart:7070", From: "workload:shop/ad",
		To: "workload:shop/cart", Port: 7070, Protocol: "grpc", Encryption: model.EncryptionUnknown, Observed: true,
		Evidence: []model.Evidence{{Detail: "observed"}}})
	second.Problems = []discover.Problem{{Severity: discover.SeverityError, Code: "kustomize",
		Location: discover.Location{File: "overlays/prod"}, Message: "kustomize build failed"}}
	second.Objects = second.Objects[:10]

	ids := []int64{mustSave(t, s, first), mustSave(t, s, second)}
	for i, rec := range []store.ScanRecord{first, second} {
		t.Run(fmt.Sprintf("scan %d", ids[i]), func(t *testing.T) {
			got, err := s.Graph(ctx, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if d := diffGraph(rec.Graph, got); d != "" {
				t.Errorf("graph differs:\n%s", d)
			}
			problems, err := s.Problems(ctx, ids[i])
			if err != nil || !reflect.DeepEqual(problems, rec.Problems) {
				t.Errorf("Problems = %+v, %v; want %+v", problems, err, rec.Problems)
			}
			objects, err := s.Objects(ctx, ids[i])
			if err != nil || !reflect.DeepEqual(objects, rec.Objects) {
				t.Errorf("Objects: got %d, %v; want %d", len(objects), err, len(rec.Objects))
			}
		})
	}
}

func TestMigrationsAppliedOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dirs", "stridemap.db") // Open creates the directories
	migrations, err := store.Migrations()
	if err != nil {
		t.Fatalf("embedded migrations are misnumbered: %v", err)
	}

	var rec store.ScanRecord
	for i := range 3 {
		s, err := store.Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		if i == 0 {
			rec = modeltest.SampleScan(1)
			mustSave(t, s, rec)
		}
		scans, err := s.Scans(ctx)
		if err != nil || len(scans) != 1 {
			t.Errorf("open %d: Scans = %d scans, %v; want the one saved", i+1, len(scans), err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		db := rawDB(t, path)
		if v := pragma(t, db, "user_version"); v != migrations {
			t.Errorf("open %d: user_version = %d, want %d", i+1, v, migrations)
		}
		if id := pragma(t, db, "application_id"); id != store.ApplicationID {
			t.Errorf("open %d: application_id = %#x, want %#x", i+1, id, store.ApplicationID)
		}
		if mode := pragmaText(t, db, "journal_mode"); mode != "wal" {
			t.Errorf("journal_mode = %q, want wal", mode)
		}
		for _, table := range store.Tables {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
				t.Errorf("table %s: %d, %v; want it to exist once", table, n, err)
			}
		}
		db.Close()
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to open
		says  []string
	}{
		{
			name: "newer schema",
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "stridemap.db")
				s, err := store.Open(ctx, path)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				db := rawDB(t, path)
				defer db.Close()
				if _, err := db.Exec(`PRAGMA user_version = 99`); err != nil {
					t.Fatal(err)
				}
				return path
			},
			says: []string{"database was written by a newer stridemap (schema 99", "upgrade stridemap or use another --db"},
		},
		{
			name: "another program's database",
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "other.db")
				db := rawDB(t, path)
				defer db.Close()
				if _, err := db.Exec(`CREATE TABLE invoices (id INTEGER)`); err != nil {
					t.Fatal(err)
				}
				return path
			},
			says: []string{"not a stridemap store", "--db"},
		},
		{
			name: "not a database",
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "notes.txt")
				if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite\n", 200)), 0o644); err != nil {
					t.Fatal(err)
				}
				return path
			},
			says: []string{"--db"},
		},
		{
			name: "a directory",
			setup: func(t *testing.T, dir string) string {
				return dir
			},
			says: []string{"is a directory", "--db"},
		},
		{
			name: "parent is a file",
			setup: func(t *testing.T, dir string) string {
				file := filepath.Join(dir, "file")
				if err := os.WriteFile(file, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(file, "sub", "stridemap.db")
			},
			says: []string{"create its directory", "--db"},
		},
		{
			name: "unwritable directory",
			setup: func(t *testing.T, dir string) string {
				if os.Geteuid() == 0 {
					t.Skip("root can write anywhere")
				}
				ro := filepath.Join(dir, "ro")
				if err := os.Mkdir(ro, 0o555); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(ro, "stridemap.db")
			},
			says: []string{"--db"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			before, _ := os.ReadFile(path)
			s, err := store.Open(ctx, path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded, want an error", path)
			}
			for _, want := range append([]string{path}, tc.says...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if after, _ := os.ReadFile(path); !reflect.DeepEqual(before, after) {
				t.Errorf("refused file %s was modified", path)
			}
		})
	}
}

func TestOpenOddPaths(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"with space.db", "what?.db", "hash#1.db", "100%.db", "ünï.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			s, err := store.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			id := mustSave(t, s, modeltest.SampleScan(1))
			if _, err := s.Graph(ctx, id); err != nil {
				t.Error(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("store not created at the exact path: %v", err)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), name) {
					t.Errorf("unexpected file %q next to %q", e.Name(), name)
				}
			}
		})
	}
}

// TestReadersDuringWrite stalls a save half-way through its transaction and
// checks that readers neither wait for it nor see any of it.
func TestReadersDuringWrite(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()
	if w, r := store.PoolSizes(s); w != 1 || r != 4 {
		t.Errorf("pool sizes = writer %d, readers %d; want 1 and 4", w, r)
	}
	first := modeltest.SampleScan(2)
	mustSave(t, s, first)
	// A save's statement journals stay in memory, not in a file written
	// page by page.
	if mode, err := store.WriterTempStore(s); err != nil || mode != 2 {
		t.Errorf("writer's temp_store = %d, %v; want 2 (memory)", mode, err)
	}

	stalled, release := make(chan struct{}), make(chan struct{})
	store.SetSaveHook(s, func(table string) {
		if table == "nodes" {
			close(stalled)
			<-release
		}
	})
	saved := make(chan error, 1)
	go func() {
		_, err := s.SaveScan(ctx, modeltest.SampleScan(3))
		saved <- err
	}()
	<-stalled

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if id, err := s.LatestScanID(ctx); err != nil || id != 1 {
					errs <- fmt.Errorf("LatestScanID = %d, %v; want 1 while scan 2 is uncommitted", id, err)
				}
				if scans, err := s.Scans(ctx); err != nil || len(scans) != 1 {
					errs <- fmt.Errorf("Scans = %d, %v; want 1", len(scans), err)
				}
				g, err := s.Graph(ctx, 1)
				if err != nil {
					errs <- err
				} else if d := diffGraph(first.Graph, g); d != "" {
					errs <- errors.New(d)
				}
				if _, err := s.Graph(ctx, 2); !errors.Is(err, store.ErrScanNotFound) {
					errs <- fmt.Errorf("Graph(2) during its save: %v, want ErrScanNotFound", err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("readers blocked by an uncommitted write")
	}
	close(release)
	if err := <-saved; err != nil {
		t.Fatalf("stalled save: %v", err)
	}
	<-done
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	store.SetSaveHook(s, nil)

	// Writers from many goroutines queue on the one writer connection.
	ids := make(chan int64, 6)
	for range 6 {
		wg.Go(func() {
			id, err := s.SaveScan(ctx, modeltest.SampleScan(1))
			if err != nil {
				t.Error(err)
			}
			ids <- id
		})
		wg.Go(func() {
			if _, err := s.Scans(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if id < 3 || id > 8 || seen[id] {
			t.Errorf("concurrent save got ID %d; want distinct IDs 3..8", id)
		}
		seen[id] = true
	}
}

func TestFailedSaveLeavesNoTrace(t *testing.T) {
	dupNode := modeltest.SampleScan(1)
	dupNode.Graph.Nodes = append(dupNode.Graph.Nodes, dupNode.Graph.Nodes[3])
	dupEdge := modeltest.SampleScan(1)
	dupEdge.Graph.Edges = append(dupEdge.Graph.Edges, dupEdge.Graph.Edges[7])
	// With more rows than one INSERT batch, a duplicate fails a whole batch,
	// which is retried row by row to name the culprit.
	inBatch := modeltest.SampleScan(5)
	inBatch.Graph.Nodes = slices.Insert(inBatch.Graph.Nodes, 10, inBatch.Graph.Nodes[3])
	acrossBatches := modeltest.SampleScan(5)
	acrossBatches.Graph.Nodes = slices.Insert(acrossBatches.Graph.Nodes, 70, acrossBatches.Graph.Nodes[3])

	tests := []struct {
		name     string
		rec      store.ScanRecord
		cancelAt string // table after which the context is cancelled; "-" before the call
		wantIs   error
		says     string
	}{
		{name: "cancelled before", rec: modeltest.SampleScan(1), cancelAt: "-", wantIs: context.Canceled},
		{name: "cancelled after objects", rec: modeltest.SampleScan(1), cancelAt: "objects", wantIs: context.Canceled},
		{name: "cancelled after edges", rec: modeltest.SampleScan(1), cancelAt: "edges", wantIs: context.Canceled},
		{name: "duplicate node ID", rec: dupNode, says: `duplicate node ID "` + dupNode.Graph.Nodes[3].ID + `"`},
		{name: "duplicate edge ID", rec: dupEdge, says: `duplicate edge ID "` + dupEdge.Graph.Edges[7].ID + `"`},
		{name: "duplicate in one batch", rec: inBatch, says: `duplicate node ID "` + inBatch.Graph.Nodes[3].ID + `"`},
		{name: "duplicate across batches", rec: acrossBatches, says: `duplicate node ID "` + acrossBatches.Graph.Nodes[3].ID + `"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := modeltest.OpenStore(t)
			earlier := modeltest.SampleScan(2)
			mustSave(t, s, earlier)
			db := rawDB(t, s.Path())
			defer db.Close()
			before := rowCounts(t, db)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			switch tc.cancelAt {
			case "":
			case "-":
				cancel()
			default:
				store.SetSaveHook(s, func(table string) {
					if table == tc.cancelAt {
						cancel()
					}
				})
			}
			id, err := s.SaveScan(ctx, tc.rec)
			if err == nil {
				t.Fatalf("SaveScan = %d, nil; want an error", id)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error = %v, want one wrapping %v", err, tc.wantIs)
			}
			for _, want := range []string{s.Path(), tc.says} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}

			if after := rowCounts(t, db); !reflect.DeepEqual(before, after) {
				t.Errorf("rows after a failed save = %v, want %v as before", after, before)
			}
			store.SetSaveHook(s, nil)
			g, err := s.Graph(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffGraph(earlier.Graph, g); d != "" {
				t.Errorf("earlier scan changed:\n%s", d)
			}
			if id := mustSave(t, s, modeltest.SampleScan(1)); id != 2 {
				t.Errorf("next save got ID %d, want 2: a failed save must not use up an ID", id)
			}
		})
	}
}

func mustSave(t testing.TB, s *store.Store, rec store.ScanRecord) int64 {
	t.Helper()
	id, err := s.SaveScan(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// rawDB opens path directly, as another SQLite client would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func pragma(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func pragmaText(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func rowCounts(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range append(store.Tables, "sqlite_sequence") {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	var seq int
	if err := db.QueryRow(`SELECT seq FROM sqlite_sequence WHERE name = 'scans'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	counts["scans seq"] = seq
	return counts
}

// diffGraph describes the first difference between two graphs, or returns
// "" if they are deeply equal.
func diffGraph(want, got *model.Graph) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	if want == nil || got == nil {
		return fmt.Sprintf("want %v, got %v", want, got)
	}
	var b strings.Builder
	cmp := func(what string, w, g any) {
		wv, gv := reflect.ValueOf(w), reflect.ValueOf(g)
		if wv.IsNil() != gv.IsNil() {
			fmt.Fprintf(&b, "%s: want nil=%v, got nil=%v\n", what, wv.IsNil(), gv.IsNil())
		}
		if wv.Len() != gv.Len() {
			fmt.Fprintf(&b, "%s: want %d, got %d\n", what, wv.Len(), gv.Len())
			return
		}
		for i := range wv.Len() {
			if !reflect.DeepEqual(wv.Index(i).Interface(), gv.Index(i).Interface()) {
				fmt.Fprintf(&b, "%s[%d]:\nwant %s\n got %s\n", what, i, dump(wv.Index(i).Interface()), dump(gv.Index(i).Interface()))
				return
			}
		}
	}
	cmp("nodes", want.Nodes, got.Nodes)
	cmp("edges", want.Edges, got.Edges)
	cmp("boundaries", want.Boundaries, got.Boundaries)
	cmp("controls", want.Controls, got.Controls)
	cmp("dangling", want.Dangling, got.Dangling)
	if b.Len() == 0 {
		return "graphs differ in a way JSON does not show (nil vs empty inside an element?)"
	}
	return b.String()
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// TestOpenExisting: where there is no store, OpenExisting says where it
// looked and leaves nothing behind; an existing store opens as with Open.
func TestOpenExisting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, ".stridemap", "stridemap.db")
	_, err := store.OpenExisting(ctx, missing)
	if !errors.Is(err, store.ErrNoStore) || !errors.Is(err, store.ErrNoScans) || !strings.Contains(err.Error(), missing) {
		t.Errorf("OpenExisting(missing) = %v, want ErrNoStore (and ErrNoScans) naming %s", err, missing)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("OpenExisting of a missing store left %d entries behind, e.g. %s", len(entries), entries[0].Name())
	}

	t.Chdir(dir)
	if _, err := store.OpenExisting(ctx, ""); !errors.Is(err, store.ErrNoStore) || !strings.Contains(err.Error(), filepath.Join(dir, store.DefaultPath)) {
		t.Errorf("OpenExisting(\"\") = %v, want ErrNoStore naming the absolute default path", err)
	}

	s, err := store.Open(ctx, missing)
	if err != nil {
		t.Fatal(err)
	}
	id := mustSave(t, s, modeltest.SampleScan(1))
	s.Close()
	s, err = store.OpenExisting(ctx, missing)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if latest, err := s.LatestScanID(ctx); err != nil || latest != id {
		t.Errorf("LatestScanID = %d, %v; want %d", latest, err, id)
	}
	if _, err := store.OpenExisting(ctx, dir); err == nil || errors.Is(err, store.ErrNoStore) || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("OpenExisting(a directory) = %v, want Open's refusal", err)
	}
}

// TestNewStoreLayout: a new store has pages of 16 KiB and incremental
// auto-vacuum, which SQLite takes only before the file's first table; a
// store an older version created with 4 KiB pages keeps them, and saves
// and reads as before.
func TestNewStoreLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fresh := filepath.Join(dir, "new.db")
	s, err := store.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, modeltest.SampleScan(1))
	s.Close()
	db := rawDB(t, fresh)
	if n := pragma(t, db, "page_size"); n != 16384 {
		t.Errorf("a new store has pages of %d bytes, want 16384", n)
	}
	if mode := pragma(t, db, "auto_vacuum"); mode != 2 {
		t.Errorf("a new store has auto_vacuum = %d, want 2 (incremental)", mode)
	}
	// Rewritten as an older stridemap left it: 4 KiB pages.
	for _, stmt := range []string{"PRAGMA journal_mode = DELETE", "PRAGMA page_size = 4096", "VACUUM"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if n := pragma(t, db, "page_size"); n != 4096 {
		t.Fatalf("could not make an old store: pages of %d bytes", n)
	}
	db.Close()

	s, err = store.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	rec := scanWithFindings(3)
	id := mustSave(t, s, rec)
	got, err := s.Findings(ctx, id)
	if err != nil || !reflect.DeepEqual(withoutContent(got), rec.Findings) {
		t.Errorf("findings saved in an old store read back as %s, %v", dump(got), err)
	}
	s.Close()
	db = rawDB(t, fresh)
	defer db.Close()
	if n := pragma(t, db, "page_size"); n != 4096 {
		t.Errorf("an old store's pages became %d bytes", n)
	}
}

// TestOnUpgrade: a store an older stridemap wrote is upgraded once, and
// says from which schema to which before; a new store and an up-to-date
// one say nothing.
func TestOnUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	var told [][2]int
	open := func() {
		t.Helper()
		s, err := store.Open(ctx, path, store.OnUpgrade(func(from, to int) { told = append(told, [2]int{from, to}) }))
		if err != nil {
			t.Fatal(err)
		}
		mustSave(t, s, findingsScan())
		s.Close()
	}
	open()
	if len(told) != 0 {
		t.Fatalf("a new store is upgraded: %v", told)
	}
	db := rawDB(t, path)
	modeltest.UndoFindingGroups(t, db)
	if _, err := db.Exec(`PRAGMA user_version = 10`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	open()
	open()
	if len(told) != 1 || told[0][0] != 10 || told[0][1] <= 10 {
		t.Errorf("told %v; want one upgrade from schema 10", told)
	}
}
