package controls

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stridemap/stridemap/discover"
)

// TestPolicyCandidatesKeepEverySelectingPolicy checks the policy label
// index against the namespace's whole list: for random policies and pods,
// the candidates that select a pod are exactly the policies of its
// namespace, then the cluster-wide ones, that select it, in the order read.
func TestPolicyCandidatesKeepEverySelectingPolicy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"app", "tier", "role"}
	values := []string{"a", "b", "c"}
	pols := &policyIndex{byNamespace: map[string][]*netPolicy{}, byLabel: map[podLabel][]*netPolicy{}, anyLabels: map[string][]*netPolicy{}, nsLabels: map[string]map[string]string{}}
	for i := range 200 {
		if rng.IntN(10) == 0 { // a cluster-wide policy that selects by a function, as Cilium's do
			want := randomLabels(rng, keys, values, 1)
			pols.add(&netPolicy{selects: func(ep *policyEndpoint) bool { return subset(want, ep.labels) }})
			continue
		}
		if rng.IntN(4) == 0 { // a CiliumNetworkPolicy, whose keys may carry a source or name a derived label
			matchLabels := map[string]any{}
			for k, v := range randomLabels(rng, append(slices.Clone(keys), "k8s:app", "any:tier", ciliumNamespaceKey, ciliumServiceAccountKey), values, 2) {
				matchLabels[k] = v
			}
			obj := &discover.Object{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy", Namespace: []string{"shop", "data"}[rng.IntN(2)], Name: fmt.Sprintf("c%d", i),
				Fields: map[string]any{"spec": map[string]any{"endpointSelector": map[string]any{"matchLabels": matchLabels}, "ingress": []any{map[string]any{}}}}}
			for _, p := range ciliumPolicies(obj) {
				pols.add(p)
			}
			continue
		}
		if rng.IntN(4) == 0 { // a Calico NetworkPolicy, whose selector is an expression
			terms := []string{"app == 'a'", "tier == 'b'", "role != 'c'", "has(app)", "!has(tier)", calicoNamespaceKey + " == 'shop'", calicoSAKey + " == 'a'", "all()"}
			expr := terms[rng.IntN(len(terms))]
			for range rng.IntN(3) {
				expr += []string{" && ", " || "}[rng.IntN(2)] + terms[rng.IntN(len(terms))]
			}
			obj := &discover.Object{APIVersion: "projectcalico.org/v3", Kind: "NetworkPolicy", Namespace: []string{"shop", "data"}[rng.IntN(2)], Name: fmt.Sprintf("calico%d", i),
				Fields: map[string]any{"spec": map[string]any{"selector": expr, "ingress": []any{map[string]any{"action": "Allow"}}}}}
			if p := calicoPolicy(obj); p != nil {
				pols.add(p)
			}
			continue
		}
		sel := metav1.LabelSelector{MatchLabels: randomLabels(rng, keys, values, 2)}
		if rng.IntN(4) == 0 {
			sel.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: keys[rng.IntN(len(keys))], Operator: metav1.LabelSelectorOpExists}}
		}
		obj := &discover.Object{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: []string{"shop", "data"}[rng.IntN(2)], Name: fmt.Sprintf("p%d", i)}
		pols.add(k8sPolicy(obj, &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PodSelector: sel}}))
	}
	if len(pols.byLabel) == 0 {
		t.Fatal("no policy is indexed by a label")
	}
	for range 3000 {
		ns := []string{"shop", "data", "empty"}[rng.IntN(3)]
		ep := &policyEndpoint{ns: ns, labels: randomLabels(rng, keys, values, 3), nsLabels: map[string]string{namespaceNameLabel: ns}, sa: values[rng.IntN(len(values))]}
		selecting := func(ps []*netPolicy) []int {
			var out []int
			for _, p := range ps {
				if p.selects(ep) {
					out = append(out, p.seq)
				}
			}
			return out
		}
		want := selecting(append(slices.Clone(pols.byNamespace[ep.ns]), pols.clusterWide...))
		if got := selecting(pols.candidates(ep)); !slices.Equal(got, want) {
			t.Fatalf("pod %v in %s: candidates select policies %v, the namespace's list %v", ep.labels, ep.ns, got, want)
		}
	}
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
