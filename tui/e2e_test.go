package tui

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/tui/pages"
)

// snapshot is what the end-to-end test reads of the running app's state.
type snapshot struct {
	page      int
	loaded    bool     // findings are loaded
	rows      int      // findings on the Threats page after filtering
	strides   []string // the STRIDE categories of those rows
	selected  string   // the selected finding
	capturing bool     // a prompt is open
	status    string   // the status bar's message
	frame     string   // the screen, without escape codes
}

// probeMsg asks the running program for a snapshot; the filter installed
// by observe answers it from the event loop and drops it, so reading state
// never races with Update.
type probeMsg struct{ reply chan snapshot }

func observe(m tea.Model, msg tea.Msg) tea.Msg {
	p, ok := msg.(probeMsg)
	if !ok {
		return msg
	}
	app := m.(*Model)
	th := app.pages[PageThreats].(*pages.Threats)
	s := snapshot{page: app.active, loaded: app.findings != nil, rows: th.Rows(), selected: th.Selected(),
		capturing: th.Capturing(), status: app.status, frame: ansi.Strip(app.View().Content)}
	if app.findings != nil {
		for _, i := range th.RowRecords() {
			s.strides = append(s.strides, app.findings.Records[i].Stride)
		}
	}
	p.reply <- s
	return nil
}

// waitState probes tm until cond holds, or fails after a few seconds.
func waitState(t *testing.T, tm *teatest.TestModel, what string, cond func(snapshot) bool) snapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last snapshot
	for time.Now().Before(deadline) {
		reply := make(chan snapshot, 1)
		tm.Send(probeMsg{reply})
		select {
		case last = <-reply:
			if cond(last) {
				return last
			}
		case <-time.After(time.Second):
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last state %+v", what, last)
	return last
}

// TestTriageEndToEnd drives the real Bubble Tea program over a scan of the
// demo: open the Threats page, filter by a STRIDE letter, open a finding,
// accept it with a reason, quit; then the store holds the decision.
func TestTriageEndToEnd(t *testing.T) {
	s, _ := openStore(t)
	scanInto(t, s, clock, "testdata/demo")
	opts := testOptions()
	opts.User = "e2e-tester"
	opts.FixedProfile = false
	tm := teatest.NewTestModel(t, New(context.Background(), s, opts),
		teatest.WithInitialTermSize(120, 40), teatest.WithProgramOptions(tea.WithFilter(observe)))

	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("Overview")) },
		teatest.WithDuration(5*time.Second))
	all := waitState(t, tm, "the findings to load", func(s snapshot) bool { return s.loaded && s.rows > 0 })

	tm.Send(keyMsg("3"))
	waitState(t, tm, "the Threats page", func(s snapshot) bool { return s.page == PageThreats })

	tm.Type("i") // information disclosure only
	filtered := waitState(t, tm, "the I filter", func(s snapshot) bool { return s.rows < all.rows })
	if filtered.rows == 0 {
		t.Fatal("the demo has information-disclosure findings; the filter shows none")
	}
	for _, st := range filtered.strides {
		if st != string(catalog.InformationDisclosure) {
			t.Fatalf("filtering by i left a %s finding in the table", st)
		}
	}

	tm.Send(keyMsg("enter"))
	tm.Type("a")
	waitState(t, tm, "the reason prompt", func(s snapshot) bool { return s.capturing })
	const reason = "internal only; reviewed in SEC-7"
	tm.Type(reason)
	tm.Send(keyMsg("enter"))
	done := waitState(t, tm, "the decision to be saved", func(s snapshot) bool { return strings.HasPrefix(s.status, "✓ ") })
	if want := "✓ accepted by e2e-tester: " + done.selected; done.status != want {
		t.Errorf("status = %q, want %q", done.status, want)
	}

	// The screen says so: the confirmation in the status bar, the row, and
	// at the end of the detail pane (G scrolls there) the triage history.
	tm.Type("G")
	seen := waitState(t, tm, "the triage history", func(s snapshot) bool { return strings.Contains(s.frame, reason) })
	for _, want := range []string{"✓ accepted by e2e-tester", "I accepted", "2026-03-14 09:30 UTC  accepted by e2e-tester:", reason} {
		if !strings.Contains(seen.frame, want) {
			t.Errorf("the screen lacks %q:\n%s", want, seen.frame)
		}
	}

	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))

	decisions, err := s.Triage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, ok := decisions[done.selected]
	if !ok {
		t.Fatalf("the store holds no decision on %s; it holds %v", done.selected, decisions)
	}
	if d.Status != "accepted" || d.Reason != reason || d.Who != "e2e-tester" || !d.At.Equal(clock) {
		t.Errorf("stored decision = %+v", d)
	}
	records, err := s.Findings(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(records, func(r store.Finding) bool { return r.ID == done.selected })
	if i < 0 || records[i].Stride != string(catalog.InformationDisclosure) {
		t.Errorf("the triaged finding %s should be an information-disclosure finding of the scan", done.selected)
	}
}
