package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/export"
)

// driftLine finds the DOT line that draws id (an element, a boundary or a
// flow FROM->TO:PORT) and returns it, or "".
func driftLine(dot, id string) string {
	var pattern string
	switch from, rest, isFlow := strings.Cut(id, "->"); {
	case isFlow:
		i := strings.LastIndex(rest, ":")
		pattern = regexp.QuoteMeta(`"`+from+`" -> "`+rest[:i]+`" [label="`) + `[-+~ ]*[a-z0-9]*:` + rest[i+1:] + `\b`
	case strings.HasPrefix(id, "boundary:"):
		pattern = regexp.QuoteMeta(`subgraph "cluster_`+id+`" {`) + `\n\s*label="[^"]*"`
	default:
		pattern = `\n\s*` + regexp.QuoteMeta(`"`+id+`" [label="`)
	}
	return regexp.MustCompile(`(?m)` + pattern + `.*$`).FindString(dot)
}

// TestGraphDiff: graph --diff previous marks on the diagram exactly what
// stridemap diff lists for elements, flows and boundaries, each with its
// sign; --namespace applies to the merged diagram; the SVG has the legend.
func TestGraphDiff(t *testing.T) {
	c := newCLI(t)
	dir := copyDemo(t)
	c.mustRun("scan", "-f", dir)
	discovertest.ChangeDemo(t, dir)
	if err := os.Remove(filepath.Join(dir, "payments.yaml")); err != nil {
		t.Fatal(err)
	}
	c.mustRun("scan", "-f", dir)

	dot := c.mustRun("graph", "--format", "dot", "--diff", "previous").stdout
	d := diffJSON(t, c)
	element := func(e export.DiffElement) string { return e.ID }
	flow := func(f export.DiffFlow) string { return f.ID }
	changed := func(c export.DiffChanged) string { return c.ID }
	boundary := func(b export.DiffBoundary) string { return b.ID }
	want := map[string][]string{
		"+": slices.Concat(idsOf(d.Elements.Added, element), idsOf(d.Flows.Added, flow), idsOf(d.Boundaries.Added, boundary)),
		"-": slices.Concat(idsOf(d.Elements.Removed, element), idsOf(d.Flows.Removed, flow), idsOf(d.Boundaries.Removed, boundary)),
		"~": slices.Concat(idsOf(d.Elements.Changed, changed), idsOf(d.Flows.Changed, changed)),
	}
	// The release's own changes are among them, so the lists are not
	// empty by accident.
	for sign, id := range map[string]string{
		"+": "workload:shop/reviews", "-": "workload:payments/payments", "~": "workload:shop/cart",
	} {
		if !strings.Contains(strings.Join(want[sign], " "), id) {
			t.Fatalf("stridemap diff does not list %s %s: %v", sign, id, want)
		}
	}
	for sign, ids := range want {
		for _, id := range ids {
			line := driftLine(dot, id)
			if !strings.Contains(line, `label="`+sign+" ") {
				t.Errorf("%s should be marked %q: %q", id, sign, line)
			}
		}
		// Exactly those: no other label carries the sign.
		if n := strings.Count(dot, `label="`+sign+" "); n != len(ids) {
			t.Errorf("%d labels marked %q, stridemap diff lists %d: %v", n, sign, len(ids), ids)
		}
	}
	for _, w := range []string{
		`label="stridemap scan #2 — changes since scan #1"`,
		`changed since scan #1\ncontainer cart privileged: no → yes`,
		`style="rounded,filled,dashed"`,
		"Changes since scan #1",
	} {
		if !strings.Contains(dot, w) {
			t.Errorf("graph --diff DOT lacks %s", w)
		}
	}
	if plain := c.mustRun("graph", "--format", "dot").stdout; strings.Contains(plain, "since scan") || strings.Contains(plain, "payments/payments") {
		t.Error("graph without --diff marks changes or draws removed elements")
	}

	// Scope applies to the merged diagram: the removed namespace can be
	// drawn on its own.
	ns := c.mustRun("graph", "--format", "dot", "--diff", "1", "--namespace", "payments").stdout
	if !strings.Contains(ns, `"workload:payments/payments" [label="- payments`) || strings.Contains(ns, `"workload:shop/reviews" [`) {
		t.Errorf("--diff 1 --namespace payments should draw the removed namespace only:\n%s", ns)
	}

	useRenderer(t)
	out := filepath.Join(t.TempDir(), "changes.svg")
	c.mustRun("graph", "--format", "svg", "--diff", "previous", "-o", out)
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"<svg", "Changes since scan #1", "+ reviews", "&#45; payments", `stroke-dasharray`} {
		if !strings.Contains(string(svg), w) {
			t.Errorf("graph --diff SVG lacks %q", w)
		}
	}
}

// TestGraphDiffErrors: --diff names its scan as diff does and refuses what
// diff refuses, and what only a diagram can show, in one line and exit 2.
func TestGraphDiffErrors(t *testing.T) {
	c := newCLI(t)
	one, other := scanTwoTargets(t, c, "graph", "--format", "dot", "--diff", "previous")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"only one scan of the target", []string{"--diff", "previous"}, []string{"nothing to compare", other}},
		{"unknown scan", []string{"--diff", "9"}, []string{"no scan 9", "stridemap scans"}},
		{"unknown scan drawn", []string{"7", "--diff", "1"}, []string{"no scan 7"}},
		{"the scan drawn", []string{"--diff", "latest"}, []string{"scan 2 diffed with itself"}},
		{"the scan drawn, by number", []string{"1", "--diff", "1"}, []string{"scan 1 diffed with itself"}},
		{"different targets", []string{"--diff", "1"}, []string{"different targets", one, other, "--any-target"}},
		{"not a scan name", []string{"--diff", "last-week"}, []string{"scan last-week:", "latest, previous, or a date"}},
		{"a table", []string{"--diff", "1", "--format", "table"}, []string{"--diff", "--format svg", "stridemap diff"}},
		{"JSON", []string{"--diff", "1", "--format", "json"}, []string{"--diff", "--format svg", "stridemap diff"}},
		{"--any-target alone", []string{"--any-target"}, []string{"--any-target goes with --diff"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"graph"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--format") {
				args = append(args, "--format", "dot")
			}
			res := c.run("", args...)
			wantUsageError(t, res, tc.want...)
		})
	}
	// --any-target draws the other target's scan with everything changed.
	dot := c.mustRun("graph", "--format", "dot", "--diff", "1", "--any-target").stdout
	if !strings.Contains(dot, "changes since scan #1") {
		t.Errorf("--any-target: no drift drawn:\n%s", dot)
	}
	// Scope flags name elements of the merged diagram, and say so when none matches.
	if r := c.run("", "graph", "--format", "dot", "--diff", "1", "--any-target", "--focus", "nope"); r.code != exitUsage || !strings.Contains(r.stderr, `no element "nope"`) {
		t.Errorf("--focus on the merged graph: exit %d %q", r.code, r.stderr)
	}
}
