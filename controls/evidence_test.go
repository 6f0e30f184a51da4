package controls_test

import (
	"context"
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
)

// TestEvidenceKindsListed builds every corpus app once whole and once
// without each kind it holds: a control that comes or goes on an element
// of both graphs depends on that kind, so EvidenceKinds must list it, or a
// live scan that could not read the kind would claim the control missing.
// RBAC permissions on workloads are not controls: a rule about one is
// about what was read, which reading more could only add to.
func TestEvidenceKindsListed(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	apps, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, app := range apps {
		if !app.IsDir() {
			continue
		}
		t.Run(app.Name(), func(t *testing.T) {
			inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{filepath.Join(corpus, app.Name())}})
			if err != nil {
				t.Fatal(err)
			}
			whole := model.Build(inv, controls.Detectors()...)
			want := verdicts(whole)
			kinds := map[string]bool{}
			for _, o := range inv.Objects {
				kinds[o.Group()+"/"+o.Kind] = true
			}
			for _, kind := range slices.Sorted(func(yield func(string) bool) {
				for k := range kinds {
					if !yield(k) {
						return
					}
				}
			}) {
				var rest []*discover.Object
				for _, o := range inv.Objects {
					if o.Group()+"/"+o.Kind != kind {
						rest = append(rest, o)
					}
				}
				part := model.Build(&discover.Inventory{Objects: rest}, controls.Detectors()...)
				got := verdicts(part)
				reported := map[string]bool{}
				for key := range union(want, got) {
					control, target, _ := strings.Cut(key, "@")
					if want[key] == got[key] || !hasElement(whole, target) || !hasElement(part, target) {
						continue
					}
					checked++
					if !listed(controls.EvidenceKinds(control), kind) && !reported[control] {
						reported[control] = true
						t.Errorf("without its %s objects, %s changes on %s (%q → %q): add %s to EvidenceKinds(%q)", kind, control, target, want[key], got[key], kind, control)
					}
				}
			}
		})
	}
	if checked == 0 {
		t.Fatal("no control depended on any kind: the test checks nothing")
	}
}

// verdicts are the controls of a graph by "control@target".
func verdicts(g *model.Graph) map[string]string {
	out := map[string]string{}
	for _, c := range g.Controls {
		out[c.Type+"@"+c.Target] = "present"
	}
	return out
}

func union(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func hasElement(g *model.Graph, id string) bool {
	return g.Node(id) != nil || slices.ContainsFunc(g.Edges, func(e model.Edge) bool { return e.ID == id }) ||
		slices.ContainsFunc(g.Boundaries, func(b model.Boundary) bool { return b.ID == id })
}

// listed reports whether kinds holds kind, or its group's "group/*".
func listed(kinds []string, kind string) bool {
	group, _, _ := strings.Cut(kind, "/")
	return slices.Contains(kinds, kind) || slices.Contains(kinds, group+"/*")
}

// TestEvidenceKindsRead: every kind EvidenceKinds names is one a live scan
// reads, so a gap in it can be reported at all.
func TestEvidenceKindsRead(t *testing.T) {
	read := slices.Concat(manifests.TypedKinds(), model.UnstructuredKinds(), controls.UnstructuredKinds())
	for _, control := range controls.EvidenceControls() {
		for _, kind := range controls.EvidenceKinds(control) {
			if !slices.Contains(read, kind) {
				t.Errorf("EvidenceKinds(%q) lists %s, which no scan reads", control, kind)
			}
		}
	}
}
