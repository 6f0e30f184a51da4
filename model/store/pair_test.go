package store_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
)

// TestPairsReadAsSingleScans: GraphPair and FindingsPair, which read what
// two scans share once, give what Graph and Findings give for each scan:
// for scans that share most elements, for scans that share none, and in
// either order.
func TestPairsReadAsSingleScans(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := scanWithFindings(40)
	changed := scanWithFindings(40)
	changed.Graph.Nodes = append([]model.Node(nil), changed.Graph.Nodes[1:]...) // one removed
	changed.Graph.Nodes[0].Name += "-renamed"                                   // one changed
	extra := changed.Graph.Nodes[1]
	extra.ID += "-added"
	changed.Graph.Nodes = append(changed.Graph.Nodes, extra) // one added
	data, _ := json.Marshal(map[string]string{"id": "new"})
	changed.Findings = append(changed.Findings[2:], store.Finding{ID: "new@x", RuleID: "no-probe", Stride: "spoofing", Severity: "high", Element: "x", Data: data})
	other := scanWithFindings(3)
	other.Graph.Nodes[0].Kind = "Other"
	other.Findings = nil
	ids := []int64{mustSave(t, s, first), mustSave(t, s, changed), mustSave(t, s, other)}

	for _, pair := range [][2]int64{{ids[0], ids[1]}, {ids[1], ids[0]}, {ids[0], ids[2]}, {ids[2], ids[1]}} {
		a, b := pair[0], pair[1]
		ga, gb, err := s.GraphPair(ctx, a, b)
		if err != nil {
			t.Fatal(err)
		}
		fa, fb, err := s.FindingsPair(ctx, a, b)
		if err != nil {
			t.Fatal(err)
		}
		for i, got := range []any{ga, gb, fa, fb} {
			id := pair[i%2]
			var want any
			if i < 2 {
				want, err = s.Graph(ctx, id)
			} else {
				want, err = s.Findings(ctx, id)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("pair %d, %d: scan %d read with its pair differs from read alone:\n got %s\nwant %s", a, b, id, dump(got), dump(want))
			}
		}
	}

	// Delta holds exactly what one scan has and the other does not.
	d, err := s.Delta(ctx, ids[0], ids[1])
	if err != nil {
		t.Fatal(err)
	}
	nodeIDs := func(list []model.Node) (out []string) {
		for _, n := range list {
			out = append(out, n.ID)
		}
		return out
	}
	findingIDs := func(list []store.Finding) (out []string) {
		for _, f := range list {
			out = append(out, f.ID)
		}
		return out
	}
	if got, want := nodeIDs(d.OnlyA.Nodes), []string{first.Graph.Nodes[0].ID, first.Graph.Nodes[1].ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("nodes only in the first scan: %q, want the removed and the renamed %q", got, want)
	}
	if got, want := nodeIDs(d.OnlyB.Nodes), []string{changed.Graph.Nodes[0].ID, extra.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("nodes only in the second scan: %q, want the renamed and the added %q", got, want)
	}
	if len(d.OnlyA.Edges)+len(d.OnlyB.Edges)+len(d.OnlyA.Controls)+len(d.OnlyB.Controls) != 0 || len(d.FlowsA) != len(first.Graph.Edges) || len(d.FlowsB) != len(changed.Graph.Edges) {
		t.Errorf("edges and controls are the same in both scans: only %d/%d edges, %d/%d controls; %d/%d flow ends, want %d/%d",
			len(d.OnlyA.Edges), len(d.OnlyB.Edges), len(d.OnlyA.Controls), len(d.OnlyB.Controls), len(d.FlowsA), len(d.FlowsB), len(first.Graph.Edges), len(changed.Graph.Edges))
	}
	if got, want := findingIDs(d.FindingsA), findingIDs(first.Findings[:2]); !reflect.DeepEqual(got, want) {
		t.Errorf("findings only in the first scan: %q, want %q", got, want)
	}
	if got := findingIDs(d.FindingsB); !reflect.DeepEqual(got, []string{"new@x"}) || d.SharedFindings != len(first.Findings)-2 {
		t.Errorf("findings only in the second scan: %q, %d shared; want [new@x], %d", got, d.SharedFindings, len(first.Findings)-2)
	}
	if ns, err := s.Nodes(ctx, ids[1], []string{extra.ID, "no-such-node", changed.Graph.Nodes[0].ID}); err != nil || !reflect.DeepEqual(nodeIDs(ns), []string{changed.Graph.Nodes[0].ID, extra.ID}) {
		t.Errorf("Nodes by ID: %q, %v; want the two that exist, in the scan's order", nodeIDs(ns), err)
	}
	if _, err := s.Delta(ctx, 99, ids[0]); err == nil {
		t.Error("Delta of an unknown scan: no error")
	}
	if _, _, err := s.GraphPair(ctx, ids[0], 99); err == nil {
		t.Error("GraphPair of an unknown scan: no error")
	}
	if _, _, err := s.FindingsPair(ctx, 99, ids[0]); err == nil {
		t.Error("FindingsPair of an unknown scan: no error")
	}
}
