package export_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/export/graphviz"
	"github.com/stridemap/stridemap/model"
)

func demoDOT(t *testing.T) []byte {
	t.Helper()
	s := demo(t)
	var b bytes.Buffer
	if err := export.WriteDOTOptions(&b, s.graph, export.DOTOptions{Title: "demo", Threats: export.CountOpenThreats(s.findings)}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDemoDOTGolden pins the demo's diagram: shapes, boundaries, labels,
// colours, threat counts and legend.
func TestDemoDOTGolden(t *testing.T) {
	golden(t, "demo.dot", demoDOT(t))
}

// TestBoutiqueDOTGolden pins the diagram of Online Boutique from the shared
// corpus (skipped with a message where the corpus is missing, outside CI).
func TestBoutiqueDOTGolden(t *testing.T) {
	s := scanDir(t, filepath.Join(discovertest.CorpusDir(t), "online-boutique"))
	var b bytes.Buffer
	if err := export.WriteDOTOptions(&b, s.graph, export.DOTOptions{Title: "Online Boutique", Threats: export.CountOpenThreats(s.findings)}); err != nil {
		t.Fatal(err)
	}
	golden(t, "online-boutique.dot", b.Bytes())
}

func TestDOTFollowsDFDConventions(t *testing.T) {
	out := string(demoDOT(t))
	for _, want := range []string{
		`"workload:shop-data/orders-db" [label="orders-db\nStatefulSet (postgres)`, // data store
		`shape=cylinder`,
		`"gateway:shop/storefront" [label="storefront\nIngress`,
		`shape=hexagon`,
		`"external:internet" [label="internet"`,
		`subgraph "cluster_boundary:internet"`,
		`subgraph "cluster_boundary:cluster"`,
		`subgraph "cluster_boundary:namespace:shop-data"`,
		`-> "workload:shop-data/orders-db" [label="postgres:5432`, // protocol:port
		`color="#d93025"`,                                         // plaintext
		`⚠ `,                                                      // threat counts
		`"legend:key"`,
		`open threats by severity`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo DOT lacks %s", want)
		}
	}
}

func TestDOTStylesEdgesByEvidenceAndEncryption(t *testing.T) {
	g := &model.Graph{
		Nodes: []model.Node{{ID: "a", Type: model.Process, Name: "a"}, {ID: "b", Type: model.Process, Name: "b"}},
		Edges: []model.Edge{
			{ID: "a->b:1", From: "a", To: "b", Port: 1, Protocol: "http", Encryption: model.EncryptionPlaintext, Declared: true},
			{ID: "a->b:2", From: "a", To: "b", Port: 2, Protocol: "grpc", Encryption: model.EncryptionMTLS, Observed: true},
			{ID: "a->b:3", From: "a", To: "b", Port: 3, Protocol: "tls", Encryption: model.EncryptionTLS, Declared: true, Observed: true},
			{ID: "a->b:4", From: "a", To: "b", Port: 4, Protocol: "tcp", Encryption: model.EncryptionUnknown, Declared: true},
		},
	}
	var b bytes.Buffer
	if err := export.WriteDOTOptions(&b, g, export.DOTOptions{NoLegend: true}); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if i := strings.Index(l, `[label="`); i >= 0 && strings.Contains(l, "->") {
			lines[strings.SplitN(l[i+8:], `"`, 2)[0]] = l
		}
	}
	for label, want := range map[string][]string{
		"http:1": {`color="#d93025"`, "style=solid"},
		"grpc:2": {`color="#0b5394"`, "style=dashed"},
		"tls:3":  {`color="#1e8e3e"`, "style=bold"},
		"tcp:4":  {`color="#5f6368"`, "style=solid"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[label], w) {
				t.Errorf("edge %s: %q lacks %s", label, lines[label], w)
			}
		}
	}
	if strings.Contains(b.String(), "legend:") {
		t.Error("NoLegend still drew the legend")
	}
}

