package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover"
)

// TestOverviewShowsCoverageGaps: the Overview says what a live scan could
// not read and how many checks were not assessed for it, with a kind name
// the server sent escaped rather than sent to the terminal.
func TestOverviewShowsCoverageGaps(t *testing.T) {
	s, _ := openStore(t)
	id := scanWithGaps(t, s, clock, []discover.Gap{
		{Group: "networking.k8s.io", Kind: "NetworkPolicy", Reason: "forbidden"},
		{Group: "evil.example", Kind: "Widget\x1b[2J", Namespace: "shop", Reason: "forbidden"},
	}, "testdata/demo")
	info, err := s.Scan(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Counts.NotAssessed == 0 {
		t.Fatal("the demo without NetworkPolicies leaves no check unassessed: the test checks nothing")
	}
	m := open(t, s, testOptions(), 160, 48)
	frame := screen(m)
	for _, want := range []string{
		fmt.Sprintf("2 coverage gaps · %d checks not assessed", info.Counts.NotAssessed),
		"not read: NetworkPolicy.networking.k8s.io: forbidden",
		`not read: Widget\x1b[2J.evil.example in namespace shop: forbidden`,
	} {
		if !strings.Contains(frame, want) {
			t.Errorf("Overview lacks %q:\n%s", want, frame)
		}
	}
	if strings.Contains(m.View().Content, "\x1b[2J") {
		t.Error("the server's escape sequence reaches the terminal")
	}
	checkFrame(t, frame, 160, 48)

	// A scan that read everything says nothing of gaps.
	s2, _ := openStore(t)
	scanInto(t, s2, clock, "testdata/demo")
	if frame := screen(open(t, s2, testOptions(), 160, 48)); strings.Contains(frame, "coverage gap") {
		t.Errorf("Overview of a complete scan mentions coverage gaps:\n%s", frame)
	}
}
