package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// gappedStore saves a scan whose live read could not see NetworkPolicies,
// nor a kind whose name the server sent with a terminal escape in it.
func gappedStore(t *testing.T, c *cli) (store.ScanInfo, store.ScanRecord) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := modeltest.SampleScan(1)
	ns := modeltest.Namespace(0)
	rec.Graph.Gaps = []discover.Gap{
		{Group: "networking.k8s.io", Kind: "NetworkPolicy", Reason: "forbidden"},
		{Group: "evil.example", Kind: "Widget\x1b[2J", Namespace: ns, Reason: "the server answered 500"},
	}
	rec.NotAssessed = []store.NotAssessed{
		{RuleID: "datastore-reachable-by-any-workload", Title: "Data store reachable by any workload", Element: "workload:" + ns + "/db", Namespace: ns, Gap: rec.Graph.Gaps[0]},
		{RuleID: "namespace-without-default-deny-ingress", Title: "Namespace without default-deny ingress", Element: "boundary:namespace:" + ns, Namespace: ns, Gap: rec.Graph.Gaps[1]},
	}
	id, err := s.SaveScan(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return info, rec
}

func TestCoverageGapsShown(t *testing.T) {
	c := newCLI(t)
	info, rec := gappedStore(t, c)

	var b strings.Builder
	if err := writeScanSummary(&b, info, rec.Graph, &discover.Inventory{}, c.db); err != nil {
		t.Fatal(err)
	}
	summary := b.String()
	for _, want := range []string{
		"Coverage gaps (could not be read; what depends on them is not assessed):\n  NetworkPolicy.networking.k8s.io: forbidden\n",
		`Widget\x1b[2J.evil.example in namespace`,
		"2 checks not assessed, not counted as findings: stridemap findings 1 --not-assessed lists them",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("scan summary lacks %q:\n%s", want, summary)
		}
	}

	findings := c.mustRun("findings").stdout
	if !strings.Contains(findings, "2 checks not assessed: the scan could not read what they depend on (2 coverage gaps); stridemap findings 1 --not-assessed lists them") {
		t.Errorf("findings lack the note on checks not assessed:\n%s", findings)
	}
	list := c.mustRun("findings", "--not-assessed").stdout
	for _, want := range []string{
		"2 of 2 checks not assessed",
		"workload:" + modeltest.Namespace(0) + "/db",
		"not assessed: NetworkPolicy.networking.k8s.io could not be read (forbidden)",
		`not assessed: Widget\x1b[2J.evil.example in namespace`,
	} {
		if !strings.Contains(list, want) {
			t.Errorf("findings --not-assessed lacks %q:\n%s", want, list)
		}
	}
	for name, out := range map[string]string{"summary": summary, "findings": findings, "findings --not-assessed": list} {
		if strings.Contains(out, "\x1b") {
			t.Errorf("%s prints the server's escape sequence raw", name)
		}
	}
	one := c.mustRun("findings", "--not-assessed", "--rule", "namespace-without-default-deny-ingress", "--format", "json").stdout
	var got []store.NotAssessed
	if err := json.Unmarshal([]byte(one), &got); err != nil || len(got) != 1 || got[0] != rec.NotAssessed[1] {
		t.Errorf("--not-assessed --rule --format json = %v, %v; want the one entry", got, err)
	}
}

// TestReportShowsCoverageGaps: the report command reads the checks not
// assessed from the store and shows them under their gap.
func TestReportShowsCoverageGaps(t *testing.T) {
	c := newCLI(t)
	_, rec := gappedStore(t, c)
	out := c.mustRun("report", "--format", "md").stdout
	for _, want := range []string{"## Coverage gaps", "**NetworkPolicy.networking.k8s.io: forbidden** — 1 check not assessed", "datastore-reachable-by-any-workload on " + rec.NotAssessed[0].Element} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
