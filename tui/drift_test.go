package tui

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
	"github.com/stridemap/stridemap/threats"
	"github.com/stridemap/stridemap/tui/pages"
)

func driftPage(m *Model) *pages.Drift { return m.pages[PageDrift].(*pages.Drift) }

// pipelineScan scans paths as "stridemap scan -f" does, into the store
// file db, and returns the scan's number.
func pipelineScan(t *testing.T, db string, paths ...string) int64 {
	t.Helper()
	res, err := pipeline.Scan(context.Background(), pipeline.Env{Store: db, ToolVersion: "test"},
		pipeline.Request{Manifests: manifests.Request{Paths: paths, DefaultNamespace: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Scan.ID
}

// driftStores scans a copy of the demo (#1), the copy after a release
// (#2: discovertest.ChangeDemo's changes, and the log shipper removed),
// and the demo itself, another target (#3).
func driftStores(t *testing.T) (s *store.Store, dir string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "stridemap.db")
	dir = filepath.Join(t.TempDir(), "demo")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(repoRoot, "testdata", "demo"))); err != nil {
		t.Fatal(err)
	}
	pipelineScan(t, db, dir)

	discovertest.ChangeDemo(t, dir)
	if err := os.Remove(filepath.Join(dir, "logging.yaml")); err != nil {
		t.Fatal(err)
	}
	pipelineScan(t, db, dir)
	pipelineScan(t, db, filepath.Join(repoRoot, "testdata", "demo"))

	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// rowsWith returns the rows of a section with a sign whose ID contains id.
func rowsWith(rows []pages.DriftRow, section pages.DriftSection, sign, id string) []pages.DriftRow {
	var out []pages.DriftRow
	for _, r := range rows {
		if r.Section == section && r.Sign == sign && strings.Contains(r.ID, id) {
			out = append(out, r)
		}
	}
	return out
}

// selectChange moves the Drift page's cursor to the first row that keep
// accepts.
func selectChange(t *testing.T, m *Model, keep func(pages.DriftRow) bool) pages.DriftRow {
	t.Helper()
	p := driftPage(m)
	press(m, "g")
	for range len(p.Rows()) {
		if r := p.Selected(); r != nil && keep(*r) {
			return *r
		}
		press(m, "down")
	}
	t.Fatalf("no such change among %d rows", len(p.Rows()))
	return pages.DriftRow{}
}

func TestDriftPageListsTheRelease(t *testing.T) {
	s, _ := driftStores(t)
	opts := testOptions()
	opts.ScanID = 2
	m := open(t, s, opts, 160, 48)
	press(m, "5")
	p := driftPage(m)
	old, new := p.Pair()
	if old == nil || old.ID != 1 || new.ID != 2 {
		t.Fatalf("the Drift page should compare the previous scan of the target with the scan shown: %v → %v", old, new)
	}
	rows := p.Rows()

	// Every change Compare finds is a row, and no other.
	before, err := threats.LoadSnapshot(context.Background(), s, 1)
	if err != nil {
		t.Fatal(err)
	}
	after, err := threats.LoadSnapshot(context.Background(), s, 2)
	if err != nil {
		t.Fatal(err)
	}
	d := threats.Compare(before, after)
	want := len(d.NodesAdded) + len(d.NodesRemoved) + len(d.NodesChanged) + len(d.EdgesAdded) + len(d.EdgesRemoved) + len(d.EdgesChanged) +
		len(d.BoundariesAdded) + len(d.BoundariesRemoved) + len(d.BoundariesChanged) + len(d.ControlsAdded) + len(d.ControlsRemoved) + len(d.ControlsChanged) +
		len(d.FindingsNew) + len(d.FindingsFixed) + len(d.FindingsChanged) + len(d.FindingsNoLongerAssessed) + len(d.PathsNew) + len(d.PathsClosed) + len(d.PathsChanged)
	if len(rows) != want {
		t.Errorf("%d rows, want the %d changes Compare finds", len(rows), want)
	}

	// The release's changes, each where it belongs.
	for _, c := range []struct {
		section pages.DriftSection
		sign    string
		id      string
	}{
		{pages.ElementsSection, "+", "workload:shop/reviews"},
		{pages.ElementsSection, "~", "workload:shop/catalog"},
		{pages.FlowsSection, "+", "workload:shop/catalog->workload:shop/reviews"},
		{pages.ElementsSection, "-", "workload:logging/log-shipper"},
		{pages.ElementsSection, "~", "workload:shop/cart"},
		{pages.ControlsSection, "-", "no-privilege-escalation@workload:shop/cart"},
		{pages.ControlsSection, "~", "network-policy@workload:shop-data/orders-db"},
		{pages.FindingsSection, "+", "container-privileged@workload:shop/cart"},
		{pages.FindingsSection, "+", "@workload:shop/reviews"},
		{pages.FindingsSection, "-", "@workload:logging/log-shipper"},
	} {
		if len(rowsWith(rows, c.section, c.sign, c.id)) == 0 {
			t.Errorf("no %s %s row for %s", c.sign, c.section, c.id)
		}
	}
	if n := len(rowsWith(rows, pages.ElementsSection, "-", "")); n != 1 {
		t.Errorf("one element was removed, %d rows say so", n)
	}

	// The changed element's detail says what changed, before → after.
	r := selectChange(t, m, func(r pages.DriftRow) bool { return r.Sign == "~" && r.ID == "workload:shop/catalog" })
	if want := "container catalog image: ghcr.io/stridemap-demo/catalog:1.4.2 → ghcr.io/stridemap-demo/catalog:1.5.0"; r.Summary != want {
		t.Errorf("catalog's change reads %q, want %q", r.Summary, want)
	}
	if got := screen(m); !strings.Contains(got, "Changes  scan #1 → scan #2") || !strings.Contains(got, "catalog:1.4.2 →") {
		t.Errorf("the detail pane should show the image change:\n%s", got)
	}
	// A lost control shows the evidence it had; a changed one both sides.
	selectChange(t, m, func(r pages.DriftRow) bool {
		return r.Sign == "-" && r.ID == "no-privilege-escalation@workload:shop/cart"
	})
	if got := screen(m); !strings.Contains(got, "Evidence  scan #1 (gone since)") || !strings.Contains(got, "services.yaml:") {
		t.Errorf("a lost control's detail should show the earlier scan's evidence:\n%s", got)
	}
	selectChange(t, m, func(r pages.DriftRow) bool {
		return r.Sign == "~" && r.ID == "network-policy@workload:shop-data/orders-db"
	})
	if got := screen(m); !strings.Contains(got, "Before  scan #1") || !strings.Contains(got, "allow-shop-clients") || !strings.Contains(got, "After  scan #2") {
		t.Errorf("a changed control's detail should show the evidence of both scans:\n%s", got)
	}

	// s shows one section at a time, in order, then all again.
	press(m, "s")
	if got := p.Rows(); len(got) != len(d.NodesAdded)+len(d.NodesRemoved)+len(d.NodesChanged) {
		t.Errorf("the elements section has %d rows", len(got))
	}
	for _, r := range p.Rows() {
		if r.Section != pages.ElementsSection {
			t.Errorf("filtered to elements, the page lists %s %s", r.Section, r.ID)
		}
	}
	press(m, "s", "s", "s", "s", "s", "s")
	if len(p.Rows()) != want {
		t.Errorf("after a full cycle the page should list every change, lists %d", len(p.Rows()))
	}
	checkFrame(t, screen(m), 160, 48)
}

func TestDriftShowOnMap(t *testing.T) {
	s, _ := driftStores(t)
	opts := testOptions()
	opts.ScanID = 2
	m := open(t, s, opts, 160, 48)
	mp := m.pages[PageMap].(*pages.Map)

	// An added element: m opens the Map on it.
	press(m, "5")
	selectChange(t, m, func(r pages.DriftRow) bool { return r.Sign == "+" && r.ID == "workload:shop/reviews" })
	press(m, "m")
	if m.active != PageMap || mp.Selected() != "workload:shop/reviews" {
		t.Fatalf("m should open the Map on reviews: page %d, selected %q", m.active, mp.Selected())
	}

	// An added flow: the Map shows the element it leaves, on that flow.
	press(m, "5")
	flow := selectChange(t, m, func(r pages.DriftRow) bool { return r.Section == pages.FlowsSection && r.Sign == "+" })
	press(m, "m")
	if m.active != PageMap || mp.SelectedFlow() != flow.Target || !strings.HasPrefix(flow.Target, mp.Selected()+"->") {
		t.Fatalf("m on flow %s: page %d, element %q, flow %q", flow.Target, m.active, mp.Selected(), mp.SelectedFlow())
	}

	// A lost control's element is still there: the Map shows it.
	press(m, "5")
	selectChange(t, m, func(r pages.DriftRow) bool {
		return r.Sign == "-" && r.ID == "no-privilege-escalation@workload:shop/cart"
	})
	press(m, "m")
	if m.active != PageMap || mp.Selected() != "workload:shop/cart" {
		t.Fatalf("m on a lost control of cart: page %d, selected %q", m.active, mp.Selected())
	}

	// A removed element is not in the new scan: the status says so and
	// the page stays.
	press(m, "5")
	selectChange(t, m, func(r pages.DriftRow) bool { return r.Sign == "-" && r.ID == "workload:logging/log-shipper" })
	press(m, "m")
	if m.active != PageDrift || !m.statusErr || !strings.Contains(m.status, "workload:logging/log-shipper was removed") {
		t.Errorf("m on a removed element: page %d, status %q", m.active, m.status)
	}
	// So is a boundary.
	selectChange(t, m, func(r pages.DriftRow) bool { return r.Section == pages.BoundariesSection })
	press(m, "m")
	if m.active != PageDrift || !strings.Contains(m.status, "not an element or a flow") {
		t.Errorf("m on a boundary: page %d, status %q", m.active, m.status)
	}
}

func TestDriftPicker(t *testing.T) {
	s, dir := driftStores(t)
	opts := testOptions()
	opts.ScanID = 2
	m := open(t, s, opts, 160, 48)
	p := driftPage(m)
	press(m, "5", "o")
	if !p.Picking() {
		t.Fatal("o should open the scan picker")
	}
	got := screen(m)
	for _, want := range []string{"Pick the OLD scan to compare with scan #2", "SCAN  STARTED", dir, "≠ "} {
		if !strings.Contains(got, want) {
			t.Errorf("the picker lacks %q:\n%s", want, got)
		}
	}
	lines := strings.Split(got, "\n")
	other := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "#3 ") })
	if other < 0 || !strings.Contains(lines[other], "≠ ") {
		t.Errorf("scan #3, of another target, should be marked:\n%s", got)
	}
	if i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "#1 ") }); i < 0 || strings.Contains(lines[i], "≠") {
		t.Errorf("scan #1, of the same target, should not be marked:\n%s", got)
	}

	// The cursor starts on the old scan (#1, the last row); up twice is #3.
	press(m, "up", "up", "enter")
	if !p.Picking() || !strings.Contains(m.status, "another target") {
		t.Fatalf("a scan of another target needs a second enter: picking %v, status %q", p.Picking(), m.status)
	}
	press(m, "enter")
	if old, _ := p.Pair(); p.Picking() || old == nil || old.ID != 3 {
		t.Fatalf("the second enter should compare scan #3: picking %v, old %v", p.Picking(), old)
	}
	if got := screen(m); !strings.Contains(got, "scan #3") || !strings.Contains(got, "different targets") {
		t.Errorf("the header should name scan #3 and the different targets:\n%s", got)
	}
	if len(p.Rows()) == 0 {
		t.Error("scan #3 (the demo) and scan #2 (the release) differ, yet nothing is listed")
	}

	// A scan is not compared with itself; esc leaves the pair as it was.
	press(m, "n", "g", "enter") // the top row, #3: already the old scan
	if !m.statusErr || !strings.Contains(m.status, "already on the other side") {
		t.Errorf("picking the old scan as the new one: status %q", m.status)
	}
	press(m, "esc")
	if old, new := p.Pair(); p.Picking() || old.ID != 3 || new.ID != 2 {
		t.Errorf("esc should keep #3 → #2, got #%d → #%d", old.ID, new.ID)
	}
	checkFrame(t, screen(m), 160, 48)
}

// TestDriftWithoutAnEarlierScan: the latest scan is the first of its
// target, so the page says how to get something to compare with.
func TestDriftWithoutAnEarlierScan(t *testing.T) {
	s, _ := driftStores(t)
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 48}} {
		m := open(t, s, testOptions(), size.w, size.h) // the latest: #3, the demo's only scan
		press(m, "5")
		got := screen(m)
		checkFrame(t, got, size.w, size.h)
		for _, want := range []string{"No earlier scan of this target to compare scan #3 with", "stridemap watch", "o picks any stored scan"} {
			if !strings.Contains(got, want) {
				t.Errorf("%dx%d: the empty page lacks %q:\n%s", size.w, size.h, want, got)
			}
		}
		if old, _ := driftPage(m).Pair(); old != nil {
			t.Errorf("scan #%d is of another target: no baseline", old.ID)
		}
	}
}
