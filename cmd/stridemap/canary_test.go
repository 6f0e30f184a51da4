package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// everythingWritten runs a scan, then every command that shows it (the
// reports in each format, the graph, the findings in detail), and returns
// all they wrote: output, log, reports, the store with its WAL.
func everythingWritten(t *testing.T, c *cli, scan ...string) []string {
	t.Helper()
	useRenderer(t) // the HTML report draws its diagram
	dir := t.TempDir()
	outputs := []result{c.mustRun(scan...)}
	for _, format := range []string{"md", "html", "json", "sarif"} {
		c.mustRun("report", "--format", format, "-o", filepath.Join(dir, "report."+format))
	}
	outputs = append(outputs, c.mustRun("graph", "--format", "json"), c.mustRun("findings", "--detail"))
	var written []string
	for _, r := range outputs {
		written = append(written, r.stdout, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "report.*"))
	stored, _ := filepath.Glob(c.db + "*") // the store, its WAL and shared memory
	if len(files) != 4 || len(stored) == 0 {
		t.Fatalf("reports %v, store files %v", files, stored)
	}
	for _, f := range slices.Concat(files, stored) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, string(data))
	}
	return written
}

// TestConnectionStringPasswordCanary: the passwords written into the
// key=value connection strings of the precision fixture (an env value and
// a ConfigMap key) are read, since host and port come from the same
// string, and flagged, but reach nothing a scan writes.
func TestConnectionStringPasswordCanary(t *testing.T) {
	fixture := filepath.Join("..", "..", "testdata", "precision", "04-connection-string", "in")
	data, err := os.ReadFile(filepath.Join(fixture, "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	planted := []string{"Accounting-Canary-91c2", "Orders-Canary-7f3a"}
	for _, p := range planted {
		if !strings.Contains(string(data), p) {
			t.Fatalf("the fixture no longer plants %s: the test checks nothing", p)
		}
	}
	written := strings.Join(everythingWritten(t, newCLI(t), "-v", "scan", "-f", fixture), "\n")
	for _, want := range []string{"workload:astronomy/orders->workload:astronomy/mssql:1433", "literal-secret-in-env@workload:astronomy/accounting", "credentials-in-configmap@workload:astronomy/orders"} {
		if !strings.Contains(written, want) {
			t.Errorf("the scan did not find %s: the connection strings were not read", want)
		}
	}
	for _, p := range planted {
		if strings.Contains(written, p) || strings.Contains(strings.ToLower(written), strings.ToLower(p)) {
			t.Errorf("a password from a connection string, %s, was written", p)
		}
	}
}
