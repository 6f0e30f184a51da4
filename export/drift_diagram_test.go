package export_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/export/graphviz"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// Drift colours, as the legend shows them.
const (
	addedColour   = "#188038"
	removedColour = "#9334e6"
	changedColour = "#007b83"
)

func workload(ns, name, image string) model.Node {
	return model.Node{
		ID: "workload:" + ns + "/" + name, Type: model.Process, Name: name, Namespace: ns, Kind: "Deployment",
		Workload: &model.Workload{Containers: []model.Container{{Name: name, Image: model.Image{Ref: image}}}},
	}
}

func flow(from, to string, port int32) model.Edge {
	return model.Edge{ID: from + "->" + to + ":" + strconv.Itoa(int(port)), From: from, To: to, Port: port, Protocol: "http", Encryption: model.EncryptionPlaintext, Declared: true}
}

// releaseGraphs are two versions of a small system: the later one adds
// shop/new and its flow, removes shop/old and the whole legacy namespace
// with their flows, changes shop/db's image and moves a→db to another
// port. The gateway's flow to a and the internet are unchanged.
func releaseGraphs() (before, after *model.Graph) {
	internet := model.Node{ID: model.InternetID, Type: model.ExternalEntity, Name: "internet"}
	gw := model.Node{ID: "gateway:shop/gw", Type: model.Gateway, Name: "gw", Namespace: "shop", Kind: "Ingress"}
	a := workload("shop", "a", "a:1")
	boundaries := func(shop []string, legacy bool) []model.Boundary {
		out := []model.Boundary{
			{ID: "boundary:internet", Type: model.BoundaryInternet, Name: "internet", Members: []string{model.InternetID}},
			{ID: "boundary:cluster", Type: model.BoundaryCluster, Name: "cluster", Members: slices.Clone(shop)},
			{ID: "boundary:namespace:shop", Type: model.BoundaryNamespace, Name: "shop", Parent: "boundary:cluster", Members: slices.Clone(shop)},
		}
		if legacy {
			out[1].Members = append(out[1].Members, "workload:legacy/job")
			out = append(out, model.Boundary{ID: "boundary:namespace:legacy", Type: model.BoundaryNamespace, Name: "legacy", Parent: "boundary:cluster", Members: []string{"workload:legacy/job"}})
		}
		return out
	}
	before = &model.Graph{
		Nodes: []model.Node{internet, gw, a, workload("shop", "old", "old:1"), workload("shop", "db", "postgres:15"), workload("legacy", "job", "job:1")},
		Edges: []model.Edge{
			flow(model.InternetID, gw.ID, 443), flow(gw.ID, a.ID, 80),
			flow(a.ID, "workload:shop/old", 8080), flow(a.ID, "workload:shop/db", 5432),
			flow("workload:legacy/job", "workload:shop/db", 5432),
		},
		Boundaries: boundaries([]string{gw.ID, a.ID, "workload:shop/old", "workload:shop/db"}, true),
	}
	after = &model.Graph{
		Nodes: []model.Node{internet, gw, a, workload("shop", "db", "postgres:16"), workload("shop", "new", "new:1")},
		Edges: []model.Edge{
			flow(model.InternetID, gw.ID, 443), flow(gw.ID, a.ID, 80),
			flow(a.ID, "workload:shop/db", 5433), flow(a.ID, "workload:shop/new", 9000),
		},
		Boundaries: boundaries([]string{gw.ID, a.ID, "workload:shop/db", "workload:shop/new"}, false),
	}
	return before, after
}

// dotItem is one node, edge or cluster line of a DOT diagram.
type dotItem struct{ id, label, line string }

var (
	dotNode    = regexp.MustCompile(`^\s*"([^"]+)" \[label="([^"]*)"`)
	dotEdge    = regexp.MustCompile(`^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]*)"`)
	dotCluster = regexp.MustCompile(`^\s*subgraph "cluster_([^"]+)"`)
	dotLabel   = regexp.MustCompile(`^\s*label="([^"]*)"`)
)

