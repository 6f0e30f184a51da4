package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/discovertest"
)

// TestBaselineGate: a pull request's scan against a committed JSON report
// fails only on the finding the change adds, and passes, listing it fixed,
// when a change removes one. No store carries over between the runs.
func TestBaselineGate(t *testing.T) {
	repo := t.TempDir()
	for _, name := range []string{"data.yaml", "frontend.yaml", "ingress.yaml", "logging.yaml", "namespaces.yaml", "payments.yaml", "policies.yaml", "services.yaml"} {
		data, err := os.ReadFile(filepath.Join(demoDir, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, name), string(data))
	}
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	main := newCLI(t)
	first := main.mustRun("scan", "-f", repo).stdout
	main.mustRun("report", "--format", "json", "-o", baseline)
	total := regexp.MustCompile(`Findings: (\d+)`).FindStringSubmatch(first)
	if total == nil {
		t.Fatalf("the scan printed no findings count:\n%s", first)
	}

	edit := func(file, old, new string) {
		t.Helper()
		path := filepath.Join(repo, file)
		data, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(data), old) {
			t.Fatalf("%s lacks %q: %v", file, old, err)
		}
		writeFile(t, path, strings.Replace(string(data), old, new, 1))
	}

	// A change that makes the web container privileged.
	edit("frontend.yaml", "securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true", "securityContext: {privileged: true, readOnlyRootFilesystem: true")
	pr := newCLI(t) // a fresh runner: no store
	r := pr.run("", "scan", "-f", repo, "--baseline", baseline, "--fail-on-new", "high")
	if want := "1 new open finding(s) at or above high (--fail-on-new): container-privileged@workload:shop/web since " + baseline; r.code != exitFindings || !strings.Contains(r.stderr, want) {
		t.Errorf("a new high finding: exit %d, want %d and %q\n%s", r.code, exitFindings, want, r.stderr)
	}
	if want := "1 new finding, 0 fixed, " + total[1] + " unchanged\n  new          high     E  container-privileged@workload:shop/web\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("summary lacks %q:\n%s", want, r.stdout)
	}
	// The same against a scan of the store, by its number.
	if r := main.run("", "scan", "-f", repo, "--baseline", "1", "--fail-on-new", "critical"); r.code != exitOK || !strings.Contains(r.stdout, "Since the baseline (scan #1): 1 new finding") {
		t.Errorf("against scan #1, failing on critical only: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	edit("frontend.yaml", "securityContext: {privileged: true, readOnlyRootFilesystem: true", "securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true")

	// A change that fixes the log shipper's privileged container.
	edit("logging.yaml", "privileged: true", "privileged: false")
	r = newCLI(t).run("", "scan", "-f", repo, "--baseline", baseline, "--fail-on-new", "high")
	if r.code != exitOK || !strings.Contains(r.stdout, "  fixed        high     E  container-privileged@workload:logging/log-shipper\n") {
		t.Errorf("a fix: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestBaselineErrors: what --baseline cannot use is one line saying what
// to do, and nothing is scanned.
func TestBaselineErrors(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "other.json")
	writeFile(t, other, `{"version": "2.1.0", "runs": []}`)
	newer := filepath.Join(dir, "newer.json")
	writeFile(t, newer, `{"schemaVersion": 9, "tool": {"name": "stridemap", "version": "v9.0.0"}, "findings": []}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "-f", demoDir, "--fail-on-new", "high"}, "add --baseline"},
		{[]string{"scan", "-f", demoDir, "--baseline", other, "--fail-on-new", "severe"}, "--fail-on-new"},
		{[]string{"scan", "-f", demoDir, "--baseline", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"scan", "-f", demoDir, "--baseline", other}, "is not a report of stridemap"},
		{[]string{"scan", "-f", demoDir, "--baseline", newer}, "schema version 9, written by stridemap v9.0.0"},
		{[]string{"scan", "-f", demoDir, "--baseline", "7"}, "no store"},
		{[]string{"report", "--baseline", "1", "--format", "md"}, "add --format sarif"},
	} {
		r := c.run("", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, want %d and one line with %q:\n%s", tc.args, r.code, exitUsage, tc.want, r.stderr)
		}
	}
	if _, err := os.Stat(c.db); !os.IsNotExist(err) {
		t.Errorf("a refused scan created the store: %v", err)
	}
	c.mustRun("scan", "-f", demoDir)
	if r := c.run("", "scan", "-f", demoDir, "--baseline", "7"); r.code != exitUsage || !strings.Contains(r.stderr, "--baseline 7") || !strings.Contains(r.stderr, "stridemap scans") {
		t.Errorf("unknown scan: exit %d\n%s", r.code, r.stderr)
	}
	if r := c.run("", "scan", "-f", demoDir, "--baseline", "1999-01-01"); r.code != exitUsage || !strings.Contains(r.stderr, "--baseline 1999-01-01") {
		t.Errorf("a day before every scan: exit %d\n%s", r.code, r.stderr)
	}
}

// TestBaselineByName: --baseline latest and --baseline DATE name stored
// scans as stridemap diff does; a gate on latest judges a change against
// the scan before it, and pins nothing (the latest moves on).
func TestBaselineByName(t *testing.T) {
	for _, ref := range []string{"latest", time.Now().Format(time.DateOnly)} {
		c := newCLI(t)
		dir := copyDemo(t)
		c.mustRun("scan", "-f", dir)
		discovertest.ChangeDemo(t, dir)
		r := c.run("", "scan", "-f", dir, "--baseline", ref, "--fail-on-new", "high")
		if r.code != exitFindings || !strings.Contains(r.stderr, "container-privileged@workload:shop/cart") {
			t.Errorf("--baseline %s: exit %d, want %d naming the new privileged container\n%s", ref, r.code, exitFindings, r.stderr)
		}
		if strings.Contains(r.stderr, "is kept as a baseline") {
			t.Errorf("--baseline %s pinned a scan:\n%s", ref, r.stderr)
		}
	}
}

// TestBaselineScanIsKept: a scan named by --baseline is pinned, said once,
// so prune keeps it until told; a baseline file pins nothing.
func TestBaselineScanIsKept(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	c.mustRun("scan", "-f", demoDir)
	said := "scan 1 is kept as a baseline; `stridemap scans unkeep 1` lets prune remove it\n"
	if r := c.mustRun("scan", "-f", demoDir, "--baseline", "1"); strings.Count(r.stderr, said) != 1 {
		t.Errorf("first use as a baseline should say %q once:\n%s", said, r.stderr)
	}
	if r := c.mustRun("scan", "-f", demoDir, "--baseline", "1"); strings.Contains(r.stderr, "kept as a baseline") {
		t.Errorf("a baseline already kept is said again:\n%s", r.stderr)
	}
	if out := c.mustRun("scans", "prune", "--keep", "1").stdout; !strings.Contains(out, "Kept scan 1: kept\n") || !strings.Contains(out, "Pruned scan 2") {
		t.Errorf("prune should keep the baseline and remove scan 2:\n%s", out)
	}
	report := filepath.Join(t.TempDir(), "baseline.json")
	c.mustRun("report", "--format", "json", "-o", report)
	if r := c.mustRun("scan", "-f", demoDir, "--baseline", report); strings.Contains(r.stderr, "kept as a baseline") {
		t.Errorf("a baseline file pins a scan:\n%s", r.stderr)
	}
	c.mustRun("scans", "unkeep", "1")
	if out := c.mustRun("scans", "prune", "--keep", "1").stdout; !strings.Contains(out, "Pruned scan 1") {
		t.Errorf("unkept, the baseline should go:\n%s", out)
	}
}
