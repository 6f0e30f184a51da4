package policy_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
)

// verdicts is an Evaluator that answers from a table keyed "from to port";
// a pair it does not hold gets otherwise. Unknown nodes are not known.
type verdicts struct {
	table     map[string]string
	otherwise string
	known     map[string]bool
	asked     int
}

func (v *verdicts) Verdict(from, to string, port model.PodPort) (string, []model.Evidence, bool) {
	v.asked++
	if !v.known[from] || !v.known[to] {
		return "", nil, false
	}
	key := fmt.Sprintf("%s %s %d", from, to, port.Number)
	verdict, ok := v.table[key]
	if !ok {
		verdict = v.otherwise
	}
	return verdict, []model.Evidence{{Object: "NetworkPolicy " + key, Field: "spec.ingress[0]"}}, true
}

func workload(ns, name string, ports ...int32) model.Node {
	w := &model.Workload{Containers: []model.Container{{Name: "init", Init: true, Ports: []model.ContainerPort{{Port: 9}}}, {Name: "app"}}}
	for _, p := range ports {
		w.Containers[1].Ports = append(w.Containers[1].Ports, model.ContainerPort{Port: p, Name: fmt.Sprintf("p%d", p)})
	}
	return model.Node{ID: "workload:" + ns + "/" + name, Namespace: ns, Workload: w}
}

func flow(from, to string, port int32, declared, observed bool) model.Edge {
	return model.Edge{ID: fmt.Sprintf("%s->%s:%d", from, to, port), From: from, To: to, Port: port, Declared: declared, Observed: observed}
}

const (
	a   = "workload:shop/a"
	b   = "workload:shop/b"
	c   = "workload:shop/c"
	d   = "workload:data/d"
	ext = "external:api.example"
)

func smallGraph() *model.Graph {
	g := &model.Graph{Nodes: []model.Node{
		workload("shop", "a", 8080), workload("shop", "b", 8080, 9090), workload("shop", "c", 7000), workload("data", "d", 5432),
		{ID: ext, Type: model.ExternalEntity},
	}}
	g.Edges = []model.Edge{
		flow(a, b, 8080, true, false),
		flow(b, c, 7000, true, true),
		flow(c, d, 5432, false, true),
		flow(a, ext, 443, true, false),
	}
	return g
}

