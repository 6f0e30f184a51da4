package controls_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/stridemap/stridemap/controls"
)

// TestUnstructuredKindsListed: every kind a detector looks up by a literal
// name is in UnstructuredKinds, so a live scan reads it.
func TestUnstructuredKindsListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lookup := regexp.MustCompile(`\.Unstructured\("([^"]*/[^"]+)"\)`)
	listed := controls.UnstructuredKinds()
	found := 0
	for _, f := range files {
		if filepath.Ext(f) != ".go" || regexp.MustCompile(`_test\.go$`).MatchString(f) {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lookup.FindAllStringSubmatch(string(src), -1) {
			found++
			if !slices.Contains(listed, m[1]) {
				t.Errorf("%s looks up %s, which UnstructuredKinds does not list: a live scan would not read it", f, m[1])
			}
		}
	}
	if found == 0 {
		t.Fatal("no literal lookups found: the pattern is out of date")
	}
	for _, k := range listed {
		if !regexp.MustCompile(`^[a-z0-9.-]*/([A-Z][A-Za-z0-9]*|\*)$`).MatchString(k) {
			t.Errorf("%q is not group/Kind", k)
		}
	}
}