func TestNarrow(t *testing.T) {
	g := demo(t).graph
	t.Run("namespace", func(t *testing.T) {
		sub, err := export.Narrow(g, export.Scope{Namespace: "shop-data"})
		if err != nil {
			t.Fatal(err)
		}
		ids := nodeIDs(sub)
		for _, want := range []string{"workload:shop-data/orders-db", "workload:shop/checkout", "external:internet"} {
			if !ids[want] {
				t.Errorf("namespace shop-data should hold %s (in it, or a flow's other end): %v", want, ids)
			}
		}
		if ids["workload:shop/catalog"] || ids["workload:logging/log-shipper"] {
			t.Errorf("namespace shop-data holds elements with no flow to it: %v", ids)
		}
		for _, e := range sub.Edges {
			if !strings.Contains(e.From, "shop-data/") && !strings.Contains(e.To, "shop-data/") {
				t.Errorf("edge %s does not touch the namespace", e.ID)
			}
		}
		for _, b := range sub.Boundaries {
			if b.ID == "boundary:namespace:logging" {
				t.Error("an empty boundary was kept")
			}
		}
	})
	t.Run("focus", func(t *testing.T) {
		one, err := export.Narrow(g, export.Scope{Focus: "shop/checkout", Depth: 1})
		if err != nil {
			t.Fatal(err)
		}
		two, err := export.Narrow(g, export.Scope{Focus: "workload:shop/checkout", Depth: 2})
		if err != nil {
			t.Fatal(err)
		}
		zero, _ := export.Narrow(g, export.Scope{Focus: "checkout", Depth: 0})
		if len(zero.Nodes) != 1 || len(zero.Edges) != 0 {
			t.Errorf("depth 0: %d nodes %d edges, want the element alone", len(zero.Nodes), len(zero.Edges))
		}
		if !nodeIDs(one)["workload:shop-data/orders-db"] || nodeIDs(one)["gateway:shop/storefront"] {
			t.Errorf("depth 1 around checkout: %v", nodeIDs(one))
		}
		if !nodeIDs(two)["gateway:shop/storefront"] || len(two.Nodes) <= len(one.Nodes) {
			t.Errorf("depth 2 should reach the gateway: %v", nodeIDs(two))
		}
	})
	t.Run("errors name what exists", func(t *testing.T) {
		if _, err := export.Narrow(g, export.Scope{Namespace: "nope"}); err == nil || !strings.Contains(err.Error(), "shop-data") {
			t.Errorf("unknown namespace: %v", err)
		}
		if _, err := export.Narrow(g, export.Scope{Focus: "nope"}); err == nil || !strings.Contains(err.Error(), "workload:NS/NAME") {
			t.Errorf("unknown element: %v", err)
		}
	})
}

func nodeIDs(g *model.Graph) map[string]bool {
	out := map[string]bool{}
	for _, n := range g.Nodes {
		out[n.ID] = true
	}
	return out
}

func TestDiagramSizeLimit(t *testing.T) {
	g := &model.Graph{}
	for i := range export.MaxDiagramNodes + 1 {
		g.Nodes = append(g.Nodes, model.Node{ID: "n" + strconv.Itoa(i), Type: model.Process, Name: "n"})
	}
	err := export.CheckDiagramSize(g)
	var big *export.TooLargeError
	if !errors.As(err, &big) || big.Nodes != export.MaxDiagramNodes+1 {
		t.Fatalf("CheckDiagramSize = %v", err)
	}
	g.Nodes = g.Nodes[:export.MaxDiagramNodes]
	if err := export.CheckDiagramSize(g); err != nil {
		t.Errorf("%d nodes should be allowed: %v", export.MaxDiagramNodes, err)
	}
}

// TestSVGRendersDemo lays the demo out with the real Graphviz (in-process)
// and checks the result is well-formed SVG with every element and the legend.
func TestSVGRendersDemo(t *testing.T) {
	s := demo(t)
	var b bytes.Buffer
	err := export.WriteSVG(context.Background(), &b, graphviz.Renderer{}, s.graph, export.DOTOptions{Title: "demo", Threats: export.CountOpenThreats(s.findings)})
	if err != nil {
		t.Fatal(err)
	}
	titles := svgTitles(t, b.Bytes())
	for _, n := range s.graph.Nodes {
		if !titles[n.ID] {
			t.Errorf("SVG has no element titled %s", n.ID)
		}
	}
	if !titles["legend:key"] || !strings.Contains(b.String(), ">Legend<") {
		t.Error("SVG has no legend")
	}
	if !strings.Contains(b.String(), "cylinder") && !strings.Contains(b.String(), "<path") {
		t.Error("no shapes drawn")
	}
}

// svgTitles parses svg as XML (failing the test if it is not well-formed)
// and returns the titles of its nodes, edges and clusters: Graphviz titles
// each node with its DOT ID.
func svgTitles(t *testing.T, svg []byte) map[string]bool {
	t.Helper()
	titles := map[string]bool{}
	for title := range svgGroups(t, svg) {
		titles[title] = true
	}
	return titles
}

func TestRendererReusesOneInstance(t *testing.T) {
	r := graphviz.Renderer{}
	for range 3 {
		var b bytes.Buffer
		if err := r.Render(context.Background(), []byte("digraph { a -> b }"), "svg", &b); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := r.Render(context.Background(), []byte("digraph { a -> }"), "svg", &b); err == nil {
		t.Error("bad DOT should be an error")
	}
	if err := r.Render(context.Background(), []byte("digraph { a }"), "png", &b); err == nil {
		t.Error("an unknown format should be an error")
	}
}
