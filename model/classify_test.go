package model_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

func classes(n *model.Node) []string {
	var out []string
	for _, d := range n.Data {
		out = append(out, d.Class+"/"+d.Source)
	}
	return out
}

func TestClassifyData(t *testing.T) {
	annotated := strings.Replace(modeltest.Deployment("shop", "orders"), "  namespace: shop", "  namespace: shop\n  annotations: {stridemap.io/data: \"PII, payment\"}", 1)
	g := build(t, annotated, modeltest.Deployment("shop", "user-db"), modeltest.Deployment("shop", "paymentservice"), modeltest.Deployment("shop", "author"), modeltest.Deployment("shop", "web"))
	for id, want := range map[string][]string{
		"workload:shop/orders":         {"pii/annotation", "payment/annotation"},
		"workload:shop/user-db":        {"pii/heuristic"},
		"workload:shop/paymentservice": {"payment/heuristic"},
		"workload:shop/author":         nil, // "auth" must be a whole word
		"workload:shop/web":            nil,
	} {
		if got := classes(g.Node(id)); !slices.Equal(got, want) {
			t.Errorf("%s: data = %v, want %v", id, got, want)
		}
	}
	if ev := g.Node("workload:shop/orders").Data[0].Evidence; ev.Line == 0 || ev.Field != "metadata.annotations[stridemap.io/data]" {
		t.Errorf("annotation evidence = %+v", ev)
	}
}

func TestApplyOverlay(t *testing.T) {
	g := build(t, modeltest.Deployment("shop", "user-db"), modeltest.Deployment("legacy", "mainframe-gw"))
	o, err := discover.ReadOverlay(strings.NewReader(`version: 1
elements:
  - match: workload:shop/*
    data: [credentials]
  - match: workload:legacy/mainframe-gw
    datastore: db2
  - match: workload:nowhere/x
    data: [pii]
`), "overlay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	warnings := model.ApplyOverlay(g, o)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "overlay.yaml:7") || !strings.Contains(warnings[0], "workload:nowhere/x") {
		t.Errorf("warnings = %q", warnings)
	}
	if got := classes(g.Node("workload:shop/user-db")); !slices.Equal(got, []string{"credentials/overlay"}) {
		t.Errorf("overlay data should replace the guess: %v", got)
	}
	gw := g.Node("workload:legacy/mainframe-gw")
	if gw.Type != model.DataStore || gw.DataStore.Engine != "db2" || gw.DataStore.Evidence.Line != 5 {
		t.Errorf("overlay data store = %s %+v", gw.Type, gw.DataStore)
	}
}

func TestReadOverlayErrors(t *testing.T) {
	for name, text := range map[string]string{
		"version":  "version: 2\nelements: []\n",
		"no match": "version: 1\nelements:\n  - data: [pii]\n",
		"bad glob": "version: 1\nelements:\n  - match: 'workload:[x'\n",
		"bad yaml": "version: [\n",
		"empty":    "",
	} {
		if _, err := discover.ReadOverlay(strings.NewReader(text), "o.yaml"); err == nil || !strings.Contains(err.Error(), "o.yaml") {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
}

// TestExampleOverlay keeps docs/examples/overlay.yaml valid.
func TestExampleOverlay(t *testing.T) {
	f, err := os.Open("../docs/examples/overlay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o, err := discover.ReadOverlay(f, "overlay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Elements) != 3 || o.Elements[2].DataStore != "db2" {
		t.Errorf("overlay = %+v", o.Elements)
	}
}

// TestGuessData: the longest hint in a word decides, so bookkeeping is
// financial data and user accounts are personal data.
func TestGuessData(t *testing.T) {
	names := []string{"accounting", "accounts", "accountservice", "ledger-db", "billing-api", "user-accounting", "frontend"}
	var docs []string
	for _, name := range names {
		docs = append(docs, modeltest.Deployment("shop", name))
	}
	g := build(t, docs...)
	for name, want := range map[string][]string{
		"accounting":      {"financial/heuristic"},
		"accounts":        {"pii/heuristic"},
		"accountservice":  {"pii/heuristic"},
		"ledger-db":       {"financial/heuristic"},
		"billing-api":     {"financial/heuristic"},
		"user-accounting": {"financial/heuristic", "pii/heuristic"},
		"frontend":        nil,
	} {
		n := g.Node("workload:shop/" + name)
		if got := classes(n); !slices.Equal(got, want) {
			t.Errorf("%s: data = %v, want %v", name, got, want)
		}
		for _, d := range n.Data {
			if !strings.Contains(d.Evidence.Detail, "suggests") {
				t.Errorf("%s: a guessed class's evidence does not say it is a guess: %+v", name, d.Evidence)
			}
		}
	}
}

func TestCarriesData(t *testing.T) {
	node := func(repo string) *model.Node {
		return &model.Node{Workload: &model.Workload{Containers: []model.Container{{Image: model.Image{Repository: repo}}}}}
	}
	app, db := node("open-telemetry/demo"), node("library/postgres")
	for _, tc := range []struct {
		name     string
		edge     model.Edge
		from, to *model.Node
		want     bool
	}{
		{"to a database", model.Edge{Protocol: "postgres"}, app, db, true},
		{"to the collector", model.Edge{Protocol: "grpc"}, app, node("otel/opentelemetry-collector-contrib"), false},
		{"to flagd", model.Edge{Protocol: "grpc"}, app, node("open-feature/flagd"), false},
		{"OTLP anywhere", model.Edge{Protocol: "otlp"}, app, app, false},
		{"from the collector", model.Edge{Protocol: "http"}, node("otel/opentelemetry-collector-contrib"), db, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := model.CarriesData(&tc.edge, tc.from, tc.to); got != tc.want {
				t.Errorf("CarriesData = %v, want %v", got, tc.want)
			}
		})
	}
}
