package export_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/export/graphviz"
	"github.com/stridemap/stridemap/model"
)

// overviewGraph is two namespaces that exchange flows, the internet and an
// external service: shop's web is entered from the internet and calls its
// api in plaintext; the api and web reach data's database, one flow in
// TLS and one (only observed) in plaintext; the api calls the service.
func overviewGraph() (*model.Graph, export.ThreatCounts) {
	g := &model.Graph{
		Nodes: []model.Node{
			{ID: model.InternetID, Type: model.ExternalEntity, Name: "internet", Kind: "Internet"},
			{ID: "external:api.example", Type: model.ExternalEntity, Name: "api.example"},
			{ID: "workload:shop/web", Type: model.Process, Name: "web", Namespace: "shop", Labels: model.Labels{"app": "web"}},
			{ID: "workload:shop/api", Type: model.Process, Name: "api", Namespace: "shop", Labels: model.Labels{"app.kubernetes.io/part-of": "store"}},
			{ID: "workload:data/db", Type: model.DataStore, Name: "db", Namespace: "data", DataStore: &model.DataStoreInfo{Engine: "postgres"}},
		},
		Edges: []model.Edge{
			{ID: "e1", From: model.InternetID, To: "workload:shop/web", Port: 443, Protocol: "http", Encryption: model.EncryptionTLS, Declared: true},
			{ID: "e2", From: "workload:shop/web", To: "workload:shop/api", Port: 8080, Protocol: "http", Encryption: model.EncryptionPlaintext, Declared: true},
			{ID: "e3", From: "workload:shop/api", To: "workload:data/db", Port: 5432, Protocol: "postgres", Encryption: model.EncryptionTLS, Declared: true},
			{ID: "e4", From: "workload:shop/web", To: "workload:data/db", Port: 5432, Protocol: "postgres", Encryption: model.EncryptionPlaintext, Observed: true},
			{ID: "e5", From: "workload:shop/api", To: "external:api.example", Port: 443, Protocol: "http", Encryption: model.EncryptionMTLS, Declared: true, Observed: true},
		},
		Boundaries: []model.Boundary{
			{ID: "boundary:cluster", Type: model.BoundaryCluster, Name: "cluster"},
			{ID: "boundary:namespace:data", Type: model.BoundaryNamespace, Name: "data", Parent: "boundary:cluster", Members: []string{"workload:data/db"}},
		},
	}
	counts := export.ThreatCounts{
		"workload:shop/web":       {High: 1},
		"e2":                      {Medium: 2},
		"e3":                      {Critical: 1},
		"e4":                      {Low: 1},
		"boundary:namespace:data": {Low: 3},
		"boundary:cluster":        {High: 4},
	}
	return g, counts
}

func overviewDOT(t *testing.T, g *model.Graph, opts export.OverviewOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := export.WriteOverviewDOT(&b, g, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dotLine returns the line of dot that starts with the quoted id (a node)
// or with `"from" -> "to"` (an edge), failing when there is none.
func dotLine(t *testing.T, dot, start string) string {
	t.Helper()
	for line := range strings.SplitSeq(dot, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), start+" [") {
			return line
		}
	}
	t.Fatalf("no line starts with %s in\n%s", start, dot)
	return ""
}

