package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

const demoDir = "../../testdata/demo"

// cli runs the real command tree in-process.
type cli struct {
	t  *testing.T
	db string
}

type result struct {
	code           int
	stdout, stderr string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, db: filepath.Join(t.TempDir(), "store", "stridemap.db")}
}

func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	return c.runContext(context.Background(), stdin, args...)
}

// runContext runs stridemap until it ends or ctx is done, as an
// interrupt (Ctrl-C) would stop it.
func (c *cli) runContext(ctx context.Context, stdin string, args ...string) result {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, append([]string{"--db", c.db}, args...), strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func (c *cli) mustRun(args ...string) result {
	c.t.Helper()
	r := c.run("", args...)
	if r.code != 0 {
		c.t.Fatalf("stridemap %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// TestScanStoreGraphRoundTrip: what "graph --format json" prints from the
// store is the graph the scan built in memory.
func TestScanStoreGraphRoundTrip(t *testing.T) {
	c := newCLI(t)
	out := c.mustRun("scan", "-f", demoDir)
	for _, want := range []string{"Scan #1 stored", "Nodes", "process 9, datastore 3, gateway 1, external 2", "Entry points", "Dangling references", "recommender:8080"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("scan summary lacks %q:\n%s", want, out.stdout)
		}
	}
	jsonPath := filepath.Join(t.TempDir(), "graph.json")
	c.mustRun("graph", "--format", "json", "-o", jsonPath)
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := export.ReadGraphJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Scan == nil || doc.Scan.ID != 1 || doc.SchemaVersion != model.SchemaVersion {
		t.Errorf("document header = %+v schema %d", doc.Scan, doc.SchemaVersion)
	}

	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{demoDir}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(model.Build(inv, controls.Detectors()...))
	got, _ := json.Marshal(doc.Graph)
	if !bytes.Equal(got, want) {
		t.Errorf("graph read back from the store differs from the graph built in memory\n got %.400s\nwant %.400s", got, want)
	}
}

// TestDemoMatchesItsREADME checks the demo's documented edge list, the
// contract a reader of testdata/demo/README.md relies on.
func TestDemoMatchesItsREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(demoDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(\S+) -> (\S+):(\d+) \((\w+)\)$`)
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		if line.MatchString(strings.TrimSpace(sc.Text())) {
			want = append(want, strings.TrimSpace(sc.Text()))
		}
	}
	if len(want) < 10 {
		t.Fatalf("found only %d edges in the demo README", len(want))
	}
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	doc, err := export.ReadGraphJSON(strings.NewReader(c.mustRun("graph").stdout))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range doc.Edges {
		got = append(got, e.From+" -> "+e.To+":"+itoa(int(e.Port))+" ("+e.Protocol+")")
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("demo edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestSecretsNeverStored scans the demo, whose manifests hold fake secrets
// in Secret objects, env literals and connection strings, and searches every
// byte of the store for them.
func TestSecretsNeverStored(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	outputs := c.mustRun("graph").stdout + c.mustRun("graph", "--format", "dot").stdout + c.mustRun("scans", "--format", "json").stdout
	var stored []byte
	entries, _ := os.ReadDir(filepath.Dir(c.db))
	for _, e := range entries { // the database, its WAL and shared memory
		b, err := os.ReadFile(filepath.Join(filepath.Dir(c.db), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	for _, secret := range []string{"demo-not-a-real-password", "demo-not-a-real-signing-key", "demo-not-a-real-certificate", "sk_demo_not_a_real_key"} {
		if bytes.Contains(stored, []byte(secret)) {
			t.Errorf("secret value %q found in the store", secret)
		}
		if strings.Contains(outputs, secret) {
			t.Errorf("secret value %q found in command output", secret)
		}
	}
	if !bytes.Contains(stored, []byte("PAYMENT_API_KEY")) {
		t.Error("the store should still name the variable that holds a literal secret")
	}
}

func TestPartialScan(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n")
	writeFile(t, filepath.Join(dir, "bad.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n")
	c := newCLI(t)
	r := c.run("", "scan", "-f", dir)
	if r.code != exitPartial {
		t.Fatalf("exit %d, want %d (partial)\n%s", r.code, exitPartial, r.stderr)
	}
	if !strings.Contains(r.stderr, filepath.Join(dir, "bad.yaml")+":") || !strings.Contains(r.stderr, "partial") {
		t.Errorf("stderr should name the bad file with its line and say the scan is partial:\n%s", r.stderr)
	}
	scans := c.mustRun("scans").stdout
	if !strings.Contains(scans, "partial (1 errors)") {
		t.Errorf("scans should show the partial scan:\n%s", scans)
	}
	s, err := store.Open(context.Background(), c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objects, err := s.Objects(context.Background(), 1)
	if err != nil || len(objects) != 1 || objects[0].Name != "ok" {
		t.Errorf("the good file's object should be stored: %+v %v", objects, err)
	}
}

// TestProblemsOfOddFileNamesStayOneLine: a file whose name holds a line
// break is named quoted in its problem, which stays one line.
func TestProblemsOfOddFileNamesStayOneLine(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n")
	odd := filepath.Join(dir, "bad\nerror: forged.yaml")
	writeFile(t, odd, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n")
	r := newCLI(t).run("", "scan", "-f", dir)
	if r.code != exitPartial {
		t.Fatalf("exit %d, want %d (partial)\n%s", r.code, exitPartial, r.stderr)
	}
	want := "error: " + strconv.Quote(odd) + ":4: "
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(line, "error: forged") {
			t.Errorf("a file name's line break started a line of its own:\n%s", r.stderr)
		}
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "notes.yaml"), "just some text\n")
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string
	}{
		{"no sources", []string{"scan"}, "", exitUsage, "nothing to scan"},
		{"nothing readable", []string{"scan", "-f", dir}, "", exitUsage, "nothing was stored"},
		{"missing path", []string{"scan", "-f", filepath.Join(dir, "nope")}, "", exitUsage, "nope"},
		{"unknown flag", []string{"scan", "--bogus"}, "", exitUsage, "unknown flag"},
		{"graph before any scan", []string{"graph"}, "", exitUsage, "stridemap scan"},
		{"bad format", []string{"graph", "--format", "png"}, "", exitUsage, "use table, json, dot or svg"},
		{"stdin", []string{"scan", "-f", "-"}, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", exitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newCLI(t).run(tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

func TestScansHistoryAndScanArgument(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	c.mustRun("scan", "-f", filepath.Join(demoDir, "data.yaml"))
	lines := strings.Split(strings.TrimSpace(c.mustRun("scans").stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "2 ") || !strings.HasPrefix(lines[2], "1 ") {
		t.Fatalf("scans should list two scans newest first:\n%s", strings.Join(lines, "\n"))
	}
	first, _ := export.ReadGraphJSON(strings.NewReader(c.mustRun("graph", "1").stdout))
	latest, _ := export.ReadGraphJSON(strings.NewReader(c.mustRun("graph").stdout))
	if first.Scan.ID != 1 || latest.Scan.ID != 2 || len(first.Nodes) <= len(latest.Nodes) {
		t.Errorf("graph 1 has %d nodes (scan %d), latest %d (scan %d)", len(first.Nodes), first.Scan.ID, len(latest.Nodes), latest.Scan.ID)
	}
	if r := c.run("", "graph", "99"); r.code != exitUsage || !strings.Contains(r.stderr, "not found") {
		t.Errorf("graph 99: exit %d %q", r.code, r.stderr)
	}
	if r := c.run("", "graph", "latest"); r.code != exitUsage || !strings.Contains(r.stderr, "stridemap scans") {
		t.Errorf("graph latest: exit %d %q", r.code, r.stderr)
	}
}

func TestDatabaseFromEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "env.db")
	t.Setenv("STRIDEMAP_DB", db)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"scan", "-f", filepath.Join(demoDir, "data.yaml")}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("STRIDEMAP_DB was not used: %v", err)
	}
}

// TestDemoDOTGolden pins the DOT text of the demo (go test -update rewrites it).
func TestDemoDOTGolden(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	got := c.mustRun("graph", "--format", "dot").stdout
	golden := filepath.Join("testdata", "demo.dot")
	if *update {
		writeFile(t, golden, got)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("DOT differs from %s; if the change is intended, run go test ./cmd/stridemap -update\n%s", golden, got)
	}
}

func TestGraphTable(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	out := c.mustRun("graph", "--format", "table").stdout
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]+" "+strings.Join(f[1:min(3, len(f))], " ")] = f
		}
	}
	for key, want := range map[string][]string{
		"workload:shop-data/orders-db datastore StatefulSet":    {"workload:shop-data/orders-db", "datastore", "StatefulSet", "-", "postgres"},
		"workload:shop/checkout → workload:shop-data/orders-db": {"workload:shop/checkout", "→", "workload:shop-data/orders-db", "5432", "postgres", "plaintext"},
		"external:internet → gateway:shop/storefront":           {"external:internet", "→", "gateway:shop/storefront", "443", "http", "tls"},
	} {
		got := rows[key]
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("row %q = %q, want it to start with %q", key, got, want)
		}
	}
	if !strings.Contains(out, "testdata/demo/services.yaml:") {
		t.Error("flows should say where they are declared")
	}
}

func TestFindingsAndFailOn(t *testing.T) {
	c := newCLI(t)
	r := c.run("", "scan", "-f", demoDir, "--fail-on", "critical")
	if r.code != exitFindings || !strings.Contains(r.stderr, "at or above critical") {
		t.Fatalf("--fail-on critical on the demo (a literal payment API key): exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Findings: ") || !strings.Contains(r.stdout, "literal-secret-in-env@workload:payments/payments") {
		t.Errorf("scan summary should list findings:\n%s", r.stdout)
	}
	all := c.mustRun("findings", "--format", "json").stdout
	var findings []map[string]any
	if err := json.Unmarshal([]byte(all), &findings); err != nil || len(findings) == 0 {
		t.Fatalf("findings json: %v\n%s", err, all)
	}
	if findings[0]["severity"] != "critical" {
		t.Errorf("most severe first, got %v", findings[0]["severity"])
	}
	onlyE := c.mustRun("findings", "--stride", "E").stdout
	if !strings.Contains(onlyE, "container-privileged") || strings.Contains(onlyE, "no-resource-limits") {
		t.Errorf("--stride E:\n%s", onlyE)
	}
	detail := c.mustRun("findings", "--rule", "literal-secret-in-env", "--detail").stdout
	for _, want := range []string{"PAYMENT_API_KEY", "testdata/demo/payments.yaml:", "mitigation:", "CWE-798"} {
		if !strings.Contains(detail, want) {
			t.Errorf("--detail lacks %q:\n%s", want, detail)
		}
	}
	if strings.Contains(detail, "sk_demo_not_a_real_key") {
		t.Error("the secret value reached the findings output")
	}
	if r := c.run("", "scan", "-f", demoDir, "--fail-on", "severe"); r.code != exitUsage {
		t.Errorf("bad --fail-on: exit %d", r.code)
	}
	if r := c.run("", "findings", "--stride", "X"); r.code != exitUsage {
		t.Errorf("bad --stride: exit %d", r.code)
	}
}

// TestTriageFollowsFindingsAcrossScans: a decision made on one scan
// applies to the same finding ID in the next, takes it out of the CI gate,
// and survives a round trip through the YAML file kept in git.
func TestTriageFollowsFindingsAcrossScans(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	id := "literal-secret-in-env@workload:payments/payments"
	if r := c.run("", "triage", id, "--status", "accepted"); r.code != exitUsage || !strings.Contains(r.stderr, "--reason is required") {
		t.Errorf("accepting without a reason: exit %d %q", r.code, r.stderr)
	}
	if r := c.run("", "triage", "no-such@thing", "--status", "accepted", "--reason", "x"); r.code != exitUsage || !strings.Contains(r.stderr, "no finding") {
		t.Errorf("unknown finding: exit %d %q", r.code, r.stderr)
	}
	openCritical := func() int {
		var list []map[string]any
		out := c.mustRun("findings", "--format", "json", "--severity", "critical", "--status", "open").stdout
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	before := openCritical()
	if before == 0 {
		t.Fatal("the demo should have an open critical finding (its literal payment API key)")
	}
	c.mustRun("triage", id, "--status", "accepted", "--reason", "demo key, rotated in SEC-1", "--by", "alice")

	r := c.run("", "scan", "-f", demoDir, "--fail-on", "critical")
	if openCritical() != before-1 || !strings.Contains(r.stdout, "1 triaged") {
		t.Errorf("the accepted finding should leave the open set: %d open before, %d after\n%s", before, openCritical(), r.stdout)
	}
	if before == 1 && r.code != 0 {
		t.Errorf("with its only critical finding accepted, the gate should pass: exit %d %s", r.code, r.stderr)
	}
	out := c.mustRun("findings", "--status", "accepted", "--detail").stdout
	if !strings.Contains(out, id) || !strings.Contains(out, "triage: accepted by alice") || !strings.Contains(out, "SEC-1") {
		t.Errorf("findings --status accepted:\n%s", out)
	}
	if open := c.mustRun("findings", "--status", "open").stdout; strings.Contains(open, id) {
		t.Error("the accepted finding is listed as open")
	}

	file := filepath.Join(t.TempDir(), "triage.yaml")
	c.mustRun("triage", "export", "-o", file)
	other := newCLI(t)
	other.mustRun("scan", "-f", demoDir)
	if out := other.mustRun("triage", "import", file).stdout; !strings.Contains(out, "1 decision(s) read") || !strings.Contains(out, "1 recorded") {
		t.Errorf("import: %s", out)
	}
	if out := other.mustRun("triage", "import", file).stdout; !strings.Contains(out, "0 recorded") {
		t.Errorf("importing twice should change nothing: %s", out)
	}
	if list := other.mustRun("triage", "list").stdout; !strings.Contains(list, "alice") || !strings.Contains(list, "accepted") {
		t.Errorf("imported decisions:\n%s", list)
	}
	writeFile(t, file, "version: 1\ndecisions:\n  - finding: x@y\n    status: maybe\n")
	if r := other.run("", "triage", "import", file); r.code != exitUsage || !strings.Contains(r.stderr, "unknown status") {
		t.Errorf("bad file: exit %d %q", r.code, r.stderr)
	}
}

func TestQuestions(t *testing.T) {
	c := newCLI(t)
	out := c.mustRun("questions").stdout
	if !strings.Contains(out, "backups-tested") || !strings.Contains(out, "0 of ") {
		t.Errorf("questions:\n%s", out)
	}
	c.mustRun("questions", "answer", "backups-tested", "--answer", "partly", "--note", "orders-db only", "--by", "bob")
	// Answers are project-wide: a new scan does not reset them.
	c.mustRun("scan", "-f", demoDir)
	out = c.mustRun("questions").stdout
	if !strings.Contains(out, "1 of ") || !regexp.MustCompile(`backups-tested\s+partly`).MatchString(out) {
		t.Errorf("answer not shown:\n%s", out)
	}
	if r := c.run("", "questions", "answer", "backups-tested", "--answer", "maybe"); r.code != exitUsage {
		t.Errorf("bad answer accepted: %d", r.code)
	}
	if r := c.run("", "questions", "answer", "nope", "--answer", "yes"); r.code != exitUsage || !strings.Contains(r.stderr, "no question") {
		t.Errorf("unknown question: %d %q", r.code, r.stderr)
	}
}

func TestCatalogCommands(t *testing.T) {
	c := newCLI(t)
	list := c.mustRun("catalog", "list").stdout
	if !strings.Contains(list, "container-privileged") || !strings.Contains(list, "STRIDE") {
		t.Errorf("catalog list:\n%s", list)
	}
	show := c.mustRun("catalog", "show", "container-privileged").stdout
	for _, want := range []string{"elevation-of-privilege", "Condition:", "Mitigation:", "CWE: CWE-250"} {
		if !strings.Contains(show, want) {
			t.Errorf("catalog show lacks %q:\n%s", want, show)
		}
	}
	good := t.TempDir()
	writeFile(t, filepath.Join(good, "r.yaml"), "- id: container-privileged\n  disabled: true\n")
	if out := c.mustRun("catalog", "lint", good).stdout; !strings.Contains(out, "ok:") {
		t.Errorf("lint of a good catalog: %s", out)
	}
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "r.yaml"), "- id: my-rule\n  title: t\n  stride: T\n  appliesTo: [process]\n  condition: node.wrkload.hostNetwork\n  missingControl: x\n  likelihood: low\n  impact: low\n  description: d\n  mitigation: m\n")
	r := c.run("", "catalog", "lint", bad)
	if r.code != exitUsage || !strings.Contains(r.stdout, filepath.Join(bad, "r.yaml")+":1: rule my-rule") || !strings.Contains(r.stdout, "wrkload") {
		t.Errorf("lint of a bad catalog: exit %d\n%s", r.code, r.stdout)
	}
	// A catalog that does not compile stops the scan, which reads while it
	// compiles, with the catalog's error alone; nothing is stored.
	r = c.run("", "scan", "-f", demoDir, "--catalog", bad)
	if r.code != exitUsage || !strings.Contains(r.stderr, filepath.Join(bad, "r.yaml")+":1: rule my-rule") || strings.Contains(r.stderr, "cancel") {
		t.Errorf("scan with a bad catalog: exit %d\n%s", r.code, r.stderr)
	}
	if r := c.run("", "scans"); !strings.Contains(r.stderr, "no store at") {
		t.Errorf("a scan with a bad catalog made a store (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A user catalog changes what scan finds.
	r = c.run("", "scan", "-f", demoDir, "--catalog", good)
	if r.code != 0 || strings.Contains(c.mustRun("findings").stdout, "container-privileged") {
		t.Errorf("a disabled rule should not fire (exit %d)", r.code)
	}
}

func TestHelpTeaches(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"scan", "scans", "graph", "findings", "catalog", "version", "completion", "Exit codes"}},
		{[]string{"catalog", "--help"}, []string{"disabled: true", "appliesTo", "condition:"}},
		{[]string{"findings", "--help"}, []string{"--stride", "--severity", "RULE@ELEMENT"}},
		{[]string{"scan", "--help"}, []string{"helm template", "-k", "Examples:", "never stored"}},
		{[]string{"graph", "--help"}, []string{"docs/graph-json.md", "dot -Tsvg", "--format table", "--diff previous", "--any-target"}},
		{[]string{"version"}, []string{"stridemap "}},
		{[]string{"completion", "bash"}, []string{"bash completion"}},
	} {
		out := c.mustRun(tc.args...).stdout
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("stridemap %s lacks %q", strings.Join(tc.args, " "), w)
			}
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
