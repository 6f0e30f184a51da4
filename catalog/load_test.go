package catalog_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/catalog"
)

const validRule = `
- id: demo-latest-tag
  title: Image uses the latest tag
  stride: T
  appliesTo: [process]
  condition: node.workload.containers.exists(c, c.image.tag == "latest")
  missingControl: pinned-images
  likelihood: medium
  impact: medium
  description: d
  mitigation: m
`

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuiltinCatalogLoads(t *testing.T) {
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) == 0 {
		t.Fatal("no built-in rules")
	}
	for _, r := range c.Rules {
		if !strings.HasPrefix(r.Source, "builtin:rules/") {
			t.Errorf("%s: source %q", r.ID, r.Source)
		}
		if len(r.References.CWE) == 0 {
			t.Errorf("%s: every rule names at least one CWE", r.ID)
		}
	}
}

func TestUserCatalogAddsOverridesDisables(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"add.yaml":      validRule,
		"override.yaml": "- id: container-privileged\n  impact: low\n",
		"disable.yml":   "- id: writable-root-filesystem\n  disabled: true\n",
		"notes.txt":     "ignored: not YAML by extension",
	})
	c, err := catalog.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rule("demo-latest-tag"); r == nil || r.Stride != catalog.Tampering {
		t.Errorf("added rule = %+v (stride letter T should parse as tampering)", r)
	}
	p := c.Rule("container-privileged")
	if p == nil || p.Impact != catalog.Low || p.Likelihood != catalog.Medium || p.Title != "Container runs privileged" {
		t.Errorf("override should change impact only: %+v", p)
	}
	if !strings.HasPrefix(p.Source, filepath.Join(dir, "override.yaml")+":1") {
		t.Errorf("overridden rule source = %q", p.Source)
	}
	if c.Rule("writable-root-filesystem") != nil {
		t.Error("disabled rule is still loaded")
	}
}

func TestLoadProblemsNameFileLineAndRule(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"cel typo", strings.Replace(validRule, "c.image.tag", "c.image.tagg", 1), []string{"bad.yaml:2: rule demo-latest-tag: condition does not compile", "undefined field 'tagg'"}},
		{"cel not bool", strings.Replace(validRule, `node.workload.containers.exists(c, c.image.tag == "latest")`, "node.name", 1), []string{"bad.yaml:2", "condition must be a bool"}},
		{"variable of another target", strings.Replace(validRule, `node.workload.containers.exists(c, c.image.tag == "latest")`, `edge.port == 80`, 1), []string{"bad.yaml:2", "undeclared reference to 'edge'"}},
		{"mixed targets", strings.Replace(validRule, "[process]", "[process, flow]", 1), []string{"bad.yaml:2", "mixes nodes, flows"}},
		{"missing fields", "- id: half-done\n  title: x\n", []string{"bad.yaml:1: rule half-done: stride", "condition is missing", "mitigation is missing"}},
		{"bad level", strings.Replace(validRule, "likelihood: medium", "likelihood: severe", 1), []string{"bad.yaml:2", `likelihood "severe"`}},
		{"bad id", strings.Replace(validRule, "demo-latest-tag", "Demo_Tag", 1), []string{"bad.yaml:2", "lower-case words"}},
		{"bad yaml", "- id: x\n  title: [unclosed\n", []string{"bad.yaml", "invalid YAML"}},
		{"not a list", "id: x\n", []string{"bad.yaml:1", "YAML list of rules"}},
		{"unknown stride", strings.Replace(validRule, "stride: T", "stride: X", 1), []string{"bad.yaml:2", `stride "X"`}},
		{"needs not group/Kind", strings.Replace(validRule, "likelihood: medium", "needs: [LimitRange]\n  likelihood: medium", 1), []string{"bad.yaml:2", `needs "LimitRange" is not group/Kind`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"bad.yaml": tc.content})
			_, err := catalog.Load(dir)
			var le *catalog.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("want a LoadError, got %v", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, filepath.Join(dir, "")+"/") && strings.HasPrefix(w, "bad.yaml") {
					t.Errorf("problem should name the file path: %s", msg)
				}
				if !strings.Contains(msg, w) {
					t.Errorf("problem lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestDuplicateBuiltinIDsAreReported(t *testing.T) {
	// A user file may repeat an ID (it overrides); so may a later user file.
	dir := writeDir(t, map[string]string{"a.yaml": validRule, "b.yaml": "- id: demo-latest-tag\n  impact: high\n"})
	c, err := catalog.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rule("demo-latest-tag").Impact != catalog.High {
		t.Error("a later user file should override an earlier one")
	}
}

func TestMissingCatalogDirectory(t *testing.T) {
	_, err := catalog.Load(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "cannot read catalog directory") {
		t.Errorf("err = %v", err)
	}
}

func TestParseStride(t *testing.T) {
	for in, want := range map[string]catalog.Stride{"S": catalog.Spoofing, "e": catalog.ElevationOfPrivilege, "information-disclosure": catalog.InformationDisclosure, "Repudiation": catalog.Repudiation} {
		if got, err := catalog.ParseStride(in); err != nil || got != want {
			t.Errorf("ParseStride(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := catalog.ParseStride("X"); err == nil {
		t.Error("X is not a STRIDE category")
	}
}