// TestOverviewCountsAndAggregates: one box per namespace counting its
// elements, naming its stores and what the internet reaches, with its own
// flows and threats; one arrow per pair of boxes with the flows counted,
// coloured by the worst encryption, its threats summed; elements outside
// the namespaces drawn as themselves, and threats of no box under the
// title.
func TestOverviewCountsAndAggregates(t *testing.T) {
	g, counts := overviewGraph()
	dot := overviewDOT(t, g, export.OverviewOptions{Title: "overview", Threats: counts})

	shop := dotLine(t, dot, `"group:namespace:shop"`)
	for _, want := range []string{`namespace shop\n2 processes\n`, `from the internet: web`, `1 flow inside (1 plaintext)`, `⚠ 1 high, 2 medium`, `shape=folder`, `color="#d93025"`} {
		if !strings.Contains(shop, want) {
			t.Errorf("shop's box lacks %s:\n%s", want, shop)
		}
	}
	data := dotLine(t, dot, `"group:namespace:data"`)
	for _, want := range []string{`1 data store`, `stores: db (postgres)`, `⚠ 3 low`, `shape=cylinder`} {
		if !strings.Contains(data, want) {
			t.Errorf("data's box lacks %s:\n%s", want, data)
		}
	}
	link := dotLine(t, dot, `"group:namespace:shop" -> "group:namespace:data"`)
	for _, want := range []string{`2 flows: postgres:5432`, `⚠ 1 critical, 1 low`, `color="#d93025"`, `style=solid`} {
		if !strings.Contains(link, want) {
			t.Errorf("the shop→data arrow lacks %s:\n%s", want, link)
		}
	}
	if l := dotLine(t, dot, `"group:namespace:shop" -> "external:api.example"`); !strings.Contains(l, `style=bold`) || !strings.Contains(l, `color="#0b5394"`) {
		t.Errorf("a declared and observed mTLS flow should be bold and blue:\n%s", l)
	}
	if l := dotLine(t, dot, `"external:internet" -> "group:namespace:shop"`); !strings.Contains(l, `1 flow: http:443`) {
		t.Errorf("the internet's arrow:\n%s", l)
	}
	dotLine(t, dot, `"external:api.example"`)
	for _, id := range []string{"workload:shop/web", "workload:data/db", "e2"} {
		if strings.Contains(dot, `"`+id+`"`) {
			t.Errorf("the overview draws %s, which a box holds", id)
		}
	}
	if !strings.Contains(dot, `trust boundaries: 4 high`) {
		t.Error("the cluster's threats are not under the title")
	}
	if !strings.Contains(dot, `layout=dot`) || !strings.Contains(dot, "Legend (overview)") {
		t.Error("a small overview is laid out by dot, with its legend")
	}
}

// TestOverviewByApp makes one box per application label in a namespace,
// and one for the elements of a namespace that carry none.
func TestOverviewByApp(t *testing.T) {
	g, counts := overviewGraph()
	dot := overviewDOT(t, g, export.OverviewOptions{Threats: counts, GroupBy: export.GroupByApp})
	for _, id := range []string{`"group:app:shop/web"`, `"group:app:shop/store"`, `"group:app:data/"`} {
		dotLine(t, dot, id)
	}
	dotLine(t, dot, `"group:app:shop/web" -> "group:app:shop/store"`)
	if err := export.WriteOverviewDOT(&bytes.Buffer{}, g, export.OverviewOptions{GroupBy: "team"}); err == nil {
		t.Error("an unknown grouping should be an error")
	}
}

