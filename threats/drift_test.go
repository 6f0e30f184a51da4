package threats_test

import (
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

func ids[T any](list []T, id func(T) string) []string {
	var out []string
	for _, v := range list {
		out = append(out, id(v))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCompare(t *testing.T) {
	node := func(id string) model.Node { return model.Node{ID: id} }
	edge := func(id string) model.Edge { return model.Edge{ID: id} }
	control := func(id string) model.Control { return model.Control{ID: id} }
	finding := func(id string) threats.Finding { return threats.Finding{ID: id} }

	before := threats.Snapshot{
		Graph: &model.Graph{
			Nodes:    []model.Node{node("workload:shop/cart"), node("workload:shop/legacy"), node("external:internet")},
			Edges:    []model.Edge{edge("workload:shop/cart->workload:shop/redis:6379"), edge("workload:shop/legacy->workload:shop/cart:80")},
			Controls: []model.Control{control("network-policy@workload:shop/cart"), control("run-as-non-root@workload:shop/cart")},
		},
		Findings: []threats.Finding{finding("no-netpol@workload:shop/legacy"), finding("plaintext@workload:shop/cart->workload:shop/redis:6379")},
	}
	after := threats.Snapshot{
		Graph: &model.Graph{
			Nodes:    []model.Node{node("workload:shop/cart"), node("workload:shop/search"), node("external:internet"), node("workload:shop/admin")},
			Edges:    []model.Edge{edge("workload:shop/cart->workload:shop/redis:6379"), edge("workload:shop/search->workload:shop/cart:80")},
			Controls: []model.Control{control("run-as-non-root@workload:shop/cart")},
		},
		Findings: []threats.Finding{finding("plaintext@workload:shop/cart->workload:shop/redis:6379"), finding("no-netpol@workload:shop/search"), finding("no-netpol@workload:shop/admin")},
	}

	d := threats.Compare(before, after)
	nodeID := func(n model.Node) string { return n.ID }
	edgeID := func(e model.Edge) string { return e.ID }
	controlID := func(c model.Control) string { return c.ID }
	findingID := func(f threats.Finding) string { return f.ID }
	tests := []struct {
		name      string
		got, want []string
	}{
		{"nodes added, in ID order", ids(d.NodesAdded, nodeID), []string{"workload:shop/admin", "workload:shop/search"}},
		{"nodes removed", ids(d.NodesRemoved, nodeID), []string{"workload:shop/legacy"}},
		{"edges added", ids(d.EdgesAdded, edgeID), []string{"workload:shop/search->workload:shop/cart:80"}},
		{"edges removed", ids(d.EdgesRemoved, edgeID), []string{"workload:shop/legacy->workload:shop/cart:80"}},
		{"controls added", ids(d.ControlsAdded, controlID), nil},
		{"controls removed", ids(d.ControlsRemoved, controlID), []string{"network-policy@workload:shop/cart"}},
		{"findings new", ids(d.FindingsNew, findingID), []string{"no-netpol@workload:shop/admin", "no-netpol@workload:shop/search"}},
		{"findings fixed", ids(d.FindingsFixed, findingID), []string{"no-netpol@workload:shop/legacy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !equal(tc.got, tc.want) {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	if d.Empty() {
		t.Error("Empty() is true for a drift with changes")
	}

	// The reverse comparison swaps added and removed.
	r := threats.Compare(after, before)
	if !equal(ids(r.NodesRemoved, nodeID), ids(d.NodesAdded, nodeID)) || !equal(ids(r.FindingsNew, findingID), ids(d.FindingsFixed, findingID)) {
		t.Errorf("reverse comparison is not the mirror image: %+v", r)
	}
}

func TestCompareSameScanIsEmpty(t *testing.T) {
	s := threats.Snapshot{
		Graph:    &model.Graph{Nodes: []model.Node{{ID: "a"}}, Edges: []model.Edge{{ID: "a->b:1"}}, Controls: []model.Control{{ID: "c@a"}}},
		Findings: []threats.Finding{{ID: "r@a"}},
	}
	if d := threats.Compare(s, s); !d.Empty() {
		t.Errorf("a scan compared with itself drifted: %+v", d)
	}
}

func TestCompareNilGraphs(t *testing.T) {
	after := threats.Snapshot{Graph: &model.Graph{Nodes: []model.Node{{ID: "workload:a/b"}}}}
	d := threats.Compare(threats.Snapshot{}, after)
	if len(d.NodesAdded) != 1 || d.NodesAdded[0].ID != "workload:a/b" {
		t.Errorf("from nothing, every node is added: %+v", d)
	}
	if d := threats.Compare(threats.Snapshot{}, threats.Snapshot{}); !d.Empty() {
		t.Errorf("two empty scans drifted: %+v", d)
	}
}
