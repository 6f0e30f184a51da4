package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// TestNativeChecksChangeNoFinding: the built-in catalog finds exactly
// what it finds with CEL alone, evidence included, on every rule's
// fixtures (where each rule both fires and does not), the demo, and every
// app of the corpus.
func TestNativeChecksChangeNoFinding(t *testing.T) {
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	interpreted := catalog.Interpreted(c)
	inputs, err := filepath.Glob("../threats/testdata/rules/*/*.yaml")
	if err != nil || len(inputs) < 2*len(c.Rules) {
		t.Fatalf("%d rule fixtures for %d rules (%v)", len(inputs), len(c.Rules), err)
	}
	if findings := sameFindings(t, c, interpreted, append(inputs, "../testdata/demo")); findings == 0 {
		t.Fatal("no findings at all in the fixtures: nothing was compared")
	}
	t.Run("corpus", func(t *testing.T) {
		var apps []string
		for _, app := range discovertest.CorpusApps(t) {
			apps = append(apps, filepath.Join(discovertest.CorpusDir(t), app))
		}
		if findings := sameFindings(t, c, interpreted, apps); findings == 0 {
			t.Fatal("no findings at all in the corpus: nothing was compared")
		}
	})
}

// sameFindings checks that c and interpreted find the same on each input,
// and returns how many findings were compared.
func sameFindings(t *testing.T, c, interpreted *catalog.Catalog, inputs []string) int {
	t.Helper()
	var findings int
	for _, in := range inputs {
		g := graphOf(t, in)
		native, err := threats.Evaluate(g, c)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		alone, err := threats.Evaluate(g, interpreted)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !reflect.DeepEqual(native, alone) {
			t.Errorf("%s: the findings differ: %s", in, firstDifference(native, alone))
		}
		findings += len(native)
	}
	return findings
}

// graphOf builds the graph of a file or directory of manifests, with the
// flows of FILE.flows.json merged when a fixture has one.
func graphOf(t *testing.T, path string) *model.Graph {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{path}})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g := model.Build(inv, controls.Detectors()...)
	if b, err := os.ReadFile(strings.TrimSuffix(path, ".yaml") + ".flows.json"); err == nil {
		var flows []model.ObservedFlow
		if err := json.Unmarshal(b, &flows); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		model.MergeObserved(g, flows)
	}
	return g
}

// firstDifference says where two lists of findings first differ.
func firstDifference(native, alone []threats.Finding) string {
	for i := range min(len(native), len(alone)) {
		if !reflect.DeepEqual(native[i], alone[i]) {
			return fmt.Sprintf("native %+v\nCEL alone %+v", native[i], alone[i])
		}
	}
	return fmt.Sprintf("%d findings native, %d with CEL alone", len(native), len(alone))
}
