package model

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
)

// TestSelectionCandidatesKeepEveryMatch checks the label index against the
// namespace's whole list: for random workloads and selectors, the
// candidates filtered by the selector are exactly the namespace's
// workloads filtered by it, in the same order. Labels a controller adds
// never narrow the candidates.
func TestSelectionCandidatesKeepEveryMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := newBuilder()
	keys := []string{"app", "tier", "version", labelPodTemplateHash}
	values := []string{"a", "b", "c", ""}
	randomLabels := func(max int) map[string]string {
		l := map[string]string{}
		for range rng.IntN(max + 1) {
			l[keys[rng.IntN(len(keys))]] = values[rng.IntN(len(values))]
		}
		return l
	}
	for i := range 300 {
		ns := []string{"shop", "data"}[rng.IntN(2)]
		obj := &discover.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: fmt.Sprintf("w%d", i)}
		b.addWorkload(PodTemplate{Object: obj, Labels: randomLabels(3)})
	}
	narrowed := 0
	for range 2000 {
		ns := []string{"shop", "data", "empty"}[rng.IntN(3)]
		selector := randomLabels(2)
		all := b.workloadsIn[ns]
		candidates := b.selectionCandidates(ns, selector)
		if len(candidates) < len(all) {
			narrowed++
		}
		match := func(ws []*IndexedWorkload) []string {
			var out []string
			for _, w := range ws {
				if labels.SelectorFromSet(selector).Matches(labels.Set(w.Template.Labels)) {
					out = append(out, w.Template.Object.Name)
				}
			}
			return out
		}
		if got, want := match(candidates), match(all); !slices.Equal(got, want) {
			t.Fatalf("selector %v in %s: candidates select %v, the namespace %v", selector, ns, got, want)
		}
		for _, w := range candidates {
			if w.Template.Object.Namespace != ns {
				t.Fatalf("selector %v in %s: candidate %s is in %s", selector, ns, w.Template.Object.Name, w.Template.Object.Namespace)
			}
		}
		if len(selector) == 1 && IsControllerLabel(firstKey(selector)) && len(candidates) != len(all) {
			t.Fatalf("selector %v names only a controller label, yet narrowed the candidates to %d of %d", selector, len(candidates), len(all))
		}
	}
	if narrowed == 0 {
		t.Fatal("no selector narrowed the candidates: the index is not used")
	}
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// TestServiceCandidatesKeepEveryMatch checks the Services' label index the
// same way: the candidates a ServiceMonitor's matchLabels pick, filtered by
// them, are the namespace's Services filtered by them, in name order.
func TestServiceCandidatesKeepEveryMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	b := newBuilder()
	keys, values := []string{"app", "team"}, []string{"a", "b", "c"}
	randomLabels := func(max int) map[string]string {
		l := map[string]string{}
		for range rng.IntN(max + 1) {
			l[keys[rng.IntN(len(keys))]] = values[rng.IntN(len(values))]
		}
		return l
	}
	for range 200 {
		ns := []string{"shop", "data"}[rng.IntN(2)]
		svc := &corev1.Service{}
		svc.Labels = randomLabels(2)
		obj := &discover.Object{APIVersion: "v1", Kind: "Service", Namespace: ns, Name: fmt.Sprintf("s%03d", rng.IntN(1000)), Typed: svc}
		b.services[nsName{ns, obj.Name}] = &IndexedService{Object: obj, Service: svc}
	}
	b.indexServices()
	ix := &Index{b}
	if !slices.IsSortedFunc(ix.Services(), func(x, y *IndexedService) int {
		return cmp.Or(cmp.Compare(x.Object.Namespace, y.Object.Namespace), cmp.Compare(x.Object.Name, y.Object.Name))
	}) {
		t.Fatal("Services are not in namespace and name order")
	}
	narrowed := 0
	for range 1000 {
		ns := []string{"shop", "data", "empty"}[rng.IntN(3)]
		selector := randomLabels(2)
		match := func(ss []*IndexedService) []string {
			var out []string
			for _, s := range ss {
				if s.Object.Namespace == ns && labels.SelectorFromSet(selector).Matches(labels.Set(s.Service.Labels)) {
					out = append(out, s.Object.Name)
				}
			}
			return out
		}
		candidates := ix.ServiceCandidates(ns, selector)
		if len(candidates) < len(b.servicesIn[ns]) {
			narrowed++
		}
		if got, want := match(candidates), match(ix.Services()); !slices.Equal(got, want) {
			t.Fatalf("selector %v in %s: candidates select %v, all Services %v", selector, ns, got, want)
		}
	}
	if narrowed == 0 {
		t.Fatal("no selector narrowed the candidates: the index is not used")
	}
}
