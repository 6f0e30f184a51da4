package controls

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
)

// TestGoverningPeerAuthenticationFollowsPrecedence checks the indexed
// lookup against Istio's precedence read straight off the list: the first
// policy of the workload's namespace whose selector matches it, else the
// first of its namespace without a selector, else the first without one in
// the root namespace, UNSET inheriting from the next level.
func TestGoverningPeerAuthenticationFollowsPrecedence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	keys, values := []string{"app", "tier"}, []string{"a", "b"}
	namespaces := []string{"shop", "pay", meshRootNamespace}
	for round := range 200 {
		var pas []peerAuthentication
		for i := range rng.IntN(8) {
			obj := &discover.Object{Kind: "PeerAuthentication", Namespace: namespaces[rng.IntN(len(namespaces))], Name: fmt.Sprintf("pa%d", i)}
			pas = append(pas, peerAuthentication{obj: obj, selector: randomLabels(rng, keys, values, 2), mode: []string{"STRICT", "PERMISSIVE", "DISABLE", ""}[rng.IntN(4)], ports: rng.IntN(5) == 0})
		}
		levels := indexPeerAuthentications(pas)
		for range 20 {
			w := &model.IndexedWorkload{Template: model.PodTemplate{Object: &discover.Object{Namespace: namespaces[rng.IntN(len(namespaces))]}, Labels: randomLabels(rng, keys, values, 2)}}
			got, want := levels.governing(w), naiveGoverning(pas, w)
			if got != want {
				t.Fatalf("round %d: workload %v in %s: governed by %v, Istio's precedence says %v", round, w.Template.Labels, w.Template.Object.Namespace, describePA(got), describePA(want))
			}
		}
	}
}

func naiveGoverning(pas []peerAuthentication, w *model.IndexedWorkload) *peerAuthentication {
	ns := w.Template.Object.Namespace
	var levels [3]*peerAuthentication
	for i := range pas {
		pa := &pas[i]
		switch {
		case pa.obj.Namespace == ns && len(pa.selector) > 0 && labels.SelectorFromSet(pa.selector).Matches(labels.Set(w.Template.Labels)):
			if levels[0] == nil {
				levels[0] = pa
			}
		case pa.obj.Namespace == ns && len(pa.selector) == 0:
			if levels[1] == nil {
				levels[1] = pa
			}
		case pa.obj.Namespace == meshRootNamespace && len(pa.selector) == 0:
			if levels[2] == nil {
				levels[2] = pa
			}
		}
	}
	for _, pa := range levels {
		if pa == nil || pa.mode == "" {
			continue
		}
		if pa.mode == "STRICT" && !pa.ports {
			return pa
		}
		return nil
	}
	return nil
}

func describePA(pa *peerAuthentication) string {
	if pa == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s/%s %v %s", pa.obj.Namespace, pa.obj.Name, pa.selector, pa.mode)
}
