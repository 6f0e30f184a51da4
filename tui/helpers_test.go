package tui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// repoRoot is the repository, one level above this package.
const repoRoot = ".."

// goldenDir holds the TUI's golden views.
var goldenDir = filepath.Join(repoRoot, "testdata", "golden", "tui")

// clock is the fixed time of everything the tests record.
var clock = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// scanInto scans paths (relative to the repository) the way "stridemap scan"
// does and saves the scan with fixed times. It runs from the repository
// root so evidence reads testdata/demo/…, as a user sees it.
func scanInto(t testing.TB, s *store.Store, at time.Time, paths ...string) int64 {
	t.Helper()
	return scanPrepared(t, s, at, func(*discover.Inventory) {}, paths...)
}

// scanWithGaps is scanInto as a live scan that could not read the kinds of
// gaps would store it: with the gaps, and the checks they left open.
func scanWithGaps(t testing.TB, s *store.Store, at time.Time, gaps []discover.Gap, paths ...string) int64 {
	t.Helper()
	return scanPrepared(t, s, at, func(inv *discover.Inventory) { inv.Gaps = gaps }, paths...)
}

// scanPrepared is scanInto with a change to what was read before the
// graph is built: what a live cluster would add, say.
func scanPrepared(t testing.TB, s *store.Store, at time.Time, prepare func(*discover.Inventory), paths ...string) int64 {
	t.Helper()
	ctx := context.Background()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(repoRoot); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	inv, err := manifests.Collect(ctx, manifests.Request{Paths: paths, DefaultNamespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	prepare(inv)
	g := model.Build(inv, controls.Detectors()...)
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	a, err := threats.Assess(g, c)
	if err != nil {
		t.Fatal(err)
	}
	records, rules, err := threats.Records(a.Findings)
	if err != nil {
		t.Fatal(err)
	}
	objects := make([]store.ObjectRef, len(inv.Objects))
	for i, o := range inv.Objects {
		objects[i] = store.ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Location: o.Location}
	}
	id, err := s.SaveScan(ctx, store.ScanRecord{
		StartedAt: at, FinishedAt: at.Add(1200 * time.Millisecond), ToolVersion: "test",
		Sources: inv.Sources, Objects: objects, Problems: inv.Problems, Graph: g,
		Findings: records, Rules: rules, NotAssessed: a.NotAssessed, Catalog: "builtin (test)",
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// openStore opens a new store in a temporary directory.
func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// demoFilesWithout lists the demo's manifests, leaving some out: an earlier
// scan to compare with.
func demoFilesWithout(t testing.TB, leave ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "testdata", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
next:
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		for _, l := range leave {
			if e.Name() == l {
				continue next
			}
		}
		out = append(out, filepath.Join("testdata", "demo", e.Name()))
	}
	return out
}

// testOptions fix everything that would make a frame differ between runs.
func testOptions() Options {
	return Options{
		User:         "reviewer",
		Location:     time.UTC,
		Now:          func() time.Time { return clock },
		Profile:      colorprofile.TrueColor,
		FixedProfile: true,
	}
}

// settle runs cmd and every command its messages lead to, feeding each
// message to m, as the Bubble Tea runtime would but synchronously, so a
// test sees the frame after all loading is done.
func settle(m *Model, cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil, tea.QuitMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

// open starts the app on s at a size and waits for the scan to load.
func open(t testing.TB, s *store.Store, opts Options, width, height int) *Model {
	t.Helper()
	m := New(context.Background(), s, opts)
	m.Update(tea.WindowSizeMsg{Width: width, Height: height})
	settle(m, m.Init())
	return m
}

// press sends keys to m, one by one, settling after each. Names longer than
// a character are key names: "enter", "esc", "tab", "down", "backspace".
func press(m *Model, keys ...string) {
	for _, k := range keys {
		settle(m, func() tea.Msg { return keyMsg(k) })
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// typeText types s into m.
func typeText(m *Model, s string) {
	for _, r := range s {
		settle(m, func() tea.Msg { return tea.KeyPressMsg{Code: r, Text: string(r)} })
	}
}

// screen is the frame as text, without colours or other escape codes.
func screen(m *Model) string {
	return ansi.Strip(m.View().Content)
}

// updateGoldens reports whether -update was given. The flag is defined by
// charmbracelet/x/exp/golden, which teatest brings into this test binary;
// defining it here too would panic.
func updateGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkGolden compares got with testdata/golden/tui/name, or rewrites it
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if updateGoldens() {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./tui -run %s -update rewrites it)\n--- want\n%s\n--- got\n%s", name, t.Name(), want, got)
	}
}
