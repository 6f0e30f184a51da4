package export_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
)

func hostileGraph() *model.Graph {
	name := "evil\"name\\\n<script>alert(1)</script> ünï"
	return &model.Graph{
		Nodes: []model.Node{
			{ID: "workload:ns/" + name, Type: model.Process, Name: name, Namespace: "ns", Kind: "Deployment"},
			{ID: model.InternetID, Type: model.ExternalEntity, Name: "internet", Kind: "Internet"},
		},
		Edges: []model.Edge{{
			ID: model.InternetID + "->workload:ns/" + name + ":80", From: model.InternetID, To: "workload:ns/" + name,
			Port: 80, Protocol: "http", Encryption: model.EncryptionPlaintext, EncryptionSource: `says "hi"`, Declared: true,
		}},
		Boundaries: []model.Boundary{
			{ID: model.ClusterBoundaryID, Type: model.BoundaryCluster, Name: "cluster", Members: []string{"workload:ns/" + name}},
			{ID: "boundary:namespace:ns", Type: model.BoundaryNamespace, Name: "ns", Parent: model.ClusterBoundaryID, Members: []string{"workload:ns/" + name}},
			{ID: model.InternetBoundaryID, Type: model.BoundaryInternet, Name: "internet", Members: []string{model.InternetID}},
		},
		Controls: []model.Control{}, Dangling: []model.DanglingRef{},
	}
}

// TestDOTEscapesHostileNames: names come from manifests, which anyone can
// write; they must stay inside their quoted DOT strings.
func TestDOTEscapesHostileNames(t *testing.T) {
	var b bytes.Buffer
	if err := export.WriteDOT(&b, hostileGraph(), "title \"x\""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`"workload:ns/evil\"name\\\n<script>alert(1)</script> ünï"`,
		`label="title \"x\""`,
		`tooltip="plaintext says \"hi\""`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("DOT lacks %s\n%s", want, out)
		}
	}
	// Every line is one statement: a raw newline inside a name would break that.
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Count(line, `"`)-strings.Count(line, `\"`) == 1 {
			t.Errorf("unbalanced quotes on line %q", line)
		}
	}
	if strings.Count(out, "{") != strings.Count(out, "}") {
		t.Error("unbalanced braces")
	}
}

func TestDOTPlacesNodesInTheirInnermostBoundary(t *testing.T) {
	var b bytes.Buffer
	if err := export.WriteDOT(&b, hostileGraph(), "t"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	declared := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), `"workload:ns/evil`) && strings.Contains(line, "shape=") {
			declared++
		}
	}
	if declared != 1 {
		t.Fatalf("workload declared %d times, want once:\n%s", declared, out)
	}
	ns := strings.Index(out, `subgraph "cluster_boundary:namespace:ns"`)
	node := strings.Index(out, `"workload:ns/evil`)
	if ns < 0 || node < ns {
		t.Errorf("the workload should be declared inside its namespace cluster:\n%s", out)
	}
}

func TestGraphJSONRoundTripAndVersion(t *testing.T) {
	var b bytes.Buffer
	g := hostileGraph()
	if err := export.WriteGraphJSON(&b, g, &export.ScanRef{ID: 7}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "<script>") {
		t.Error("JSON should keep names as they are (no HTML escaping): readers are tools, not browsers")
	}
	doc, err := export.ReadGraphJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Scan.ID != 7 || doc.Nodes[0].Name != g.Nodes[0].Name || len(doc.Edges) != 1 {
		t.Errorf("round trip lost data: %+v", doc)
	}
	_, err = export.ReadGraphJSON(strings.NewReader(`{"schemaVersion": 99, "nodes": []}`))
	var v *export.SchemaVersionError
	if !errors.As(err, &v) || v.Got != 99 {
		t.Errorf("a newer schema should be refused with SchemaVersionError, got %v", err)
	}
}
