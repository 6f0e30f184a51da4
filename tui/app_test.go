package tui

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
	"github.com/stridemap/stridemap/tui/pages"
)

func threatsPage(m *Model) *pages.Threats { return m.pages[PageThreats].(*pages.Threats) }

// rowsOf returns the store records of the Threats page's rows.
func rowsOf(m *Model) []store.Finding {
	var out []store.Finding
	for _, i := range threatsPage(m).RowRecords() {
		out = append(out, m.findings.Records[i])
	}
	return out
}

func TestThreatFilters(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	tests := []struct {
		name string
		keys []string
		keep func(store.Finding) bool
	}{
		{"one STRIDE letter", []string{"t"}, func(f store.Finding) bool { return f.Stride == "tampering" }},
		{"two letters, upper case works too", []string{"S", "e"}, func(f store.Finding) bool {
			return f.Stride == "spoofing" || f.Stride == "elevation-of-privilege"
		}},
		{"a letter twice is off again", []string{"d", "d"}, func(store.Finding) bool { return true }},
		{"severity high or above", []string{"v", "v"}, func(f store.Finding) bool {
			return threats.Severity(f.Severity).Rank() >= threats.High.Rank()
		}},
		{"severity cycles back to any", []string{"v", "v", "v", "v"}, func(store.Finding) bool { return true }},
		{"first namespace", []string{"n"}, func(f store.Finding) bool { return f.Namespace == "logging" }},
		{"text search", []string{"/", "r", "e", "d", "i", "s", "enter"}, func(f store.Finding) bool {
			return strings.Contains(f.ID, "redis")
		}},
		{"filters combine", []string{"i", "v", "v"}, func(f store.Finding) bool {
			return f.Stride == "information-disclosure" && threats.Severity(f.Severity).Rank() >= threats.High.Rank()
		}},
		{"c clears them all", []string{"i", "v", "n", "c"}, func(store.Finding) bool { return true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := open(t, s, testOptions(), 120, 40)
			press(m, "3")
			press(m, tc.keys...)
			want := 0
			for _, f := range m.findings.Records {
				if tc.keep(f) {
					want++
				}
			}
			got := rowsOf(m)
			if len(got) != want || want == 0 {
				t.Errorf("%d rows, want %d (of %d)", len(got), want, m.findings.Len())
			}
			for _, f := range got {
				if !tc.keep(f) {
					t.Errorf("row %s should have been filtered out", f.ID)
				}
			}
			if !strings.Contains(screen(m), fmt.Sprintf("%d of %d", want, m.findings.Len())) {
				t.Errorf("the filter bar should count the rows:\n%s", screen(m))
			}
		})
	}
}

func TestThreatStatusFilterAndSort(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	ctx := context.Background()
	if err := s.AddTriage(ctx, store.Decision{Subject: "container-privileged@workload:logging/log-shipper", Status: "mitigated", Reason: "r", Who: "w", At: clock}); err != nil {
		t.Fatal(err)
	}
	m := open(t, s, testOptions(), 120, 40)
	press(m, "3")

	// Severity order: never a less severe finding above a more severe one.
	rows := rowsOf(m)
	for i := 1; i < len(rows); i++ {
		if threats.Severity(rows[i-1].Severity).Rank() < threats.Severity(rows[i].Severity).Rank() {
			t.Fatalf("row %d (%s) is less severe than row %d (%s)", i-1, rows[i-1].ID, i, rows[i].ID)
		}
	}
	press(m, "o") // by rule
	rows = rowsOf(m)
	for i := 1; i < len(rows); i++ {
		if rows[i-1].RuleID > rows[i].RuleID {
			t.Fatalf("sorted by rule, %s comes before %s", rows[i-1].RuleID, rows[i].RuleID)
		}
	}
	press(m, "o") // by element
	rows = rowsOf(m)
	for i := 1; i < len(rows); i++ {
		if rows[i-1].Element > rows[i].Element {
			t.Fatalf("sorted by element, %s comes before %s", rows[i-1].Element, rows[i].Element)
		}
	}
	if !strings.Contains(screen(m), "sort element") {
		t.Error("the filter bar should name the sort order")
	}

	press(m, "x") // open only
	for _, f := range rowsOf(m) {
		if f.ID == "container-privileged@workload:logging/log-shipper" {
			t.Error("status open lists a mitigated finding")
		}
	}
	press(m, "x", "x") // accepted, then mitigated
	if rows := rowsOf(m); len(rows) != 1 || rows[0].ID != "container-privileged@workload:logging/log-shipper" {
		t.Errorf("status mitigated should list the one mitigated finding, got %v", rows)
	}
}

