package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/pipeline"
	"github.com/stridemap/stridemap/threats"
)

// precisionCase is a fixture's expected.yaml: everything a scan of its
// in/ directory must give, exactly. Each list is compared as a set, and
// sorted when written.
type precisionCase struct {
	// About says which class of error the fixture pins, and what a
	// reviewer would expect instead.
	About string `yaml:"about"`
	// Namespace is the namespace of objects that name none (-n); "" is
	// "default".
	Namespace string `yaml:"namespace,omitempty"`
	// Scan is "files" to read in/ as -f does even when it holds a
	// kustomization.yaml (which -k renders otherwise).
	Scan string `yaml:"scan,omitempty"`
	// Edges: "ID PROTOCOL PROTOCOL-SOURCE ENCRYPTION", "-" for an empty
	// protocol source.
	Edges []string `yaml:"edges"`
	// Findings: "ID SEVERITY", then " at FILE:LINE" for the first
	// evidence that has a file, relative to the fixture.
	Findings []string `yaml:"findings"`
	// Data: "NODE CLASS", with " (guessed)" when only names suggest it:
	// the data each element touches, as severity reads it.
	Data []string `yaml:"data,omitempty"`
	// Dangling: "FROM => TARGET".
	Dangling []string `yaml:"dangling"`
	// Problems and Warnings are what the scan reported, with the fixture's
	// directory written as ".".
	Problems []string `yaml:"problems"`
	Warnings []string `yaml:"warnings"`
}

// TestPrecision scans each fixture of testdata/precision (its in/
// directory, or in/ as a kustomization when it holds one and the fixture
// does not ask for scan: files) and fails on any
// difference from its expected.yaml: every edge with its protocol, how
// the protocol was decided and its encryption, every finding with its
// severity and the line that proves it, every dangling reference, problem
// and warning. Each fixture is a small realistic app that pins one class
// of error a reviewer would object to. -update rewrites the lists.
func TestPrecision(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "testdata", "precision", "*", "expected.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures in testdata/precision (%v)", err)
	}
	for _, expected := range dirs {
		dir := filepath.Dir(expected)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var want precisionCase
			data, err := os.ReadFile(expected)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(data, &want); err != nil {
				t.Fatalf("%s: %v", expected, err)
			}
			if strings.TrimSpace(want.About) == "" {
				t.Errorf("%s says nothing about what it pins", expected)
			}
			if want.Scan != "" && want.Scan != "files" {
				t.Fatalf("%s: scan is %q; only \"files\" (or nothing) is known", expected, want.Scan)
			}
			got := scanPrecision(t, dir, want.Namespace, want.Scan == "files")
			got.About, got.Namespace, got.Scan = want.About, want.Namespace, want.Scan
			if *update {
				out, err := yaml.Marshal(got)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(expected, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, list := range []struct {
				name      string
				got, want []string
			}{
				{"edges", got.Edges, want.Edges},
				{"findings", got.Findings, want.Findings},
				{"data classes", got.Data, want.Data},
				{"dangling references", got.Dangling, want.Dangling},
				{"problems", got.Problems, want.Problems},
				{"warnings", got.Warnings, want.Warnings},
			} {
				missing, extra := setDifference(list.want, list.got), setDifference(list.got, list.want)
				if len(missing)+len(extra) > 0 {
					t.Errorf("%s of %s:\n  missing %s\n  not expected %s", list.name, dir, quoteLines(missing), quoteLines(extra))
				}
			}
		})
	}
}

// scanPrecision scans a fixture into a new store and renders what came
// back as expected.yaml lists it. A kustomization is rendered unless
// asFiles asks to read it as -f does.
func scanPrecision(t *testing.T, dir, namespace string, asFiles bool) precisionCase {
	t.Helper()
	in := filepath.Join(dir, "in")
	req := manifests.Request{Paths: []string{in}, DefaultNamespace: namespace}
	if _, err := os.Stat(filepath.Join(in, "kustomization.yaml")); err == nil && !asFiles {
		req = manifests.Request{Kustomize: []string{in}, DefaultNamespace: namespace}
	}
	rec := &recorder{}
	res, err := pipeline.Scan(context.Background(), pipeline.Env{Store: filepath.Join(t.TempDir(), "stridemap.db"), ToolVersion: "test", Report: rec},
		pipeline.Request{Manifests: req})
	if err != nil {
		t.Fatal(err)
	}
	relative := func(s string) string { return strings.ReplaceAll(s, dir, ".") }
	var got precisionCase
	for _, e := range res.Graph.Edges {
		source := e.ProtocolSource
		if source == "" {
			source = "-"
		}
		got.Edges = append(got.Edges, fmt.Sprintf("%s %s %s %s", e.ID, e.Protocol, source, e.Encryption))
	}
	for _, f := range res.Findings {
		line := fmt.Sprintf("%s %s", f.ID, f.Severity)
		for _, ev := range f.Evidence {
			if ev.File != "" {
				line += " at " + relative(ev.Location())
				break
			}
		}
		got.Findings = append(got.Findings, line)
	}
	for id, classes := range threats.DataClasses(res.Graph) {
		for _, c := range classes {
			got.Data = append(got.Data, id+" "+c)
		}
	}
	for _, d := range res.Graph.Dangling {
		got.Dangling = append(got.Dangling, d.From+" => "+d.Target)
	}
	for _, p := range rec.problems {
		got.Problems = append(got.Problems, relative(p.String()))
	}
	for _, w := range rec.warnings {
		got.Warnings = append(got.Warnings, relative(w))
	}
	slices.Sort(got.Data)
	for _, list := range []*[]string{&got.Edges, &got.Findings, &got.Dangling, &got.Problems, &got.Warnings} {
		slices.Sort(*list)
		if *list == nil {
			*list = []string{}
		}
	}
	return got
}

// setDifference lists what a holds and b does not.
func setDifference(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func quoteLines(list []string) string {
	if len(list) == 0 {
		return "nothing"
	}
	return "\n    " + strings.Join(list, "\n    ")
}
