package pipeline

import (
	"reflect"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// contentGraph is a small graph whose evidence carries resourceVersions
// and whose flow was observed: what differs between two reads of an
// unchanged cluster.
func contentGraph(version string, connections uint64) *model.Graph {
	ev := model.Evidence{File: "/api/v1/namespaces/shop/services/web", Version: version, Object: "Service shop/web"}
	return &model.Graph{
		Nodes: []model.Node{
			{ID: "workload:shop/web", Type: model.Process, Name: "web", Namespace: "shop", Labels: model.Labels{"b": "2", "a": "1"}, Evidence: []model.Evidence{ev}},
			{ID: "workload:shop/db", Type: model.DataStore, Name: "db", Namespace: "shop", DataStore: &model.DataStoreInfo{Engine: "redis", Evidence: ev}},
		},
		Edges: []model.Edge{{ID: "workload:shop/web->workload:shop/db:6379", From: "workload:shop/web", To: "workload:shop/db", Port: 6379, Protocol: "redis",
			Encryption: model.EncryptionPlaintext, Declared: true, Observed: true, Evidence: []model.Evidence{ev},
			Observation: &model.Observation{Connections: connections}}},
	}
}

// TestContentHash: two reads of the same sources hash alike though their
// resourceVersions and observed counts differ, a changed element or finding
// or a new problem changes the hash, and the graph hashed is left as it
// was.
func TestContentHash(t *testing.T) {
	findings := []threats.Finding{{ID: "plaintext@e", Severity: threats.High}}
	hash := func(g *model.Graph, f []threats.Finding, problems ...discover.Problem) string {
		t.Helper()
		h, err := contentHash(g, verdictsOf(f), nil, problems)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	g := contentGraph("41", 3)
	base := hash(g, findings)
	if g.Nodes[0].Evidence[0].Version != "41" || g.Nodes[1].DataStore.Evidence.Version != "41" || g.Edges[0].Observation == nil || g.Edges[0].Observation.Connections != 3 {
		t.Fatal("hashing changed the graph")
	}
	if h := hash(contentGraph("97", 12), findings); h != base {
		t.Error("a new resourceVersion or more connections changed the hash")
	}
	changed := contentGraph("41", 3)
	changed.Edges[0].Encryption = model.EncryptionTLS
	for name, h := range map[string]string{
		"a changed flow":    hash(changed, findings),
		"a changed finding": hash(g, []threats.Finding{{ID: "plaintext@e", Severity: threats.Medium}}),
		"a new problem":     hash(g, findings, discover.Problem{Code: "forbidden", Message: "services: forbidden"}),
	} {
		if h == base {
			t.Errorf("%s did not change the hash", name)
		}
	}
}

// TestContentHashCoversTheGraph: an element added to any of the graph's
// lists changes the hash, so a list added to model.Graph cannot be left
// out of it unnoticed.
func TestContentHashCoversTheGraph(t *testing.T) {
	base, err := contentHash(&model.Graph{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	graphType := reflect.TypeFor[model.Graph]()
	for i := range graphType.NumField() {
		field := graphType.Field(i)
		if !field.IsExported() {
			continue
		}
		if field.Type.Kind() != reflect.Slice {
			t.Errorf("model.Graph.%s is not a list: say in contentHash how it is hashed, and here how to test it", field.Name)
			continue
		}
		var g model.Graph
		list := reflect.ValueOf(&g).Elem().Field(i)
		list.Set(reflect.MakeSlice(field.Type, 1, 1))
		h, err := contentHash(&g, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h == base {
			t.Errorf("an element in model.Graph.%s does not change the content hash", field.Name)
		}
	}
}