// TestTriageNeedsAReason: accepting without a reason is refused and nothing
// is written; esc cancels; reopening needs none.
func TestTriageNeedsAReason(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	m := open(t, s, testOptions(), 120, 40)
	press(m, "3", "a", "enter")
	if !m.statusErr || !strings.Contains(m.status, "a reason is required") {
		t.Errorf("status = %q, want the reason required", m.status)
	}
	if !threatsPage(m).Capturing() {
		t.Error("the prompt should stay open for the reason")
	}
	press(m, "esc")
	if threatsPage(m).Capturing() {
		t.Error("esc should close the prompt")
	}
	if d, _ := s.Triage(context.Background()); len(d) != 0 {
		t.Fatalf("nothing should be recorded, got %v", d)
	}
	id := threatsPage(m).Selected()
	press(m, "f")
	typeText(m, "not reachable in prod")
	press(m, "enter")
	press(m, "u", "enter") // reopen, no reason
	press(m, "enter", "G") // open the detail, scroll to its end
	h, err := s.TriageHistory(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Status != "false-positive" || h[0].Reason != "not reachable in prod" || h[1].Status != "open" || h[0].Who != "reviewer" {
		t.Errorf("history of %s = %+v", id, h)
	}
	got := screen(m)
	for _, want := range []string{"false-positive by reviewer:", "not reachable in prod", "open by reviewer"} {
		if !strings.Contains(got, want) {
			t.Errorf("the detail pane's triage history lacks %q:\n%s", want, got)
		}
	}
}

func TestMapJumpAndBack(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	m := open(t, s, testOptions(), 160, 48)
	press(m, "2")
	mp := m.pages[PageMap].(*pages.Map)
	selectElement(t, m, "workload:shop/checkout")
	got := screen(m)
	for _, want := range []string{
		"Flows  1 in · 4 out",
		"← workload:shop/api-gateway:8080 http [declared] [plaintext] [no policy]",
		"→ workload:shop-data/orders-db:5432 postgres [declared] [plaintext]",
		"┌", "│ checkout", "┊5432▶ orders-db ‹shop-data›", // the diagram, with the boundary crossing marked
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the map lacks %q:\n%s", want, got)
		}
	}
	// enter moves into the flows, down picks the second, enter jumps there.
	press(m, "enter", "down", "enter")
	if mp.Selected() != "workload:payments/payments" {
		t.Fatalf("after jumping along the second flow, selected %s", mp.Selected())
	}
	if !strings.Contains(screen(m), "backspace back (1)") {
		t.Errorf("the title should offer the way back:\n%s", screen(m))
	}
	press(m, "backspace")
	if mp.Selected() != "workload:shop/checkout" {
		t.Errorf("backspace should go back to checkout, selected %s", mp.Selected())
	}

	// The filter keeps matching elements, under their group headings.
	press(m, "/")
	typeText(m, "redis")
	press(m, "enter")
	if mp.Selected() != "workload:shop-data/redis" {
		t.Errorf("the filter should select redis, selected %s", mp.Selected())
	}
	if got := screen(m); !strings.Contains(got, "▾ shop-data (3)") || strings.Contains(got, "▾ shop (8)") {
		t.Errorf("the filtered list should show only redis's group:\n%s", got)
	}
}

// TestMapShowsWhatRuns: an element read from a live cluster shows what
// its pods run, digests and injected sidecars, escaped; one read from
// files shows no such section.
func TestMapShowsWhatRuns(t *testing.T) {
	s, _ := openStore(t)
	scanPrepared(t, s, clock, func(inv *discover.Inventory) {
		for _, o := range inv.Objects {
			if o.Kind == "Deployment" && o.Name == "checkout" {
				o.Running = []discover.RunningContainer{
					{Name: "istio-proxy", Injected: true, Image: "docker.io/istio/proxyv2:1.24.0", ImageID: "docker.io/istio/proxyv2@sha256:0123456789abcdef0123"},
					{Name: "checkout", Image: "shop/checkout:\x1b[31mred", ImageID: "docker.io/shop/checkout@sha256:fedcba9876543210fedc"},
					{Name: "checkout", Image: "shop/checkout:2.0"},
				}
			}
		}
	}, "testdata/demo")
	m := open(t, s, testOptions(), 160, 48)
	press(m, "2")
	selectElement(t, m, "workload:shop/checkout")
	got := screen(m)
	for _, want := range []string{
		"Running  what the pods run, by digest",
		"istio-proxy  docker.io/istio/proxyv2:1.24.0  @ sha256:0123456789ab [injected]",
		`checkout  shop/checkout:\x1b[31mred  @ sha256:fedcba987654`,
		"checkout  shop/checkout:2.0  @ not started",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the map lacks %q:\n%s", want, got)
		}
	}
	selectElement(t, m, "workload:shop-data/redis")
	if strings.Contains(screen(m), "Running  what the pods run") {
		t.Errorf("an element read from files shows what runs:\n%s", screen(m))
	}
}