func known(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func edges(flows []policy.Flow) []string {
	var out []string
	for _, f := range flows {
		out = append(out, f.Edge)
	}
	return out
}

func TestDiffSortsTheFlows(t *testing.T) {
	g := smallGraph()
	today := &verdicts{known: known(a, b, c, d), otherwise: model.PolicyDenied, table: map[string]string{
		a + " " + b + " 8080": model.PolicyAllowed,
		b + " " + c + " 7000": "",
		c + " " + d + " 5432": model.PolicyDenied,
	}}
	suggested := &verdicts{known: known(a, b, c, d), otherwise: model.PolicyDenied, table: map[string]string{
		a + " " + b + " 8080": model.PolicyAllowed,
		c + " " + d + " 5432": model.PolicyAllowed,
	}}
	r := policy.Diff(g, today, suggested, policy.DiffOptions{})
	for _, tc := range []struct {
		name      string
		got, want []string
	}{
		{"used", edges(r.Used), []string{a + "->" + b + ":8080"}},
		{"ungoverned", edges(r.Ungoverned), []string{b + "->" + c + ":7000"}},
		{"denied", edges(r.Denied), []string{c + "->" + d + ":5432"}},
		{"not judged", edges(r.NotJudged), []string{a + "->" + ext + ":443"}},
		{"broken", edges(r.Broken), []string{b + "->" + c + ":7000"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if !r.Observed {
		t.Error("the graph holds observed flows, and the report says not")
	}
	if got := r.Used[0].Port; got.Name != "p8080" || got.Protocol != "TCP" {
		t.Errorf("the flow's pod port is %+v, want p8080/TCP from the destination's container", got)
	}
	if r.Broken[0].Verdict != model.PolicyDenied {
		t.Errorf("a broken flow carries the suggestion's verdict %q, want denied", r.Broken[0].Verdict)
	}
}

func TestDiffPairs(t *testing.T) {
	g := smallGraph()
	all := known(a, b, c, d)
	// Today: everything into b is allowed, c is governed by nothing,
	// the rest denied. The suggestion allows b's flow from a and d's
	// from c only, and opens a's 8080 to d, which today denies.
	today := &verdicts{known: all, otherwise: model.PolicyDenied, table: map[string]string{}}
	suggested := &verdicts{known: all, otherwise: model.PolicyDenied, table: map[string]string{
		a + " " + b + " 8080": model.PolicyAllowed,
		b + " " + c + " 7000": model.PolicyAllowed,
		c + " " + d + " 5432": model.PolicyAllowed,
		d + " " + a + " 8080": model.PolicyAllowed,
	}}
	for _, src := range []string{a, c, d} {
		for _, port := range []int{8080, 9090} {
			today.table[fmt.Sprintf("%s %s %d", src, b, port)] = model.PolicyAllowed
		}
	}
	for _, src := range []string{a, b, d} {
		today.table[src+" "+c+" 7000"] = ""
	}
	r := policy.Diff(g, today, suggested, policy.DiffOptions{})
	want := map[string][]string{
		"unused " + b + " 8080":  {d, c}, // a's flow uses 8080
		"unused " + b + " 9090":  {d, a, c},
		"open " + c + " 7000":    {d, a}, // b's flow uses it
		"removes " + b + " 8080": {d, c},
		"removes " + b + " 9090": {d, a, c},
		"removes " + c + " 7000": {d, a},
		"adds " + a + " 8080":    {d},
		"adds " + d + " 5432":    {c}, // a flow today denies
	}
	got := map[string][]string{}
	for name, list := range map[string][]policy.Pairs{"unused": r.Unused, "open": r.Open, "removes": r.Removes, "adds": r.Adds} {
		for _, p := range list {
			got[fmt.Sprintf("%s %s %d", name, p.To, p.Port.Number)] = p.From
		}
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: from %v, want %v", k, got[k], w)
		}
	}
	for k := range got {
		if want[k] == nil {
			t.Errorf("%s: from %v, want nothing", k, got[k])
		}
	}
	if len(r.Unused) > 0 && len(r.Unused[0].By) == 0 {
		t.Error("unused pairs name no rule that allows them")
	}
}

// TestDiffFlowWithoutPort: a flow whose port is not known uses every
// port of the pair, so none of them is reported unused.
func TestDiffFlowWithoutPort(t *testing.T) {
	g := smallGraph()
	g.Edges = []model.Edge{flow(a, b, 0, true, false)}
	all := known(a, b, c, d)
	today := &verdicts{known: all, otherwise: model.PolicyAllowed}
	r := policy.Diff(g, today, today, policy.DiffOptions{Namespaces: []string{"shop"}})
	for _, p := range r.Unused {
		if p.To == b && slices.Contains(p.From, a) {
			t.Errorf("%s from a on %d is reported unused, but a flow of a to b names no port", b, p.Port.Number)
		}
		if p.To == d {
			t.Errorf("%s is outside the namespaces asked for, and reported", d)
		}
	}
	if r.Observed {
		t.Error("no flow was observed, and the report says one was")
	}
}

// TestDiffBounded: past MaxPairs only pairs within a namespace are
// evaluated, and the report says so.
func TestDiffBounded(t *testing.T) {
	g := smallGraph()
	all := known(a, b, c, d)
	full := &verdicts{known: all, otherwise: model.PolicyAllowed}
	policy.Diff(g, full, full, policy.DiffOptions{})
	bounded := &verdicts{known: all, otherwise: model.PolicyAllowed}
	r := policy.Diff(g, bounded, bounded, policy.DiffOptions{MaxPairs: 3})
	if r.Bounded == "" {
		t.Fatal("the pairs were bounded, and the report does not say so")
	}
	if bounded.asked >= full.asked {
		t.Errorf("bounded diff asked %d verdicts, the full one %d: the bound saved nothing", bounded.asked, full.asked)
	}
	for _, p := range r.Unused {
		for _, from := range p.From {
			if (p.To == d) != (from == d) {
				t.Errorf("pair %s -> %s crosses namespaces in a bounded diff", from, p.To)
			}
		}
	}
}
