package threats_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// fixtureRoot holds one directory per rule: testdata/rules/RULE-ID/ with
// positive.yaml (manifests where the rule must fire) and negative.yaml
// (the same situation with the control in place: it must not fire).
const fixtureRoot = "testdata/rules"

func loadCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func evaluateFile(t *testing.T, c *catalog.Catalog, file string) []threats.Finding {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range inv.Problems {
		t.Fatalf("fixture problem: %s", p)
	}
	findings, err := threats.Evaluate(model.Build(inv), c)
	if err != nil {
		t.Fatal(err)
	}
	return findings
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
				for _, f := range evaluateFile(t, c, path) {
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
					case f.Evidence[0].File == "" && f.ElementType != catalog.TargetCluster && f.ElementType != catalog.TargetBoundary:
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
