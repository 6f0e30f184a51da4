package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
)

// flowsDir holds the shop that the scan --flows tests scan, its inventory
// (kubectl get pods,services -o json) and flow logs of both kinds.
const flowsDir = "testdata/flows"

// findingIDs lists the IDs of the latest scan's findings.
func findingIDs(t *testing.T, c *cli) []string {
	t.Helper()
	var findings []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("findings", "--format", "json").stdout), &findings); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func wantFindings(t *testing.T, c *cli, want ...string) {
	t.Helper()
	ids := findingIDs(t, c)
	for _, id := range want {
		if !slices.Contains(ids, id) {
			t.Errorf("no finding %s", id)
		}
	}
}

// wantObservedEdges checks the latest scan's observed edges and returns
// its graph.
func wantObservedEdges(t *testing.T, c *cli, want ...string) *export.GraphDocument {
	t.Helper()
	got, doc := observedEdges(t, c)
	if !slices.Equal(got, want) {
		t.Errorf("observed edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	return doc
}

// TestScanMergesFlowLogs: one scan builds the graph from the manifests and
// merges the observer's flow log into it before the catalog is evaluated.
func TestScanMergesFlowLogs(t *testing.T) {
	c := newCLI(t)
	r := c.mustRun("scan", "-f", filepath.Join(flowsDir, "shop.yaml"),
		"--flows", filepath.Join(flowsDir, "node-a.jsonl"), "--inventory", filepath.Join(flowsDir, "pods.json"))
	for _, want := range []string{
		"Scan #1 stored",
		"Edges                6  declared 4, observed 5",
		"Flows: 6 read from 1 flow log; 5 resolved (1 with a peer that is no known pod), 0 between no known pods left out, 0 inside one pod; 5 edges observed, 2 of them declared by no manifest",
		"plaintext-on-wire-despite-declared-encryption@workload:shop/frontend->workload:shop/payments:8443",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("scan output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "observed 6 flows on node-a in 1m0s from 30 events; nothing lost") {
		t.Errorf("stderr: %s", r.stderr)
	}
	doc := wantObservedEdges(t, c,
		"workload:shop/cart->workload:shop/redis:6379 (declared)",
		"workload:shop/frontend->external:203.0.113.9:443 (observed only)",
		"workload:shop/frontend->workload:shop/cart:80 (declared)",
		"workload:shop/frontend->workload:shop/payments:8443 (declared)",
		"workload:shop/loadgen->workload:shop/frontend:8080 (observed only)")
	e := edge(doc, "workload:shop/frontend->workload:shop/cart:80")
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if o := e.Observation; o == nil || o.Connections != 2 || o.BytesSent != 200 || !o.FirstSeen.Equal(t0) || o.Protocol != "http2" || o.Encryption != model.EncryptionPlaintext {
		t.Errorf("frontend->cart observation %+v", e.Observation)
	}
	if e := edge(doc, "workload:shop/frontend->workload:shop/audit:9000"); e == nil || !e.Declared || e.Observed {
		t.Errorf("declared, unseen edge: %+v", e)
	}
	wantFindings(t, c,
		"undeclared-observed-flow@workload:shop/loadgen->workload:shop/frontend:8080",
		"declared-flow-never-observed@workload:shop/frontend->workload:shop/audit:9000",
		"plaintext-on-wire-despite-declared-encryption@workload:shop/frontend->workload:shop/payments:8443")
	scans := c.mustRun("scans").stdout
	if !strings.Contains(scans, "node-a.jsonl") || !strings.Contains(scans, "pods.json") || storedScans(t, c) != 1 {
		t.Errorf("one scan, naming the flow log and the inventory as sources:\n%s", scans)
	}
}

// TestScanMergesHubbleFlows: Hubble names the pods at both ends, and
// without an inventory they are matched to the scanned workloads by the
// names their controllers give them.
func TestScanMergesHubbleFlows(t *testing.T) {
	for _, withInventory := range []bool{false, true} {
		c := newCLI(t)
		args := []string{"scan", "-f", filepath.Join(flowsDir, "shop.yaml"), "--flows", filepath.Join(flowsDir, "hubble.jsonl")}
		if withInventory {
			args = append(args, "--inventory", filepath.Join(flowsDir, "pods.json"))
		}
		r := c.mustRun(args...)
		if !strings.Contains(r.stdout, "Flows: 4 read from 1 flow log; 3 resolved (0 with a peer that is no known pod)") ||
			!strings.Contains(r.stderr, "observed 4 flows on hubble") {
			t.Errorf("inventory %v: output:\n%s\n%s", withInventory, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "hint:") {
			t.Errorf("every Hubble pod was named, yet: %s", r.stderr)
		}
		doc := wantObservedEdges(t, c,
			"workload:shop/cart->workload:shop/redis:6379 (declared)",
			"workload:shop/frontend->workload:shop/audit:9000 (declared)",
			"workload:shop/loadgen->workload:shop/frontend:8080 (observed only)")
		if e := edge(doc, "workload:shop/loadgen->workload:shop/frontend:8080"); e == nil || e.Observation.Connections != 2 {
			t.Errorf("loadgen->frontend: %+v", e)
		}
		wantFindings(t, c,
			"undeclared-observed-flow@workload:shop/loadgen->workload:shop/frontend:8080",
			"declared-flow-never-observed@workload:shop/frontend->workload:shop/payments:8443")
	}
}

// TestScanFlowLogProblems: a bad line, or a log that cannot be read, is
// listed with its file:line and what to do; the rest is merged, the scan
// stored, and the exit code says it is partial.
func TestScanFlowLogProblems(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join(flowsDir, "node-a.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	bad := strings.Join(slices.Concat(lines[:2], []string{"garbage\n"}, lines[2:4], []string{`{"flow":{"role":"sideways"}}` + "\n"}, lines[4:]), "")
	writeFile(t, filepath.Join(dir, "bad.jsonl"), bad)

	c := newCLI(t)
	r := c.run("", "scan", "-f", filepath.Join(flowsDir, "shop.yaml"), "--inventory", filepath.Join(flowsDir, "pods.json"),
		"--flows", filepath.Join(dir, "bad.jsonl"), "--flows", filepath.Join(dir, "missing.jsonl"))
	if r.code != exitPartial {
		t.Errorf("exit %d, want %d (partial)\n%s", r.code, exitPartial, r.stderr)
	}
	for _, want := range []string{
		"error: " + filepath.Join(dir, "bad.jsonl") + ":3: not JSON: invalid character 'g' looking for beginning of value; the line was left out (fix or delete it)",
		"error: " + filepath.Join(dir, "bad.jsonl") + `:6: unknown flow role "sideways": want client or server; the line was left out`,
		"error: " + filepath.Join(dir, "missing.jsonl") + ": cannot be read: no such file or directory; it was left out",
		"scan #1 is partial: 3 input problem(s) listed above",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if got, _ := observedEdges(t, c); len(got) != 5 {
		t.Errorf("the good lines should still be merged: %v", got)
	}

	// A directory of logs (the DaemonSet's exports) is read whole, a file
	// named twice counts once, and a log with nothing but bad lines is
	// left out.
	logs := filepath.Join(dir, "exports")
	writeFile(t, filepath.Join(logs, "node-a", "flows-node-a-20250301T120000Z.jsonl"), string(good))
	writeFile(t, filepath.Join(logs, "node-a", ".partial.jsonl"), "{\"flow\":")
	writeFile(t, filepath.Join(logs, "node-a", "flows-node-a-20250301T120500Z.jsonl"), // an interval without flows
		`{"summary":{"node":"node-a","started":"2025-03-01T12:01:00Z","duration":240000000000,"events":3,"dropped":2,"flows":0}}`+"\n")
	writeFile(t, filepath.Join(logs, "notes.txt"), "not a log")
	writeFile(t, filepath.Join(dir, "binary.jsonl"), strings.Repeat("\x00\x01\n", 20))
	r = c.run("", "scan", "-f", filepath.Join(flowsDir, "shop.yaml"), "--inventory", filepath.Join(flowsDir, "pods.json"),
		"--flows", logs, "--flows", filepath.Join(logs, "node-a", "flows-node-a-20250301T120000Z.jsonl"), "--flows", filepath.Join(dir, "binary.jsonl"))
	if r.code != exitPartial || !strings.Contains(r.stderr, "binary.jsonl:1: more than 10 lines are not flow log lines, the first: not JSON: invalid character '\\x00' looking for beginning of value; the file was left out") ||
		strings.Count(r.stderr, "binary.jsonl") != 1 {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Flows: 6 read from 2 flow logs;") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "observed 6 flows on node-a in 5m0s from 33 events; INCOMPLETE: 2 events dropped") || strings.Count(r.stderr, "observed ") != 1 {
		t.Errorf("one line for the node, adding up its exports:\n%s", r.stderr)
	}

	if r := c.run("", "scan", "-f", filepath.Join(flowsDir, "shop.yaml"), "--inventory", filepath.Join(flowsDir, "pods.json")); r.code != exitUsage || !strings.Contains(r.stderr, "add the flow logs with --flows") {
		t.Errorf("--inventory alone: exit %d\n%s", r.code, r.stderr)
	}
}
