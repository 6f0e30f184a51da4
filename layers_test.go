package stridemap_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/stridemap/stridemap"

// layers are the pipeline's steps from the bottom up, each the folders
// that make it: a package may import its own layer and those below,
// never one above. docs/architecture.md explains them.
var layers = [][]string{
	{"internal"},           // helpers every layer may use
	{"discover"},           // collectors → Inventory
	{"model"},              // graph types, builder, store
	{"controls"},           // control detection
	{"catalog", "threats"}, // rules, evaluation, findings
	{"policy"},             // NetworkPolicies suggested from the graph: reads a graph as threats do, for views and cmd
	{"pipeline"},           // one scan, end to end
	{"tui", "export"},      // views
	{"cmd"},                // flags and wiring
}

// layerOf is the layer of a package of this module, -1 for one in no layer.
func layerOf(pkg string) int {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	for i, folders := range layers {
		for _, f := range folders {
			if rel == f || strings.HasPrefix(rel, f+"/") {
				return i
			}
		}
	}
	return -1
}

// TestLayers fails when a package imports one of a higher layer (model
// reaching into controls, threats into the pipeline), or when a package
// sits in no layer. Tests may import what they like: they are not
// checked.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	packages := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		if pkg == module {
			continue // this test's own directory
		}
		packages++
		layer := layerOf(pkg)
		if layer < 0 {
			t.Errorf("%s is in no layer: add its folder to layers here and to docs/architecture.md", pkg)
			continue
		}
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if l := layerOf(imp); l > layer {
				t.Errorf("%s (layer %v) imports %s (layer %v): a lower layer must not reach up", pkg, layers[layer], imp, layers[l])
			}
		}
	}
	if packages < 20 {
		t.Errorf("go list found %d packages: is the test run from the module root?", packages)
	}
}

func TestLayerOf(t *testing.T) {
	for pkg, want := range map[string]int{
		module + "/internal/fields":    0,
		module + "/discover/flows/bpf": 1,
		module + "/model/store":        2,
		module + "/modelling":          -1,
		module + "/policy":             5,
		module + "/pipeline":           6,
		module + "/cmd/stridemap":      8,
	} {
		if got := layerOf(pkg); got != want {
			t.Errorf("layerOf(%s) = %d, want %d", pkg, got, want)
		}
	}
}
