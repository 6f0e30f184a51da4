package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/export/graphviz"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

func TestReportSummaryAndMatrix(t *testing.T) {
	s := demo(t)
	r := report(t, s, export.Scope{})
	if r.SchemaVersion != export.ReportSchemaVersion || len(r.Findings) != len(s.findings) {
		t.Fatalf("schema %d, %d findings", r.SchemaVersion, len(r.Findings))
	}
	if r.Summary.Elements[model.Process] != 9 || r.Summary.Elements[model.DataStore] != 3 || r.Summary.EntryPoints != 3 {
		t.Errorf("summary = %+v", r.Summary)
	}
	total := 0
	for _, row := range r.Matrix {
		total += row.All.Total()
	}
	if len(r.Matrix) != 6 || total != len(s.findings) {
		t.Errorf("the matrix should have six STRIDE rows counting every finding once: %d rows, %d counted", len(r.Matrix), total)
	}
	for i := 1; i < len(r.Findings); i++ {
		if r.Findings[i-1].Severity.Rank() < r.Findings[i].Severity.Rank() {
			t.Fatal("findings are not most severe first")
		}
	}
	if len(r.AttackPaths) == 0 || r.AttackPaths[0].Path[0] != model.InternetID || len(r.AttackPaths[0].Gaps) == 0 {
		t.Errorf("attack paths = %+v", r.AttackPaths)
	}
	if r.Summary.Answered != 1 || r.Summary.Questions < 10 {
		t.Errorf("questions %d answered of %d", r.Summary.Answered, r.Summary.Questions)
	}
	if r.Summary.HighestOpen != threats.Critical || r.OpenAtOrAbove(threats.Critical) == 0 {
		t.Errorf("highest open %q", r.Summary.HighestOpen)
	}
}

func TestReportScopeKeepsFindingsOfItsElements(t *testing.T) {
	s := demo(t)
	r := report(t, s, export.Scope{Namespace: "payments"})
	if r.Scope == nil || r.Scope.Namespace != "payments" {
		t.Fatal("scope not recorded")
	}
	if len(r.Findings) == 0 || len(r.Findings) >= len(s.findings) {
		t.Fatalf("%d findings in scope of %d", len(r.Findings), len(s.findings))
	}
	kept := r.Graph.ElementIDs()
	for _, f := range r.Findings {
		if !kept[f.Element] {
			t.Errorf("finding %s is outside the scope", f.ID)
		}
	}
}

func TestReportJSONIsVersionedAndComplete(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	r.Findings[0].Triage = &threats.Triage{Status: threats.FalsePositive, Reason: "test"}
	var b bytes.Buffer
	if err := export.WriteReportJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// The top-level fields docs/report-json.md documents.
	for _, key := range []string{"schemaVersion", "title", "tool", "generatedAt", "scan", "summary", "matrix", "entryPoints", "attackPaths", "findings", "questions", "namespaces"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("report JSON lacks %q", key)
		}
	}
	if doc["schemaVersion"] != float64(1) {
		t.Errorf("schemaVersion = %v", doc["schemaVersion"])
	}
	f := doc["findings"].([]any)[0].(map[string]any)
	for _, key := range []string{"id", "rule", "title", "stride", "severity", "element", "evidence", "missingControl", "description", "mitigation", "references", "triage"} {
		if _, ok := f[key]; !ok {
			t.Errorf("finding JSON lacks %q", key)
		}
	}
}