// TestMapShowsTheSuggestedPolicy: in the flows of a workload, the page
// keys scroll the detail down to its suggested policy, under the
// neighbourhood: the rules with the flows they allow.
func TestMapShowsTheSuggestedPolicy(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	m := open(t, s, testOptions(), 160, 24)
	press(m, "2")
	selectElement(t, m, "workload:shop/checkout")
	if strings.Contains(screen(m), "ingress from pods") {
		t.Fatalf("at 160×24 the policy should be below the fold:\n%s", screen(m))
	}
	press(m, "enter", "G")
	got := screen(m)
	for _, want := range []string{
		"Suggested NetworkPolicy  stridemap-checkout",
		"selects app.kubernetes.io/name=checkout",
		"ingress from pods app.kubernetes.io/name=api-gateway on TCP 8080",
		"← workload:shop/api-gateway->workload:shop/checkout:8080  testdata/demo/frontend.yaml:136",
		"egress to pods app.kubernetes.io/name=orders-db of namespace shop-data on TCP postgres",
		"→ workload:shop/checkout->workload:shop-data/orders-db:5432",
		"egress to pods app.kubernetes.io/name=inventory on TCP grpc",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("after G in the flows, the detail lacks %q:\n%s", want, got)
		}
	}
	// Moving in the flows brings the selected flow back into view.
	press(m, "down")
	if got := screen(m); !strings.Contains(got, "→ workload:payments/payments:8080 http") {
		t.Errorf("down in the flows should show them again:\n%s", got)
	}
}

func TestAnswerAQuestion(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	m := open(t, s, testOptions(), 120, 40)
	press(m, "4", "down", "p")
	typeText(m, "DAST on staging only")
	press(m, "enter")
	answers, err := s.Answers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	qs, err := catalog.Questions()
	if err != nil {
		t.Fatal(err)
	}
	d := answers[qs[1].ID] // the second question: down once from the first
	if len(answers) != 1 || d.Status != "partly" || d.Reason != "DAST on staging only" || d.Who != "reviewer" || !d.At.Equal(clock) {
		t.Errorf("answers = %+v", answers)
	}
	got := screen(m)
	if !regexp.MustCompile(`partly +S +secure develo`).MatchString(got) || !strings.Contains(got, "1 of 12 answered") {
		t.Errorf("the table should show the answer:\n%s", got)
	}
}

func TestMouse(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	m := open(t, s, testOptions(), 120, 40)
	// A click on a tab switches page.
	screen(m) // clicks land on what was drawn
	settle(m, func() tea.Msg { return tea.MouseClickMsg{X: 40, Y: 0, Button: tea.MouseLeft} })
	if m.active != PageThreats {
		t.Fatalf("a click on the Threats tab opened page %d", m.active)
	}
	th := threatsPage(m)
	first := th.Selected()
	// Row 5 of the table is screen line 1 (tabs) + 1 (filters) + 1 (header) + 5.
	settle(m, func() tea.Msg { return tea.MouseClickMsg{X: 10, Y: 8, Button: tea.MouseLeft} })
	want := m.findings.Records[th.RowRecords()[5]].ID
	if th.Selected() != want {
		t.Errorf("a click on the sixth row selected %s, want %s", th.Selected(), want)
	}
	settle(m, func() tea.Msg { return tea.MouseWheelMsg{X: 10, Y: 10, Button: tea.MouseWheelUp} })
	settle(m, func() tea.Msg { return tea.MouseWheelMsg{X: 10, Y: 10, Button: tea.MouseWheelUp} })
	if th.Selected() != first {
		t.Errorf("the wheel should scroll back to the first row, selected %s", th.Selected())
	}
}

// TestResizeReflows: every page fills the new size exactly after a resize.
func TestResizeReflows(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	m := open(t, s, testOptions(), 160, 48)
	for _, size := range []struct{ w, h int }{{80, 24}, {100, 30}, {200, 60}, {60, 15}} {
		m.Update(tea.WindowSizeMsg{Width: size.w, Height: size.h})
		for _, page := range []string{"1", "2", "3", "4"} {
			press(m, page)
			checkFrame(t, screen(m), size.w, size.h)
		}
	}
}

func TestHelpAndQuit(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	m := open(t, s, testOptions(), 120, 40)
	press(m, "?")
	got := screen(m)
	// Every binding of the KeyMap is on the help screen.
	for _, group := range m.c.Keys.FullHelp() {
		for _, b := range group {
			if !strings.Contains(got, b.Help().Desc) {
				t.Errorf("the help screen lacks %q", b.Help().Desc)
			}
		}
	}
	press(m, "?")
	if strings.Contains(screen(m), "Threats: triage") {
		t.Error("? should close the help")
	}
	// q quits, but not while a prompt takes text.
	press(m, "3", "/")
	if _, cmd := m.Update(keyMsg("q")); cmd != nil && isQuit(cmd) {
		t.Error("q quit while typing a search")
	}
	press(m, "esc")
	if _, cmd := m.Update(keyMsg("q")); cmd == nil || !isQuit(cmd) {
		t.Error("q should quit")
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}); cmd == nil || !isQuit(cmd) {
		t.Error("ctrl+c should quit")
	}
}

func isQuit(cmd tea.Cmd) bool {
	_, ok := cmd().(tea.QuitMsg)
	return ok
}
