package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScansPrune: prune removes only the scans asked for, never the
// latest scan of a target (the demo's scan 3 is the latest of its target
// beside scan 4 of data.yaml alone), a pinned one or the one a triage
// decision was made on, and the scans left read as before.
func TestScansPrune(t *testing.T) {
	c := newCLI(t)
	for range 3 {
		c.mustRun("scan", "-f", demoDir)
	}
	c.mustRun("scan", "-f", filepath.Join(demoDir, "data.yaml"))
	c.mustRun("scans", "keep", "1")
	graph3 := c.mustRun("graph", "3", "--format", "json").stdout

	dry := c.mustRun("scans", "prune", "--keep", "1", "--dry-run").stdout
	for _, want := range []string{"Would prune scan 2", "Kept scan 3: latest of its target", "Kept scan 1: kept", "1 scan(s) would go"} {
		if !strings.Contains(dry, want) {
			t.Errorf("dry run should say %q:\n%s", want, dry)
		}
	}
	if n := strings.Count(c.mustRun("scans").stdout, "\n"); n != 5 {
		t.Fatalf("a dry run removed scans: %d lines", n)
	}
	out := c.mustRun("scans", "prune", "--older-than", "0d", "--dry-run").stdout
	if !strings.Contains(out, "Kept scan 4: latest") {
		t.Errorf("prune by age should keep the latest:\n%s", out)
	}

	out = c.mustRun("scans", "prune", "--keep", "2").stdout
	if !strings.Contains(out, "Pruned scan 2") || strings.Contains(out, "Pruned scan 3") || !strings.Contains(out, "reclaimed") {
		t.Errorf("prune --keep 2:\n%s", out)
	}
	list := c.mustRun("scans").stdout
	if !strings.Contains(list, "kept") || strings.Count(list, "\n") != 4 {
		t.Errorf("scans after the prune:\n%s", list)
	}
	if got := c.mustRun("graph", "3", "--format", "json").stdout; got != graph3 {
		t.Errorf("scan 3 reads differently after the prune")
	}
	if r := c.run("", "findings", "2"); r.code == 0 || !strings.Contains(r.stderr, "no scan 2") {
		t.Errorf("findings of the pruned scan: exit %d %q", r.code, r.stderr)
	}
	c.mustRun("scans", "unkeep", "1")
	if out := c.mustRun("scans", "prune", "--keep", "1").stdout; !strings.Contains(out, "Pruned scan 1") || strings.Contains(out, "Pruned scan 3") || !strings.Contains(out, "Kept scan 3: latest of its target") {
		t.Errorf("an unpinned scan should go, the demo's latest stay:\n%s", out)
	}
}

func TestScansPruneBadInput(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scans", "prune"}, "--keep N"},
		{[]string{"scans", "prune", "--keep", "2", "--older-than", "3d"}, "not both"},
		{[]string{"scans", "prune", "--keep", "0"}, "at least 1"},
		{[]string{"scans", "prune", "--older-than", "yesterday"}, "YYYY-MM-DD"},
		{[]string{"scans", "keep", "7"}, "no scan 7"},
		{[]string{"scans", "unkeep", "7"}, "no scan 7"},
		{[]string{"scans", "keep", "x"}, "by its number"},
	} {
		r := c.run("", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want one line with %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

func TestParseAge(t *testing.T) {
	now := time.Date(2025, 3, 10, 15, 0, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"30d":        now.AddDate(0, 0, -30),
		"12h":        now.Add(-12 * time.Hour),
		"1d12h":      now.AddDate(0, 0, -1).Add(-12 * time.Hour),
		"2025-01-31": time.Date(2025, 1, 31, 0, 0, 0, 0, time.Local),
	} {
		if got, err := parseAge(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-3d", "3 days", "2025-13-01"} {
		if _, err := parseAge(in, now); err == nil {
			t.Errorf("parseAge(%q) should fail", in)
		}
	}
}
