package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/export/graphviz"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// hostile is what a manifest author controls: names, annotations, and so
// the text of evidence.
const hostile = "evil\"name\\\n<script>alert(1)</script> ünï\x01\x1b[31m --> <!-- ]]> {{.}} | *x* [l](javascript:alert(1)) &amp;"

func hostileReport(t *testing.T) *export.Report {
	t.Helper()
	g := hostileGraph()
	id := g.Nodes[0].ID
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	findings := []threats.Finding{{
		ID: "rule-x@" + id, RuleID: "rule-x", Stride: catalog.Tampering, Severity: threats.High,
		Element: id, ElementType: catalog.TargetProcess, Namespace: "ns",
		Evidence:       []model.Evidence{{File: "dir/" + hostile + ".yaml", Line: 3, Object: "Deployment ns/" + hostile, Detail: "detail " + hostile}},
		MissingControl: "control " + hostile,
		Texts: &threats.RuleText{Title: "Title " + hostile, Description: "desc " + hostile, Mitigation: "fix " + hostile,
			References: catalog.References{CWE: []string{"CWE-79"}}},
		Triage: &threats.Triage{Status: threats.Accepted, Reason: "reason " + hostile, By: hostile, At: at},
	}}
	r, err := export.BuildReport(export.ReportInput{
		Title: "T " + hostile, ToolVersion: "v", GeneratedAt: at, Scan: store.ScanInfo{ID: 1},
		Graph: g, Findings: findings,
		Questions: []catalog.Question{{ID: "q", Topic: "t", Question: "Q " + hostile}},
		Answers:   map[string]store.Decision{"q": {Status: "yes", Reason: "note " + hostile, Who: hostile, At: at}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSVGEscapesHostileNames: after layout, names are XML text in the SVG,
// never markup; the document still parses and carries the name.
func TestSVGEscapesHostileNames(t *testing.T) {
	g := hostileGraph()
	g.Nodes = append(g.Nodes, model.Node{ID: "workload:ns/" + hostile, Type: model.DataStore, Name: hostile, Kind: hostile, DataStore: &model.DataStoreInfo{Engine: hostile}})
	var b bytes.Buffer
	if err := export.WriteSVG(context.Background(), &b, graphviz.Renderer{}, g, export.DOTOptions{Title: hostile, Threats: export.ThreatCounts{"workload:ns/" + hostile: {High: 1}}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script") || strings.Contains(strings.ToLower(out), "<!-- ]]>") {
		t.Errorf("SVG holds raw markup from a name:\n%s", out)
	}
	titles := svgTitles(t, b.Bytes())
	found := false
	for title := range titles {
		found = found || strings.Contains(title, "<script>alert(1)</script> ünï")
	}
	if !found {
		t.Errorf("the name should survive as text; titles: %v", titles)
	}
}

// TestHTMLEscapesHostileNames: every value from the manifests (names,
// evidence, triage reasons, answers) is text in the HTML, including the
// inline SVG diagram; the page has no script at all.
func TestHTMLEscapesHostileNames(t *testing.T) {
	var b bytes.Buffer
	if err := export.WriteReportHTML(context.Background(), &b, hostileReport(t), export.HTMLOptions{Renderer: graphviz.Renderer{}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script") {
		t.Errorf("HTML contains a <script>:\n%s", out)
	}
	if strings.Contains(out, "<!-- ]]>") || strings.Contains(out, "href=\"javascript") {
		t.Error("HTML holds raw markup from a name")
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; ünï", "reason evil", "note evil", "<svg"} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestMarkdownEscapesHostileNames(t *testing.T) {
	var b bytes.Buffer
	if err := export.WriteReportMarkdown(&b, hostileReport(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", "[l](", "*x*", "<!--"} {
		if strings.Contains(out, bad) {
			t.Errorf("Markdown holds unescaped %q", bad)
		}
	}
	if !strings.Contains(out, `\<script\>alert(1)\</script\> ünï`) {
		t.Errorf("Markdown should keep the name as escaped text:\n%s", out)
	}
	// A newline in a name must not end a table row: every row has 5 pipes.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| high |") && strings.Count(line, "|")-strings.Count(line, `\|`) != 5 {
			t.Errorf("finding row split or widened: %q", line)
		}
	}
}

func TestJSONAndSARIFKeepHostileNamesAsData(t *testing.T) {
	r := hostileReport(t)
	for name, write := range map[string]func(*bytes.Buffer) error{
		"json":  func(b *bytes.Buffer) error { return export.WriteReportJSON(b, r) },
		"sarif": func(b *bytes.Buffer) error { return export.WriteReportSARIF(b, r, export.SARIFOptions{}) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b.Bytes(), &v); err != nil {
			t.Fatalf("%s: not JSON: %v", name, err)
		}
		if !strings.Contains(b.String(), `evil\"name\\\n<script>`) {
			t.Errorf("%s should hold the name exactly, JSON-escaped", name)
		}
	}
}
