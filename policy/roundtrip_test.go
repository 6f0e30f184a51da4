package policy_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
)

// TestRoundTrip applies the suggestion for every corpus app and the demo,
// in each format, to the app's own manifests, rebuilds the graph, and
// asks the project's policy evaluator (which reads NetworkPolicies and
// CiliumNetworkPolicies alike): every flow of the graph must be allowed,
// and every other pair of workloads, on every port the destination's
// pods take, denied. Workloads and flows the suggestion notes as not
// expressible in that format are left out and logged. The app's own
// policies are taken out first: policies add up, so a permissive one the
// app ships would admit pairs the suggestion does not.
func TestRoundTrip(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	dirs := map[string]string{"demo": filepath.Join("..", "testdata", "demo")}
	for _, app := range discovertest.CorpusApps(t) {
		dirs[app] = filepath.Join(corpus, app)
	}
	for _, app := range slices.Sorted(maps.Keys(dirs)) {
		for _, format := range []policy.Format{policy.FormatKubernetes, policy.FormatCilium} {
			t.Run(app+"/"+string(format), func(t *testing.T) { roundTrip(t, dirs[app], format) })
		}
	}
}

// render writes a suggestion in one format.
func render(t *testing.T, s policy.Suggestion, format policy.Format) []byte {
	t.Helper()
	data, err := policy.YAML(s.Policies)
	if format == policy.FormatCilium {
		data, err = policy.CiliumYAML(s.CiliumPolicies())
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func roundTrip(t *testing.T, dir string, format policy.Format) {
	g := model.Build(collect(t, dir), controls.Detectors()...)
	s := policy.Suggest(g, policy.Options{From: policy.FromBoth})
	data := render(t, s, format)
	suggested := filepath.Join(t.TempDir(), "suggested-policies.yaml")
	if err := os.WriteFile(suggested, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var ev *controls.PolicyEvaluator
	podPorts := map[string]model.PodPort{} // by edge ID, as the evaluator sees them
	capture := func(ix *model.Index) {
		ev = controls.NewPolicyEvaluator(ix)
		byID := map[string]*model.IndexedWorkload{}
		for _, w := range ix.Workloads() {
			byID[w.ID] = w
		}
		for _, e := range ix.Edges() {
			if w := byID[e.To]; w != nil {
				if p, ok := ix.PodPort(&e, w); ok {
					podPorts[e.ID] = p
				}
			}
		}
	}
	after := model.Build(collect(t, dir, suggested), append(controls.Detectors(), capture)...)

	noted := map[string]bool{}
	for _, n := range s.NotesFor(format) {
		noted[n.Subject] = true
		t.Logf("note: %s", n)
	}
	// allowed holds "from to port" for every flow; port 0 when unknown.
	allowed := map[string]bool{}
	checked := 0
	for _, e := range g.Edges {
		to := g.Node(e.To)
		if noted[e.ID] || to == nil || to.Workload == nil {
			continue
		}
		port := podPorts[e.ID]
		allowed[fmt.Sprintf("%s %s %d", e.From, e.To, port.Number)] = true
		verdict, evidence, ok := ev.Verdict(e.From, e.To, port)
		if !ok {
			t.Errorf("flow %s: the evaluator knows no such source or destination", e.ID)
			continue
		}
		checked++
		if verdict != model.PolicyAllowed {
			t.Errorf("flow %s (pod port %+v) is %q with the suggested policies, want allowed: %+v", e.ID, port, verdict, evidence)
		}
		if !strings.HasPrefix(e.From, "external:") {
			if got := edge(after, e.ID); got.Policy != model.PolicyAllowed {
				t.Errorf("flow %s: the rebuilt graph's verdict is %q, want allowed", e.ID, got.Policy)
			}
		}
	}
	var workloads []*model.Node
	for i := range after.Nodes {
		if n := &after.Nodes[i]; n.Workload != nil && !noted[n.ID] {
			workloads = append(workloads, n)
		}
	}
	pairs := 0
	for _, dst := range workloads {
		ports := portsOf(dst, g, podPorts)
		for _, src := range workloads {
			if src.ID == dst.ID || allowed[fmt.Sprintf("%s %s 0", src.ID, dst.ID)] {
				continue
			}
			for _, port := range ports {
				if allowed[fmt.Sprintf("%s %s %d", src.ID, dst.ID, port.Number)] {
					continue
				}
				pairs++
				if verdict, evidence, _ := ev.Verdict(src.ID, dst.ID, port); verdict != model.PolicyDenied {
					t.Errorf("%s -> %s on %s/%d (%s) is %q with the suggested policies, want denied: no flow of the graph needs it: %+v", src.ID, dst.ID, port.Protocol, port.Number, port.Name, verdict, evidence)
				}
			}
		}
	}
	t.Logf("%s: %d policies, %d notes; %d flows allowed, %d other pairs and ports denied", filepath.Base(dir), len(s.Policies), len(s.Notes), checked, pairs)
}

// portsOf lists the ports a workload's pods take: those its containers
// declare and those flows reach.
func portsOf(n *model.Node, g *model.Graph, podPorts map[string]model.PodPort) []model.PodPort {
	var out []model.PodPort
	add := func(p model.PodPort) {
		if p.Protocol == "" {
			p.Protocol = "TCP"
		}
		if p.Number != 0 && !slices.ContainsFunc(out, func(q model.PodPort) bool { return q.Number == p.Number && q.Protocol == p.Protocol }) {
			out = append(out, p)
		}
	}
	for _, c := range n.Workload.Containers {
		for _, cp := range c.Ports {
			if !c.Init {
				add(model.PodPort{Number: cp.Port, Name: cp.Name, Protocol: cp.Protocol})
			}
		}
	}
	for _, e := range g.Edges {
		if e.To == n.ID {
			add(podPorts[e.ID])
		}
	}
	if len(out) == 0 {
		out = append(out, model.PodPort{Number: 8080, Protocol: "TCP"}) // any port will do for a pod that declares none
	}
	return out
}

// collect reads the paths, without the NetworkPolicies (and Cilium and
// Calico policies) of any but the last path when there are several.
func collect(t *testing.T, paths ...string) *discover.Inventory {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	suggested := ""
	if len(paths) > 1 {
		suggested = paths[len(paths)-1]
	}
	objects := inv.Objects[:0]
	for _, o := range inv.Objects {
		if strings.HasSuffix(o.Kind, "NetworkPolicy") && o.Location.File != suggested {
			continue
		}
		objects = append(objects, o)
	}
	inv.Objects = objects
	return inv
}

func edge(g *model.Graph, id string) model.Edge {
	for _, e := range g.Edges {
		if e.ID == id {
			return e
		}
	}
	return model.Edge{}
}