// TestOverviewIsStableAndEscaped: the same graph in any order gives the
// same bytes, and names from the input reach the DOT escaped.
func TestOverviewIsStableAndEscaped(t *testing.T) {
	g, counts := overviewGraph()
	hostile := "evil\x1b]0;owned\x07\u202Etxt.exe"
	g.Nodes[2].Namespace, g.Nodes[3].Namespace = hostile, hostile
	want := overviewDOT(t, g, export.OverviewOptions{Threats: counts})
	for _, bad := range []string{"\x1b", "\x07", "\u202E"} {
		if strings.Contains(want, bad) {
			t.Errorf("the DOT holds %q raw", bad)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		r.Shuffle(len(g.Nodes), func(i, j int) { g.Nodes[i], g.Nodes[j] = g.Nodes[j], g.Nodes[i] })
		r.Shuffle(len(g.Edges), func(i, j int) { g.Edges[i], g.Edges[j] = g.Edges[j], g.Edges[i] })
		if got := overviewDOT(t, g, export.OverviewOptions{Threats: counts}); got != want {
			t.Fatalf("the overview changed with the order of the graph:\n%s\n---\n%s", want, got)
		}
	}
}

// manyNamespaces is copies of a namespace with a web and a database, each
// entered from the internet, and external services called by each.
func manyNamespaces(namespaces, externals int) *model.Graph {
	g := &model.Graph{Nodes: []model.Node{{ID: model.InternetID, Type: model.ExternalEntity, Name: "internet"}}}
	for i := range externals {
		g.Nodes = append(g.Nodes, model.Node{ID: fmt.Sprintf("external:host-%d", i), Type: model.ExternalEntity, Name: fmt.Sprintf("host-%d", i)})
	}
	for i := range namespaces {
		ns := fmt.Sprintf("ns-%03d", i)
		web, db := "workload:"+ns+"/web", "workload:"+ns+"/db"
		g.Nodes = append(g.Nodes,
			model.Node{ID: web, Type: model.Process, Name: "web", Namespace: ns},
			model.Node{ID: db, Type: model.DataStore, Name: "db", Namespace: ns})
		g.Edges = append(g.Edges,
			model.Edge{ID: model.InternetID + "->" + web, From: model.InternetID, To: web, Port: 80, Protocol: "http", Encryption: model.EncryptionPlaintext, Declared: true},
			model.Edge{ID: web + "->" + db, From: web, To: db, Port: 5432, Protocol: "postgres", Encryption: model.EncryptionUnknown, Declared: true})
		if externals > 0 {
			host := fmt.Sprintf("external:host-%d", i%externals)
			g.Edges = append(g.Edges, model.Edge{ID: web + "->" + host, From: web, To: host, Port: 443, Protocol: "http", Encryption: model.EncryptionTLS, Declared: true})
		}
	}
	return g
}

// TestOverviewFoldsManyExternals: beyond a few dozen elements outside the
// namespaces, those other than the internet are one box too.
func TestOverviewFoldsManyExternals(t *testing.T) {
	dot := overviewDOT(t, manyNamespaces(100, 100), export.OverviewOptions{})
	if strings.Contains(dot, `"external:host-7"`) {
		t.Error("100 external services should be one box")
	}
	if l := dotLine(t, dot, `"group:outside"`); !strings.Contains(l, `100 external entities`) {
		t.Errorf("the box of external services: %s", l)
	}
	dotLine(t, dot, `"external:internet"`)
	dotLine(t, dot, `"group:namespace:ns-042" -> "group:outside"`)
	if dot := overviewDOT(t, manyNamespaces(3, 5), export.OverviewOptions{}); !strings.Contains(dot, `"external:host-4" [`) {
		t.Error("a few external services are drawn as themselves")
	}
}

// TestOverviewSVGOfManyNamespaces lays out 300 namespaces with the real
// Graphviz: sfdp, every box and arrow drawn, the arrows' colours those of
// their worst encryption.
func TestOverviewSVGOfManyNamespaces(t *testing.T) {
	g := manyNamespaces(300, 0)
	var dot bytes.Buffer
	if err := export.WriteOverviewDOT(&dot, g, export.OverviewOptions{Title: "300"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dot.String(), "layout=sfdp") {
		t.Fatal("300 boxes should be laid out by sfdp")
	}
	svg, err := export.RenderOverviewSVG(context.Background(), graphviz.Renderer{}, g, export.OverviewOptions{Title: "300"})
	if err != nil {
		t.Fatal(err)
	}
	groups := svgGroups(t, svg)
	for i := range 300 {
		box := fmt.Sprintf("group:namespace:ns-%03d", i)
		if s, ok := groups[box]; !ok || !s.hasText("1 flow inside") {
			t.Fatalf("no box %s (or without its count): %+v", box, s)
		}
		if s, ok := groups[model.InternetID+"->"+box]; !ok || !s.has("stroke", "#d93025") {
			t.Fatalf("no red arrow from the internet to %s: %+v", box, s)
		}
	}
	if _, ok := groups["legend:key"]; !ok {
		t.Error("no legend")
	}
	// 300 boxes, the internet, 300 arrows and the legend: nothing else.
	if len(groups) != 602 {
		t.Errorf("the SVG draws %d nodes and edges, want 602", len(groups))
	}
}
