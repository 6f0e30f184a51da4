package threats_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// fixtureRoot holds one directory per rule: testdata/rules/RULE-ID/ with
// positive.yaml (manifests where the rule must fire) and negative.yaml
// (the same situation with the control in place: it must not fire), and
// optionally positive.flows.json and negative.flows.json with flows
// observed on the wire (see evaluateFile).
const fixtureRoot = "testdata/rules"

func loadCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func evaluateFile(t *testing.T, c *catalog.Catalog, file string) ([]threats.Finding, *model.Graph) {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range inv.Problems {
		t.Fatalf("fixture problem: %s", p)
	}
	g := model.Build(inv, controls.Detectors()...)
	// FILE.flows.json next to FILE.yaml, when present, holds flows seen on
	// the wire: a JSON list of model.ObservedFlow, merged in as observe does.
	flowFile := strings.TrimSuffix(file, ".yaml") + ".flows.json"
	if b, err := os.ReadFile(flowFile); err == nil {
		var flows []model.ObservedFlow
		if err := json.Unmarshal(b, &flows); err != nil {
			t.Fatalf("%s: %v", flowFile, err)
		}
		if len(model.MergeObserved(g, flows)) == 0 {
			t.Fatalf("%s: no flow merged", flowFile)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	findings, err := threats.Evaluate(g, c)
	if err != nil {
		t.Fatal(err)
	}
	return findings, g
}

// TestEveryRuleHasFixtures: each rule must fire on its positive fixture and
// stay silent on its negative one, so a rule that never fires, or always
// fires, fails here.
func TestEveryRuleHasFixtures(t *testing.T) {
	c := loadCatalog(t)
	for _, r := range c.Rules {
		t.Run(r.ID, func(t *testing.T) {
			dir := filepath.Join(fixtureRoot, r.ID)
			for _, tc := range []struct {
				file string
				want bool
			}{{"positive.yaml", true}, {"negative.yaml", false}} {
				path := filepath.Join(dir, tc.file)
				if _, err := os.Stat(path); err != nil {
					t.Fatalf("rule %s needs %s: %v", r.ID, path, err)
				}
				var fired []threats.Finding
				findings, g := evaluateFile(t, c, path)
				// A flow only seen on the wire has no manifest line to point at.
				observedOnly := map[string]bool{}
				for _, e := range g.Edges {
					observedOnly[e.ID] = e.Observed && !e.Declared
				}
				for _, f := range findings {
					if f.RuleID == r.ID {
						fired = append(fired, f)
					}
				}
				switch {
				case tc.want && len(fired) == 0:
					t.Errorf("%s: rule did not fire", path)
				case !tc.want && len(fired) > 0:
					t.Errorf("%s: rule fired on %s", path, fired[0].Element)
				}
				for _, f := range fired {
					switch {
					case len(f.Evidence) == 0:
						t.Errorf("%s: finding %s has no evidence", path, f.ID)
					case f.Evidence[0].File == "" && f.ElementType != catalog.TargetCluster && f.ElementType != catalog.TargetBoundary && !observedOnly[f.Element]:
						t.Errorf("%s: finding %s has no file evidence", path, f.ID)
					}
				}
			}
		})
	}
}

// TestNoOrphanFixtures keeps fixtures and rules in step when a rule is
// renamed or removed.
func TestNoOrphanFixtures(t *testing.T) {
	c := loadCatalog(t)
	entries, err := os.ReadDir(fixtureRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if c.Rule(e.Name()) == nil {
			t.Errorf("%s/%s has fixtures but no rule of that ID exists", fixtureRoot, e.Name())
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestObservedFlowRulesNeedObservations: the rules that compare declared
// with observed flows stay silent on a scan nothing was observed for, even
// on the manifests where they fire once flows are merged.
func TestObservedFlowRulesNeedObservations(t *testing.T) {
	c := loadCatalog(t)
	for _, id := range []string{"undeclared-observed-flow", "declared-flow-never-observed", "plaintext-on-wire-despite-declared-encryption"} {
		b, err := os.ReadFile(filepath.Join(fixtureRoot, id, "positive.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "positive.yaml") // without its flows
		writeFile(t, path, string(b))
		findings, _ := evaluateFile(t, c, path)
		for _, f := range findings {
			if f.RuleID == id {
				t.Errorf("%s fired on %s without observed flows", id, f.Element)
			}
		}
	}
}
