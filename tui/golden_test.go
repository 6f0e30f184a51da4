package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/tui/pages"
)

// reviewStore is the store the golden views show: an earlier scan of the
// demo without its NetworkPolicies and logging, the full demo after it (so
// the Overview has drift to show), one triage decision and one answer.
func reviewStore(t *testing.T) *store.Store {
	t.Helper()
	s, _ := openStore(t)
	scanInto(t, s, clock.Add(-24*time.Hour), demoFilesWithout(t, "policies.yaml", "logging.yaml")...)
	scanInto(t, s, clock, "testdata/demo")
	ctx := context.Background()
	if err := s.AddTriage(ctx, store.Decision{Subject: "container-privileged@workload:logging/log-shipper", Status: "accepted",
		Reason: "needs the host's logs; reviewed in SEC-42", Who: "alice", At: clock.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAnswer(ctx, store.Decision{Subject: "sast-in-ci", Status: "yes", Reason: "semgrep blocks merges", Who: "bob", At: clock.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGoldenViews renders every page at 80×24 and 160×48 and compares the
// text (colours stripped) with testdata/golden/tui. Rewrite with -update
// after a deliberate change, and read the diff.
func TestGoldenViews(t *testing.T) {
	s := reviewStore(t)
	sizes := []struct{ w, h int }{{80, 24}, {160, 48}}
	views := []struct {
		name  string
		setup func(t *testing.T, m *Model)
	}{
		{"overview", func(t *testing.T, m *Model) { press(m, "1") }},
		{"map", func(t *testing.T, m *Model) {
			press(m, "2")
			selectElement(t, m, "workload:shop/checkout")
		}},
		{"threats", func(t *testing.T, m *Model) { press(m, "3") }},
		{"threats-detail", func(t *testing.T, m *Model) {
			press(m, "3", "e", "enter") // elevation of privilege, open the first
		}},
		{"questions", func(t *testing.T, m *Model) { press(m, "4") }},
		{"drift", func(t *testing.T, m *Model) { press(m, "5") }},
		{"drift-detail", func(t *testing.T, m *Model) {
			press(m, "5", "s", "s", "s", "s", "enter") // controls, open the first
		}},
		{"drift-picker", func(t *testing.T, m *Model) { press(m, "5", "o") }},
		{"help", func(t *testing.T, m *Model) { press(m, "?") }},
	}
	for _, size := range sizes {
		for _, v := range views {
			name := fmt.Sprintf("%s-%dx%d", v.name, size.w, size.h)
			t.Run(name, func(t *testing.T) {
				m := open(t, s, testOptions(), size.w, size.h)
				v.setup(t, m)
				got := screen(m)
				checkFrame(t, got, size.w, size.h)
				checkGolden(t, name+".golden", got)
			})
		}
	}
}

// selectElement moves the Map's cursor down to the element id.
func selectElement(t *testing.T, m *Model, id string) {
	t.Helper()
	mp := m.pages[PageMap].(*pages.Map)
	for range 100 {
		if mp.Selected() == id {
			return
		}
		press(m, "down")
	}
	t.Fatalf("element %s not reached in the map's list; selected %s", id, mp.Selected())
}

// checkFrame checks the frame fills the screen exactly: resizing reflows,
// never leaves a ragged or overflowing line.
func checkFrame(t *testing.T, frame string, width, height int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != height {
		t.Errorf("frame has %d lines, want %d", len(lines), height)
	}
	for i, l := range lines {
		if w := len([]rune(l)); w != width {
			t.Errorf("line %d is %d cells wide, want %d: %q", i+1, w, width, l)
		}
	}
}

// TestGoldenColour keeps the escape codes of one view, so a change of
// colours or emphasis shows up in review.
func TestGoldenColour(t *testing.T) {
	s := reviewStore(t)
	m := open(t, s, testOptions(), 80, 24)
	press(m, "3")
	checkGolden(t, "threats-80x24-colour.golden", m.View().Content)
}

func TestEmptyStoreShowsTheCommandToRun(t *testing.T) {
	s, path := openStore(t)
	m := open(t, s, testOptions(), 160, 24)
	got := screen(m)
	checkFrame(t, got, 160, 24)
	for _, want := range []string{"No scans in " + path, "stridemap --db " + path + " scan -f DIR"} {
		if !strings.Contains(got, want) {
			t.Errorf("the empty screen should show %q:\n%s", want, got)
		}
	}
	// The pages are not reachable without a scan.
	press(m, "3")
	if strings.Contains(screen(m), "SEVERITY") {
		t.Errorf("the Threats page opened on an empty store:\n%s", screen(m))
	}
	// Once a scan exists, ctrl+r opens it.
	scanInto(t, s, clock, "testdata/demo")
	settle(m, func() tea.Msg { return tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl} })
	press(m, "3")
	if !strings.Contains(screen(m), "SEVERITY") {
		t.Errorf("after a scan and ctrl+r the Threats page should list findings:\n%s", screen(m))
	}
}