// TestHTMLReportSections: one self-contained page with every section, every
// finding, the diagram inline, and nothing that loads from elsewhere.
func TestHTMLReportSections(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	var b bytes.Buffer
	if err := export.WriteReportHTML(context.Background(), &b, r, export.HTMLOptions{Renderer: graphviz.Renderer{}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"<h2 id=\"summary\">", "STRIDE × severity", "<svg", "Legend", "Entry points and attack paths",
		"<h2 id=\"findings\">", "Mitigation:", "References:", "CWE-798", "Review questions", "orders-db only", "partly",
		"literal-secret-in-env@workload:payments/payments", "testdata/demo/payments.yaml:16",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, f := range r.Findings {
		if !strings.Contains(out, html.EscapeString(f.ID)) {
			t.Errorf("finding %s is missing", f.ID)
			break
		}
	}
	// Self-contained: no external resources, no scripts.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:|//)`).FindString(out); m != "" {
		t.Errorf("the page loads something from the network: %s", m)
	}
	if strings.Contains(out, "<script") || strings.Contains(out, "<link") {
		t.Error("the page has a script or a linked resource")
	}
}

// TestHTMLReportWrittenAsideIsTheSame: the part of the page after the
// diagram, written to a temporary file while the diagram is drawn, makes
// the page written in order where no temporary file can be made, with the
// diagram in its place; the file is removed.
func TestHTMLReportWrittenAsideIsTheSame(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	write := func(tmp string) string {
		t.Helper()
		t.Setenv("TMPDIR", tmp)
		var b bytes.Buffer
		if err := export.WriteReportHTML(context.Background(), &b, r, export.HTMLOptions{Renderer: graphviz.Renderer{}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	tmp := t.TempDir()
	aside := write(tmp)
	inOrder := write(filepath.Join(tmp, "missing"))
	if aside != inOrder {
		t.Errorf("the page differs when its end is written aside (%d bytes, %d in order)", len(aside), len(inOrder))
	}
	diagram, svg, findings := strings.Index(aside, `<h2 id="diagram">`), strings.Index(aside, "<svg"), strings.Index(aside, `<h2 id="findings">`)
	if !(diagram >= 0 && diagram < svg && svg < findings) || !strings.HasSuffix(aside, "</html>\n") {
		t.Errorf("the page's parts are out of order: diagram at %d, svg at %d, findings at %d", diagram, svg, findings)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the temporary file was left behind: %v", left)
	}
}

// TestHTMLReportOfALargeSystemDrawsAnOverview: a system over the diagram
// limit gets its overview, one box per namespace, with the note that says
// how to draw a part and the namespaces by risk; Force draws every element
// and Overview an overview of any size.
func TestHTMLReportOfALargeSystemDrawsAnOverview(t *testing.T) {
	g := &model.Graph{}
	for i := range export.MaxDiagramNodes + 5 {
		ns := "ns" + string(rune('a'+i%3)) // Graphviz would write a "-" as &#45;
		g.Nodes = append(g.Nodes, model.Node{ID: "workload:" + ns + "/w" + strconv.Itoa(i), Type: model.Process, Name: "w", Namespace: ns})
	}
	page := func(opts export.HTMLOptions) (string, int) {
		t.Helper()
		r := report(t, scanned{graph: g}, export.Scope{})
		var b bytes.Buffer
		renderer := &countingRenderer{}
		opts.Renderer = renderer
		if err := export.WriteReportHTML(context.Background(), &b, r, opts); err != nil {
			t.Fatal(err)
		}
		return b.String(), renderer.calls
	}
	out, calls := page(export.HTMLOptions{})
	if calls != 1 {
		t.Errorf("%d renders, want the overview's one", calls)
	}
	for _, want := range []string{"<title>group:namespace:nsa</title>", "102 processes", "one box per namespace", "--namespace NS", "<code>nsb</code>", "<code>nsc</code>"} {
		if !strings.Contains(out, want) {
			t.Errorf("the page should hold the overview, explain it and list namespaces; lacks %q", want)
		}
	}
	if strings.Contains(out, "<title>workload:nsa/w0</title>") {
		t.Error("the overview draws elements one by one")
	}
	if out, _ := page(export.HTMLOptions{Force: true}); !strings.Contains(out, "<title>workload:nsa/w0</title>") || strings.Contains(out, "group:namespace:") {
		t.Error("Force should draw every element")
	}
	g.Nodes = g.Nodes[:10]
	if out, _ := page(export.HTMLOptions{Overview: true, GroupBy: export.GroupByApp}); !strings.Contains(out, "<title>group:app:nsa/</title>") {
		t.Error("Overview should draw a small system's overview too, grouped as asked")
	}
	// One large namespace: a box per application, and no advice to narrow
	// to a namespace.
	g.Nodes = nil
	for i := range export.MaxDiagramNodes + 5 {
		app := "app" + strconv.Itoa(i%2)
		g.Nodes = append(g.Nodes, model.Node{ID: "workload:big/w" + strconv.Itoa(i), Type: model.Process, Name: "w", Namespace: "big", Labels: map[string]string{"app": app}})
	}
	out, _ = page(export.HTMLOptions{})
	for _, want := range []string{"<title>group:app:big/app0</title>", "<title>group:app:big/app1</title>", "one box per app", "--focus ELEMENT"} {
		if !strings.Contains(out, want) {
			t.Errorf("the overview of one namespace should be by application; lacks %q", want)
		}
	}
	if strings.Contains(out, "--namespace NS") {
		t.Error("the note of one namespace's overview offers --namespace")
	}
}

type countingRenderer struct{ calls int }

func (c *countingRenderer) Render(ctx context.Context, dot []byte, format string, w io.Writer) error {
	c.calls++
	return graphviz.Renderer{}.Render(ctx, dot, format, w)
}

func TestMarkdownReport(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	var b bytes.Buffer
	if err := export.WriteReportMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"# Threat model — test", "## Summary", "## STRIDE × severity", "| S spoofing |", "## Attack paths", "## Findings", "**Mitigation:**", "## Review questions"} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
}

// TestThreatDragonModel: a Threat Dragon v2 file with the fields its schema
// requires, elements placed by Graphviz without overlapping, flows between
// existing cells, and each finding as a threat on its element.
func TestThreatDragonModel(t *testing.T) {
	s := demo(t)
	r := report(t, s, export.Scope{})
	var b bytes.Buffer
	if err := export.WriteThreatDragon(context.Background(), &b, r, graphviz.Renderer{}); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version string `json:"version"`
		Summary struct {
			Title string `json:"title"`
		} `json:"summary"`
		Detail struct {
			Contributors []any `json:"contributors"`
			Diagrams     []struct {
				DiagramType string `json:"diagramType"`
				Thumbnail   string `json:"thumbnail"`
				Version     string `json:"version"`
				Title       string `json:"title"`
				Cells       []struct {
					ID       string `json:"id"`
					Shape    string `json:"shape"`
					ZIndex   *int   `json:"zIndex"`
					Position *struct{ X, Y float64 }
					Size     *struct{ Width, Height float64 }
					Source   *struct{ Cell string }
					Target   *struct{ Cell string }
					Data     struct {
						Type           string `json:"type"`
						Name           string `json:"name"`
						HasOpenThreats *bool  `json:"hasOpenThreats"`
						Threats        []struct {
							Title, Status, Severity, Type, Description, Mitigation, ModelType string
						} `json:"threats"`
					} `json:"data"`
				} `json:"cells"`
			} `json:"diagrams"`
			DiagramTop *int    `json:"diagramTop"`
			Reviewer   *string `json:"reviewer"`
			ThreatTop  *int    `json:"threatTop"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Version == "" || m.Summary.Title == "" || m.Detail.Contributors == nil || m.Detail.DiagramTop == nil || m.Detail.Reviewer == nil || m.Detail.ThreatTop == nil || len(m.Detail.Diagrams) != 1 {
		t.Fatalf("missing required fields: %+v", m)
	}
	d := m.Detail.Diagrams[0]
	if d.DiagramType != "STRIDE" || d.Thumbnail == "" || d.Version == "" || d.Title == "" {
		t.Errorf("diagram header = %+v", d)
	}
	ids := map[string]string{}
	shapes := map[string]int{}
	threatCount := 0
	strides := map[string]bool{}
	for _, c := range d.Cells {
		if c.ID == "" || c.Shape == "" || c.ZIndex == nil || c.Data.Type == "" || c.Data.HasOpenThreats == nil {
			t.Errorf("cell lacks a required field: %+v", c)
		}
		ids[c.ID] = c.Shape
		shapes[c.Shape]++
		for _, th := range c.Data.Threats {
			threatCount++
			strides[th.Type] = true
			if th.Title == "" || th.Status == "" || th.Severity == "" || th.Description == "" || th.Mitigation == "" || th.ModelType != "STRIDE" {
				t.Errorf("threat lacks a required field: %+v", th)
			}
		}
		if c.Shape != "flow" && (c.Position == nil || c.Size == nil || c.Size.Width < 10 || c.Size.Height < 10) {
			t.Errorf("cell %s has no position or size", c.Data.Name)
		}
	}
	for _, c := range d.Cells {
		if c.Shape == "flow" && (ids[c.Source.Cell] == "" || ids[c.Target.Cell] == "") {
			t.Errorf("flow %s connects cells that do not exist", c.Data.Name)
		}
	}
	if shapes["process"] != 10 || shapes["store"] != 3 || shapes["actor"] != 2 || shapes["flow"] != len(s.graph.Edges) || shapes["trust-boundary-box"] != len(s.graph.Boundaries) {
		t.Errorf("cells by shape = %v", shapes)
	}
	if threatCount == 0 || *m.Detail.ThreatTop != threatCount || !strides["Elevation of privilege"] {
		t.Errorf("%d threats (threatTop %d), types %v", threatCount, *m.Detail.ThreatTop, strides)
	}
	// Elements do not overlap: Graphviz placed them.
	type box struct{ x, y, w, h float64 }
	var boxes []box
	for _, c := range d.Cells {
		if c.Shape == "process" || c.Shape == "store" || c.Shape == "actor" {
			boxes = append(boxes, box{c.Position.X, c.Position.Y, c.Size.Width, c.Size.Height})
		}
	}
	for i := range boxes {
		for j := i + 1; j < len(boxes); j++ {
			a, c := boxes[i], boxes[j]
			if a.x < c.x+c.w && c.x < a.x+a.w && a.y < c.y+c.h && c.y < a.y+a.h {
				t.Errorf("elements overlap: %+v %+v", a, c)
			}
		}
	}
	// The same scan gives the same file.
	var again bytes.Buffer
	if err := export.WriteThreatDragon(context.Background(), &again, r, graphviz.Renderer{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Error("Threat Dragon output is not deterministic")
	}
}

// TestReportComparesTheWire: a scan holding flows seen on the wire gets a
// summary of how they compare with the declared ones, in every format; a
// scan without any gets none.
func TestReportComparesTheWire(t *testing.T) {
	if w := report(t, demo(t), export.Scope{}).Summary.Wire; w != nil {
		t.Fatalf("no flow was observed in the demo scan, yet: %+v", w)
	}
	s := demo(t)
	g := *s.graph
	g.Edges = append([]model.Edge(nil), s.graph.Edges...)
	seen := 0
	for i := range g.Edges {
		e := &g.Edges[i]
		if e.From == model.InternetID || seen == 2 {
			continue
		}
		// Two declared flows seen, one of them in clear where TLS is declared.
		e.Observed, e.Observation = true, &model.Observation{Connections: 3, Encryption: model.EncryptionTLS}
		if seen == 1 {
			e.Encryption, e.Observation.Encryption = model.EncryptionTLS, model.EncryptionPlaintext
		}
		seen++
	}
	// One seen where the observer could not peek at payloads.
	g.Edges = append(g.Edges, model.Edge{ID: "x->y:1", From: g.Edges[0].From, To: g.Edges[0].To, Port: 1, Observed: true, Observation: &model.Observation{Connections: 1, Unclassified: true}})
	declared := 0
	for _, e := range g.Edges {
		if e.Declared {
			declared++
		}
	}
	r := report(t, scanned{graph: &g, findings: s.findings}, export.Scope{})
	want := export.WireSummary{Observed: 3, Undeclared: 1, Unseen: declared - 2, Plaintext: 1, Unclassified: 1}
	if w := r.Summary.Wire; w == nil || *w != want {
		t.Fatalf("wire summary %+v, want %+v", w, want)
	}
	var md bytes.Buffer
	if err := export.WriteReportMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if line := fmt.Sprintf("| Seen on the wire | 3 flows; 1 declared by no manifest, %d declared and never seen, 1 in plaintext where encryption is declared, 1 not classified (the observer could not peek at payloads) |", declared-2); !strings.Contains(md.String(), line) {
		t.Errorf("Markdown lacks %q", line)
	}
	var h bytes.Buffer
	if err := export.WriteReportHTML(context.Background(), &h, r, export.HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.String(), "flows seen on the wire") || !strings.Contains(h.String(), "1 not classified") {
		t.Error("the HTML summary lacks the wire card")
	}
}
