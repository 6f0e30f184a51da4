package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model"
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

// TestAnnotationAndLabelCanary: credentials planted in the annotations and
// labels of a Deployment, its pod template and a Service reach nothing a
// scan writes; their fingerprints take their place, while values that
// only mention a credential's name (a number, a reference, a Secret's
// name in a URL without a password) are kept.
func TestAnnotationAndLabelCanary(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.yaml"), `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, api-key: Label-Canary-5e1d}
  annotations:
    example.com/api-key: Annotation-Canary-3b7c9f2a
    example.com/dsn: postgres://app:Dsn-Canary-88aa@db:5432/app
    example.com/token-ttl: "3600"
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, auth-token: PodLabel-Canary-0c4e}
      annotations: {vault.example.com/secret-token: Template-Canary-d41d}
    spec:
      containers: [{name: web, image: nginx:1.27, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations: {example.com/password: Service-Canary-aa01}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`)
	planted := []string{"Label-Canary-5e1d", "Annotation-Canary-3b7c9f2a", "Dsn-Canary-88aa", "PodLabel-Canary-0c4e", "Template-Canary-d41d", "Service-Canary-aa01"}
	c := newCLI(t)
	written := strings.Join(everythingWritten(t, c, "scan", "-f", dir), "\n")
	for _, p := range planted {
		if strings.Contains(strings.ToLower(written), strings.ToLower(p)) {
			t.Errorf("the planted credential %s was written", p)
		}
	}
	graph := c.mustRun("graph", "--format", "json").stdout
	if n := strings.Count(graph, model.RedactedPrefix); n < 4 {
		t.Errorf("graph JSON holds %d fingerprints, want one per planted value on a node (at least 4)", n)
	}
	for _, kept := range []string{`"example.com/token-ttl": "3600"`, `"app": "web"`} {
		if !strings.Contains(graph, kept) {
			t.Errorf("graph JSON lost %s, which is no credential", kept)
		}
	}
}