// dotItems reads the diagram back: nodes by ID, edges as FROM->TO:PORT
// (their label says the port), clusters by boundary ID.
func dotItems(dot string) map[string]dotItem {
	items := map[string]dotItem{}
	cluster := ""
	for _, line := range strings.Split(dot, "\n") {
		if m := dotEdge.FindStringSubmatch(line); m != nil {
			_, port, _ := strings.Cut(strings.SplitN(m[3], `\n`, 2)[0], ":")
			id := m[1] + "->" + m[2] + ":" + port
			items[id] = dotItem{id, m[3], line}
		} else if m := dotNode.FindStringSubmatch(line); m != nil {
			items[m[1]] = dotItem{m[1], m[2], line}
		} else if m := dotCluster.FindStringSubmatch(line); m != nil {
			cluster = m[1]
		} else if m := dotLabel.FindStringSubmatch(line); m != nil && cluster != "" {
			items[cluster] = dotItem{cluster, m[1], line}
			cluster = ""
		}
	}
	return items
}

// marked lists the items whose label starts with sign, sorted.
func marked(items map[string]dotItem, sign string) []string {
	var out []string
	for id, it := range items {
		if strings.HasPrefix(it.label, sign+" ") {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// TestDriftDiagramMarksExactlyTheDrift: the merged diagram of a known
// release marks what was added, removed and changed, each in its style,
// draws removed elements where they were, and marks nothing else.
func TestDriftDiagramMarksExactlyTheDrift(t *testing.T) {
	before, after := releaseGraphs()
	afterDOT := dotOf(t, after, export.DOTOptions{Title: "after"})
	g, drift := export.DriftDiagram(after, threats.Compare(threats.Snapshot{Graph: before}, threats.Snapshot{Graph: after}), "scan #1")
	out := dotOf(t, g, export.DOTOptions{Title: "drift", Drift: drift})
	items := dotItems(out)

	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
	check("added", marked(items, "+"), []string{"workload:shop/a->workload:shop/new:9000", "workload:shop/new"})
	check("removed", marked(items, "-"), []string{
		"boundary:namespace:legacy",
		"workload:legacy/job", "workload:legacy/job->workload:shop/db:5432",
		"workload:shop/a->workload:shop/old:8080", "workload:shop/old",
	})
	check("changed", marked(items, "~"), []string{"workload:shop/a->workload:shop/db:5433", "workload:shop/db"})
	for _, id := range []string{model.InternetID, "gateway:shop/gw", "workload:shop/a", "gateway:shop/gw->workload:shop/a:80", "boundary:namespace:shop"} {
		if it, ok := items[id]; !ok || strings.Contains(it.line, "since scan") || strings.Contains(it.line, "penwidth=3") {
			t.Errorf("unchanged %s is missing or marked: %q", id, it.line)
		}
	}

	for id, want := range map[string][]string{
		"workload:shop/new":                          {`color="` + addedColour + `"`, "penwidth=3", `added since scan #1`},
		"workload:shop/a->workload:shop/new:9000":    {`color="#d93025"`, `fontcolor="` + addedColour + `"`, "penwidth=3"}, // still red: plaintext
		"workload:shop/old":                          {`style="rounded,filled,dashed"`, `color="` + removedColour + `"`, `removed since scan #1`},
		"workload:shop/a->workload:shop/old:8080":    {`color="` + removedColour + `"`, "style=dashed"},
		"boundary:namespace:legacy":                  {`color="` + removedColour + `"`},
		"workload:shop/db":                           {`color="` + changedColour + `"`, `changed since scan #1\ncontainer db image: postgres:15 → postgres:16`},
		"workload:shop/a->workload:shop/db:5433":     {`fontcolor="` + changedColour + `"`, `port: 5432 → 5433`},
		"workload:legacy/job->workload:shop/db:5432": {"style=dashed"},
	} {
		for _, w := range want {
			if !strings.Contains(items[id].line, w) {
				t.Errorf("%s: %q lacks %s", id, items[id].line, w)
			}
		}
	}

	// Removed elements are drawn in the boundary that held them.
	if !inCluster(out, "boundary:namespace:shop", "workload:shop/old") || !inCluster(out, "boundary:namespace:legacy", "workload:legacy/job") {
		t.Errorf("removed elements are not drawn where they were:\n%s", out)
	}
	if !strings.Contains(out, "Changes since scan #1") || strings.Contains(afterDOT, "Changes since") {
		t.Error("the legend should explain the marks with drift, and only then")
	}
	if again := dotOf(t, g, export.DOTOptions{Title: "drift", Drift: drift}); again != out {
		t.Error("the same drift drew different DOT twice")
	}
	// The later graph itself is not changed: it still draws as before.
	if dotOf(t, after, export.DOTOptions{Title: "after"}) != afterDOT {
		t.Error("DriftDiagram changed the graph it was given")
	}
}

func dotOf(t *testing.T, g *model.Graph, opts export.DOTOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := export.WriteDOTOptions(&b, g, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// inCluster reports whether node id is declared inside the cluster of
// boundary (directly or in a nested cluster).
func inCluster(dot, boundary, id string) bool {
	start := strings.Index(dot, `subgraph "cluster_`+boundary+`" {`)
	if start < 0 {
		return false
	}
	depth := 0
	for _, line := range strings.Split(dot[start:], "\n") {
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if strings.HasPrefix(strings.TrimSpace(line), `"`+id+`" [`) {
			return true
		}
		if depth == 0 {
			return false
		}
	}
	return false
}

// TestDriftDiagramSVG draws the demo's drift with the real Graphviz: the
// payments namespace removed, a reviews service added with catalog
// calling it, and catalog's image changed. The SVG is well-formed and
// draws the removed element dashed in the removed colour, the added one
// with the added border, the changed one's tooltip, and the legend.
func TestDriftDiagramSVG(t *testing.T) {
	before := demo(t)
	dir := filepath.Join(t.TempDir(), "demo")
	if err := os.CopyFS(dir, os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "payments.yaml")); err != nil {
		t.Fatal(err)
	}
	services := filepath.Join(dir, "services.yaml")
	data, err := os.ReadFile(services)
	if err != nil {
		t.Fatal(err)
	}
	const oldImage = "image: ghcr.io/stridemap-demo/catalog:1.4.2"
	if !bytes.Contains(data, []byte(oldImage)) {
		t.Fatalf("the demo's services.yaml has no %q", oldImage)
	}
	data = bytes.Replace(data, []byte(oldImage), []byte("image: ghcr.io/stridemap-demo/catalog:1.5.0\n          env:\n            - {name: REVIEWS_URL, value: \"http://reviews:8080\"}"), 1)
	data = append(data, []byte(`---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews, namespace: shop}
spec:
  selector:
    matchLabels: {app: reviews}
  template:
    metadata:
      labels: {app: reviews}
    spec:
      containers:
        - name: reviews
          image: ghcr.io/stridemap-demo/reviews:1.0.0
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 8080, targetPort: http}]
`)...)
	if err := os.WriteFile(services, data, 0o644); err != nil {
		t.Fatal(err)
	}
	after := scanDir(t, dir)

	d := threats.Compare(threats.Snapshot{Graph: before.graph, Findings: before.findings}, threats.Snapshot{Graph: after.graph, Findings: after.findings})
	if len(d.NodesRemoved) == 0 || len(d.EdgesRemoved) == 0 {
		t.Fatalf("removing payments.yaml removed %d elements and %d flows; the demo changed?", len(d.NodesRemoved), len(d.EdgesRemoved))
	}
	g, drift := export.DriftDiagram(after.graph, d, "scan #1")
	var b bytes.Buffer
	err = export.WriteSVG(context.Background(), &b, graphviz.Renderer{}, g, export.DOTOptions{Title: "demo drift", Threats: export.CountOpenThreats(after.findings), Drift: drift})
	if err != nil {
		t.Fatal(err)
	}
	groups := svgGroups(t, b.Bytes())

	removed := d.NodesRemoved[0].ID
	if s := groups[removed]; !s.has("stroke", removedColour) || !s.has("stroke-dasharray", "") {
		t.Errorf("removed %s is not drawn dashed in %s: %+v", removed, removedColour, s)
	}
	for _, e := range d.EdgesRemoved {
		id := e.From + "->" + e.To
		if s := groups[id]; !s.has("stroke", removedColour) || !s.has("stroke-dasharray", "") {
			t.Errorf("removed flow %s is not drawn dashed in %s: %+v", id, removedColour, s)
		}
	}
	if s := groups["workload:shop/reviews"]; !s.has("stroke", addedColour) || !s.has("stroke-width", "3") || !s.hasText("+ reviews") {
		t.Errorf("added workload:shop/reviews is not drawn with the added border and sign: %+v", s)
	}
	if s := groups["workload:shop/catalog->workload:shop/reviews"]; !s.has("fill", addedColour) || !s.has("stroke-width", "3") {
		t.Errorf("the added flow catalog → reviews is not drawn thick with a green label: %+v", s)
	}
	if s := groups["workload:shop/catalog"]; !s.has("stroke", changedColour) || !strings.Contains(s.tooltip, "catalog:1.4.2 → ghcr.io/stridemap-demo/catalog:1.5.0") {
		t.Errorf("changed workload:shop/catalog is not marked with its change: %+v", s)
	}
	if s := groups["workload:shop/cart"]; s.has("stroke", addedColour) || s.has("stroke", removedColour) || s.has("stroke", changedColour) {
		t.Errorf("unchanged workload:shop/cart is marked: %+v", s)
	}
	if s := groups["legend:key"]; !s.hasText("Changes since scan #1") || !s.hasText("- removed") {
		t.Errorf("the legend does not explain the marks: %+v", s.texts)
	}
}

// svgGroup is what Graphviz drew for one node, edge or cluster: the
// attributes of its shapes, its texts and its tooltip.
type svgGroup struct {
	attrs   map[string][]string
	texts   []string
	tooltip string
}

func (g svgGroup) has(attr, value string) bool {
	vals, ok := g.attrs[attr]
	return ok && (value == "" || slices.Contains(vals, value))
}

func (g svgGroup) hasText(s string) bool {
	return slices.ContainsFunc(g.texts, func(t string) bool { return strings.Contains(t, s) })
}

// svgGroups parses svg as XML (failing the test if it is not well-formed)
// and returns its groups by title: Graphviz titles a node with its DOT ID
// and an edge FROM->TO.
func svgGroups(t *testing.T, svg []byte) map[string]svgGroup {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	groups := map[string]svgGroup{}
	var cur *svgGroup
	var title string
	depth, inTitle, inText, sawSVG := 0, false, false, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			sawSVG = sawSVG || tok.Name.Local == "svg"
			if cur != nil {
				depth++
			}
			if tok.Name.Local == "g" && cur == nil && slices.ContainsFunc(tok.Attr, func(a xml.Attr) bool {
				return a.Name.Local == "class" && (a.Value == "node" || a.Value == "edge" || a.Value == "cluster")
			}) {
				cur, title, depth = &svgGroup{attrs: map[string][]string{}}, "", 0
				continue
			}
			if cur == nil {
				continue
			}
			inTitle, inText = tok.Name.Local == "title", tok.Name.Local == "text"
			for _, a := range tok.Attr {
				if tok.Name.Local == "a" && a.Name.Local == "title" {
					cur.tooltip = a.Value
				}
				cur.attrs[a.Name.Local] = append(cur.attrs[a.Name.Local], a.Value)
			}
		case xml.EndElement:
			inTitle, inText = false, false
			if cur == nil {
				continue
			}
			if depth == 0 {
				groups[title] = *cur
				cur = nil
				continue
			}
			depth--
		case xml.CharData:
			switch {
			case cur != nil && inTitle:
				title += string(tok)
			case cur != nil && inText:
				cur.texts = append(cur.texts, string(tok))
			}
		}
	}
	if !sawSVG {
		t.Fatal("no <svg> element")
	}
	return groups
}
