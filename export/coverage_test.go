package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/export/graphviz"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// gappedReport is the demo's report as a live scan that could not read
// NetworkPolicies anywhere would give it, with a second gap whose name
// holds markup.
func gappedReport(t *testing.T, scope export.Scope) (*export.Report, threats.Assessment) {
	t.Helper()
	g := *demo(t).graph
	g.Gaps = []discover.Gap{
		{Group: "networking.k8s.io", Kind: "NetworkPolicy", Reason: "forbidden"},
		{Group: "evil.example", Kind: "<b>Widget|x</b>", Namespace: "payments", Reason: "forbidden"},
	}
	c, err := catalogOnce()
	if err != nil {
		t.Fatal(err)
	}
	a, err := threats.Assess(&g, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.NotAssessed) == 0 {
		t.Fatal("the demo without NetworkPolicies leaves no check unassessed: the test checks nothing")
	}
	qs, err := catalog.Questions()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r, err := export.BuildReport(export.ReportInput{
		Title: "Threat model — test", ToolVersion: "test", GeneratedAt: at,
		Scan:  store.ScanInfo{ID: 1, StartedAt: at, FinishedAt: at, Partial: true},
		Graph: &g, Findings: a.Findings, Questions: qs, NotAssessed: a.NotAssessed, Scope: scope,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, a
}

func TestReportCoverageGaps(t *testing.T) {
	r, a := gappedReport(t, export.Scope{})
	if len(r.Coverage) != 2 || len(r.Coverage[0].NotAssessed) != len(a.NotAssessed) || len(r.Coverage[1].NotAssessed) != 0 {
		t.Fatalf("coverage = %+v; want both gaps, every check under the NetworkPolicy one", r.Coverage)
	}
	if r.Summary.NotAssessed != len(a.NotAssessed) || r.Summary.Findings != len(a.Findings) {
		t.Errorf("summary: %d not assessed, %d findings; want %d and %d", r.Summary.NotAssessed, r.Summary.Findings, len(a.NotAssessed), len(a.Findings))
	}
	first := a.NotAssessed[0]

	var md bytes.Buffer
	if err := export.WriteReportMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Coverage gaps | 2 kinds not read, ",
		"## Coverage gaps",
		"- **NetworkPolicy.networking.k8s.io: forbidden** — ",
		"  - " + first.RuleID + " on " + strings.ReplaceAll(first.Element, ">", `\>`),
		`**\<b\>Widget\|x\</b\>.evil.example in namespace payments: forbidden** — 0 checks not assessed`,
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if strings.Contains(md.String(), "<b>Widget") {
		t.Error("Markdown prints a gap's markup raw")
	}

	var page bytes.Buffer
	if err := export.WriteReportHTML(context.Background(), &page, r, export.HTMLOptions{Renderer: graphviz.Renderer{}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<h2 id="coverage">Coverage gaps</h2>`, "<code>NetworkPolicy.networking.k8s.io: forbidden</code>", first.RuleID, "&lt;b&gt;Widget|x&lt;/b&gt;"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}

	var js bytes.Buffer
	if err := export.WriteReportJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary  struct{ NotAssessed int }
		Coverage []struct {
			Gap         discover.Gap
			NotAssessed []store.NotAssessed
		}
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Coverage) != 2 || doc.Coverage[0].Gap != r.Coverage[0].Gap || doc.Coverage[0].NotAssessed[0] != first || doc.Summary.NotAssessed != len(a.NotAssessed) {
		t.Errorf("JSON coverage = %+v", doc.Coverage)
	}

	sarif := sarifOf(t, r, export.SARIFOptions{})
	validateSARIF(t, sarif)
	var log struct {
		Runs []struct {
			Results     []struct{ RuleID string }
			Invocations []struct {
				ExecutionSuccessful        bool
				ToolExecutionNotifications []struct {
					Level      string
					Message    struct{ Text string }
					Properties struct{ NotAssessed []string }
				}
			}
		}
	}
	if err := json.Unmarshal(sarif, &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Invocations) != 1 || len(run.Invocations[0].ToolExecutionNotifications) != 2 {
		t.Fatalf("SARIF invocations = %+v; want one with a notification per gap", run.Invocations)
	}
	n := run.Invocations[0].ToolExecutionNotifications[0]
	if n.Level != "warning" || !strings.HasPrefix(n.Message.Text, "Coverage gap: NetworkPolicy.networking.k8s.io could not be read (forbidden);") || len(n.Properties.NotAssessed) != len(a.NotAssessed) {
		t.Errorf("SARIF notification = %+v", n)
	}
	if len(run.Results) != len(a.Findings) {
		t.Errorf("SARIF has %d results, want the %d findings and no check not assessed", len(run.Results), len(a.Findings))
	}
}

// TestReportCoverageScoped: a scoped report keeps every gap but only the
// checks on its elements.
func TestReportCoverageScoped(t *testing.T) {
	all, _ := gappedReport(t, export.Scope{})
	payments, _ := gappedReport(t, export.Scope{Namespace: "payments"})
	if len(payments.Coverage) != 2 || payments.Summary.NotAssessed == 0 || payments.Summary.NotAssessed >= all.Summary.NotAssessed {
		t.Errorf("scoped: %d gaps, %d of %d checks not assessed", len(payments.Coverage), payments.Summary.NotAssessed, all.Summary.NotAssessed)
	}
}

// TestReportWithoutGaps: a scan that read everything shows no coverage
// section and an empty list in JSON.
func TestReportWithoutGaps(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	var md bytes.Buffer
	if err := export.WriteReportMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if r.Coverage == nil || len(r.Coverage) != 0 || strings.Contains(md.String(), "Coverage gaps") {
		t.Errorf("coverage %#v; Markdown mentions gaps: %v", r.Coverage, strings.Contains(md.String(), "Coverage gaps"))
	}
	if strings.Contains(string(sarifOf(t, r, export.SARIFOptions{})), "invocations") {
		t.Error("SARIF of a complete scan has invocations")
	}
}
