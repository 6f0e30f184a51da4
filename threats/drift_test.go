package threats_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
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
	edge := func(id string) model.Edge {
		from, rest, _ := strings.Cut(id, "->")
		return model.Edge{ID: id, From: from, To: rest[:strings.LastIndex(rest, ":")]}
	}
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

// TestCompareFindings: a finding gone where the later scan has a coverage
// gap is no longer assessed, not fixed; a severity change keeps the
// finding's triage; attack paths are read from the evidence.
func TestCompareFindings(t *testing.T) {
	path := func(nodes string) []model.Evidence { return []model.Evidence{{Detail: "path: " + nodes}} }
	triaged := &threats.Triage{Status: threats.Accepted, Reason: "known"}
	before := threats.Snapshot{Findings: []threats.Finding{
		{ID: "no-netpol@workload:shop/cart", Severity: threats.Medium},
		{ID: "no-netpol@workload:shop/web", Severity: threats.Medium},
		{ID: "plaintext@workload:shop/a->workload:shop/b:80", Severity: threats.Low, Triage: triaged},
		{ID: "attack-path@workload:shop/db", Element: "workload:shop/db", Severity: threats.High, Evidence: path("external:internet → workload:shop/web → workload:shop/db")},
		{ID: "attack-path@workload:shop/cache", Element: "workload:shop/cache", Severity: threats.High, Evidence: path("external:internet → workload:shop/cache")},
	}}
	after := threats.Snapshot{
		Findings: []threats.Finding{
			{ID: "plaintext@workload:shop/a->workload:shop/b:80", Severity: threats.Medium, Triage: triaged},
			{ID: "attack-path@workload:shop/db", Element: "workload:shop/db", Severity: threats.High, Evidence: path("external:internet → workload:shop/api → workload:shop/db")},
			{ID: "attack-path@workload:shop/queue", Element: "workload:shop/queue", Severity: threats.High, Evidence: path("external:internet → workload:shop/queue")},
		},
		NotAssessed: []store.NotAssessed{{RuleID: "no-netpol", Element: "workload:shop/cart"}},
	}
	d := threats.Compare(before, after)
	findingID := func(f threats.Finding) string { return f.ID }
	pathID := func(p threats.AttackPath) string { return p.Finding }
	if got := ids(d.FindingsFixed, findingID); !equal(got, []string{"attack-path@workload:shop/cache", "no-netpol@workload:shop/web"}) {
		t.Errorf("fixed = %q", got)
	}
	if len(d.FindingsNoLongerAssessed) != 1 || d.FindingsNoLongerAssessed[0].Finding.ID != "no-netpol@workload:shop/cart" {
		t.Errorf("no longer assessed = %+v, want no-netpol@workload:shop/cart", d.FindingsNoLongerAssessed)
	}
	if len(d.FindingsChanged) != 1 || d.FindingsChanged[0].Changes[0] != (threats.Change{Field: "severity", Before: "low", After: "medium"}) ||
		d.FindingsChanged[0].After.Triage != triaged {
		t.Errorf("changed = %+v, want plaintext low → medium, still accepted", d.FindingsChanged)
	}
	if d.FindingsUnchanged != 1 {
		t.Errorf("unchanged = %d, want 1 (the attack path to db)", d.FindingsUnchanged)
	}
	if got := ids(d.PathsNew, pathID); !equal(got, []string{"attack-path@workload:shop/queue"}) {
		t.Errorf("paths new = %q", got)
	}
	if got := ids(d.PathsClosed, pathID); !equal(got, []string{"attack-path@workload:shop/cache"}) {
		t.Errorf("paths closed = %q", got)
	}
	if len(d.PathsChanged) != 1 || d.PathsChanged[0].Changes[0].After != "external:internet → workload:shop/api → workload:shop/db" {
		t.Errorf("paths changed = %+v", d.PathsChanged)
	}
}

// TestCompareFlowOnAnotherPort: the only flow between two elements moving
// to another port is one changed flow, not one removed and one added; two
// flows between the same elements are left as they are.
func TestCompareFlowOnAnotherPort(t *testing.T) {
	edge := func(from, to string, port int32) model.Edge {
		return model.Edge{ID: fmt.Sprintf("%s->%s:%d", from, to, port), From: from, To: to, Port: port, Protocol: "http"}
	}
	before := threats.Snapshot{Graph: &model.Graph{Edges: []model.Edge{edge("a", "b", 80), edge("c", "d", 80), edge("c", "d", 81)}}}
	after := threats.Snapshot{Graph: &model.Graph{Edges: []model.Edge{edge("a", "b", 8080), edge("c", "d", 90), edge("c", "d", 91)}}}
	d := threats.Compare(before, after)
	if len(d.EdgesChanged) != 1 || d.EdgesChanged[0].ID != "a->b:8080" || d.EdgesChanged[0].Before.ID != "a->b:80" ||
		len(d.EdgesChanged[0].Changes) != 1 || d.EdgesChanged[0].Changes[0] != (threats.Change{Field: "port", Before: "80", After: "8080"}) {
		t.Errorf("changed = %+v, want a->b port 80 → 8080", d.EdgesChanged)
	}
	edgeID := func(e model.Edge) string { return e.ID }
	if got := ids(d.EdgesAdded, edgeID); !equal(got, []string{"c->d:90", "c->d:91"}) {
		t.Errorf("added = %q", got)
	}
	if got := ids(d.EdgesRemoved, edgeID); !equal(got, []string{"c->d:80", "c->d:81"}) {
		t.Errorf("removed = %q", got)
	}
}
