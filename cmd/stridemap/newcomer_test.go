package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
)

// The rough edges a newcomer tripped over (issue 11): each test here fails
// if one comes back.

// runApp runs stridemap on an app that set changed first: its terminal
// detection, say.
func (c *cli) runApp(set func(*app), args ...string) result {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(strings.NewReader(""), &stdout, &stderr)
	set(a)
	code := a.execute(context.Background(), append([]string{"--db", c.db}, args...))
	return result{code, stdout.String(), stderr.String()}
}

// runTerminal runs stridemap as if stdin, stdout and stderr were a
// terminal (term) or not.
func (c *cli) runTerminal(term bool, args ...string) result {
	c.t.Helper()
	return c.runApp(func(a *app) { a.isTerminal = func(any) bool { return term } }, args...)
}

// oneLine fails the test unless s is one line of text.
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	if s = strings.TrimSuffix(s, "\n"); s == "" || strings.Contains(s, "\n") {
		t.Errorf("%s should be one line:\n%s", what, s)
	}
}

// TestReadingCommandsCreateNoStore: where there is no store, the commands
// that need one say so in one line, naming the path they looked for and
// what to run, and leave no file or directory behind.
func TestReadingCommandsCreateNoStore(t *testing.T) {
	dir := t.TempDir()
	flowLog := filepath.Join(dir, "flows.jsonl")
	writeFile(t, flowLog, "")
	for _, args := range [][]string{
		{}, // on a terminal: the TUI
		{"findings"}, {"findings", "--format", "json"}, {"scans"}, {"graph"}, {"graph", "--format", "table"},
		{"report", "-o", filepath.Join(dir, "report.html")}, {"report", "--format", "md"}, {"tui"}, {"triage", "list"}, {"triage", "export"},
		{"triage", "r@x", "--status", "open"}, {"observe", "--flows", flowLog},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c := newCLI(t)
			r := c.runTerminal(true, args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "no store at "+c.db) || !strings.Contains(r.stderr, "run stridemap scan") {
				t.Errorf("exit %d, stderr %q; want exit %d naming %s and what to run", r.code, r.stderr, exitUsage, c.db)
			}
			oneLine(t, "the message", r.stderr)
			if _, err := os.Stat(filepath.Dir(c.db)); !os.IsNotExist(err) {
				t.Errorf("the store's directory %s was created (%v)", filepath.Dir(c.db), err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); !os.IsNotExist(err) {
		t.Errorf("report -o wrote a file without a store (%v)", err)
	}
	// The questions come with the catalog: they are listed without a
	// store, and none is made for them.
	c := newCLI(t)
	if r := c.run("", "questions"); r.code != exitOK || !strings.Contains(r.stdout, "0 of ") {
		t.Errorf("questions without a store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Dir(c.db)); !os.IsNotExist(err) {
		t.Errorf("questions created the store's directory (%v)", err)
	}
}

// TestNoScansSaysWhatToRunOnce: a store without scans gives the advice
// once, not twice.
func TestNoScansSaysWhatToRunOnce(t *testing.T) {
	c := newCLI(t)
	c.mustRun("questions", "answer", "backups-tested", "--answer", "yes") // makes a store, without scans
	for _, args := range [][]string{{"findings"}, {"graph"}, {"observe", "--flows", c.db}} {
		r := c.run("", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "no scans in the store") || strings.Count(r.stderr, "stridemap scan") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want the advice once", args[0], r.code, r.stderr)
		}
		oneLine(t, args[0]+"'s message", r.stderr)
	}
}

// TestEnumFlagsTakeAnyCase: --severity High, --format JSON and the like
// are what their lower-case forms are.
func TestEnumFlagsTakeAnyCase(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	for _, same := range [][2][]string{
		{{"findings", "--severity", "high"}, {"findings", "--severity", "High"}},
		{{"findings", "--stride", "SE"}, {"findings", "--stride", "se"}},
	} {
		if want, got := c.mustRun(same[0]...).stdout, c.mustRun(same[1]...).stdout; got != want {
			t.Errorf("%s differs from %s:\n%s\n---\n%s", strings.Join(same[1], " "), strings.Join(same[0], " "), got, want)
		}
	}
	for _, args := range [][]string{
		{"findings", "--format", "JSON", "--status", "Open"},
		{"scans", "--format", "Json"},
		{"graph", "--format", "TABLE"},
		{"report", "--format", "MD"},
		{"catalog", "list", "--format", "JSON"},
		{"questions", "--format", "JSON"},
		{"questions", "answer", "backups-tested", "--answer", "N/A"},
		{"triage", "literal-secret-in-env@workload:payments/payments", "--status", "Accepted", "--reason", "demo"},
	} {
		if r := c.run("", args...); r.code != exitOK {
			t.Errorf("%s: exit %d %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := c.run("", "scan", "-f", demoDir, "--fail-on", "CRITICAL"); r.code != exitFindings && r.code != exitOK {
		t.Errorf("--fail-on CRITICAL: exit %d %s", r.code, r.stderr)
	}
	if r := c.run("", "report", "--format", "md", "--fail-on", "Low"); r.code != exitFindings {
		t.Errorf("report --fail-on Low: exit %d %s", r.code, r.stderr)
	}
	if r := c.run("", "graph", "--format", "PNG"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown --format "PNG": use table, json, dot or svg`) {
		t.Errorf("an unknown format is still refused, as typed: exit %d %q", r.code, r.stderr)
	}
}

// TestUnknownCommandSuggests: a mistyped command gets, in one line, what
// was probably meant and where the commands are listed.
func TestUnknownCommandSuggests(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"findngs"}, []string{`unknown command "findngs"`, "did you mean findings?", "stridemap --help"}},
		{[]string{"sacn"}, []string{"did you mean scan", "stridemap --help"}},
		{[]string{"bogus"}, []string{`unknown command "bogus"`, "stridemap --help"}},
		{[]string{"catalog", "lst"}, []string{"did you mean list", "stridemap catalog --help"}},
		{[]string{"questions", "answr"}, []string{"did you mean answer?", "stridemap questions --help"}},
		{[]string{"scan", "--bogus"}, []string{"unknown flag: --bogus", "stridemap scan --help"}},
	} {
		r := c.run("", tc.args...)
		if r.code != exitUsage {
			t.Errorf("%s: exit %d, want %d", strings.Join(tc.args, " "), r.code, exitUsage)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q: %q", strings.Join(tc.args, " "), w, r.stderr)
			}
		}
		oneLine(t, strings.Join(tc.args, " "), r.stderr)
	}
	if r := c.run("", "catalog"); r.code != exitOK || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("catalog alone prints its help: exit %d\n%s", r.code, r.stdout)
	}
}

// TestEmptyStdinSaysSo: scanning an empty stdin says it was empty and what
// to pipe; stdin that holds no object is not called empty.
func TestEmptyStdinSaysSo(t *testing.T) {
	c := newCLI(t)
	r := c.run("", "scan", "-f", "-")
	if r.code != exitUsage || !strings.Contains(r.stderr, "stdin (-f -) was empty") || !strings.Contains(r.stderr, "| stridemap scan -f -") {
		t.Errorf("empty stdin: exit %d %q", r.code, r.stderr)
	}
	oneLine(t, "the message", r.stderr)
	if r := c.run("# nothing here\n", "scan", "-f", "-"); r.code != exitUsage || strings.Contains(r.stderr, "empty") {
		t.Errorf("stdin with only a comment: exit %d %q", r.code, r.stderr)
	}
}

// TestGraphDefaultsToTableOnATerminal: graph prints the table for people
// and JSON for programs, and says so in its help.
func TestGraphDefaultsToTableOnATerminal(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	table, json := c.runTerminal(true, "graph"), c.runTerminal(false, "graph")
	if table.code != exitOK || !strings.HasPrefix(table.stdout, "ELEMENT") || table.stdout != c.mustRun("graph", "--format", "table").stdout {
		t.Errorf("graph on a terminal should print the table: exit %d\n%.300s", table.code, table.stdout)
	}
	if json.code != exitOK || !strings.HasPrefix(json.stdout, "{") {
		t.Errorf("graph into a pipe should print JSON: exit %d\n%.300s", json.code, json.stdout)
	}
	file := filepath.Join(t.TempDir(), "graph.json")
	if r := c.runTerminal(true, "graph", "-o", file); r.code != exitOK {
		t.Fatalf("graph -o on a terminal: exit %d %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(file); !bytes.HasPrefix(b, []byte("{")) {
		t.Errorf("graph -o FILE from a terminal should write JSON: %.100s", b)
	}
	if help := c.mustRun("graph", "--help").stdout; !strings.Contains(help, "the default\n                  when stdout is a terminal") || !strings.Contains(help, "default table on a terminal, else json") {
		t.Errorf("graph --help should say which format is the default when:\n%s", help)
	}
}

// TestReportRefusesHTMLOnATerminal: an HTML page is not poured onto a
// terminal; into a pipe or a file it is written as before.
func TestReportRefusesHTMLOnATerminal(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	r := c.runTerminal(true, "report", "--no-diagram")
	if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "-o report.html") || !strings.Contains(r.stderr, "--format md") {
		t.Errorf("report on a terminal: exit %d, stdout %.100q, stderr %q", r.code, r.stdout, r.stderr)
	}
	oneLine(t, "the refusal", r.stderr)
	if r := c.runTerminal(false, "report", "--no-diagram"); r.code != exitOK || !strings.Contains(r.stdout, "<html") {
		t.Errorf("report into a pipe: exit %d, %.200s %s", r.code, r.stdout, r.stderr)
	}
	if r := c.runTerminal(true, "report", "--format", "md"); r.code != exitOK || !strings.Contains(r.stdout, "# Threat model") {
		t.Errorf("report --format md on a terminal: exit %d, %.200s %s", r.code, r.stdout, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if r := c.runTerminal(true, "report", "--no-diagram", "-o", file); r.code != exitOK {
		t.Errorf("report -o FILE on a terminal: exit %d %s", r.code, r.stderr)
	}
	if help := c.mustRun("report", "--help").stdout; !strings.Contains(help, "never poured onto the screen") {
		t.Errorf("report --help should say what happens on a terminal:\n%s", help)
	}
}

// TestFindingsSaysWhichScan: the findings table opens with the scan it
// lists, what that scan read and when; machine formats have no header.
func TestFindingsSaysWhichScan(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	// A directory name is input: a control character in it is escaped.
	odd := filepath.Join(t.TempDir(), "odd\x1b[31mdir")
	writeFile(t, filepath.Join(odd, "data.yaml"), mustRead(t, filepath.Join(demoDir, "data.yaml")))
	c.mustRun("scan", "-f", odd)
	if r := c.run(mustRead(t, filepath.Join(demoDir, "data.yaml")), "scan", "-f", "-", "-f", filepath.Join(demoDir, "payments.yaml")); r.code != exitOK {
		t.Fatalf("scan of stdin and a file: exit %d %s", r.code, r.stderr)
	}

	first := strings.SplitN(c.mustRun("findings", "1").stdout, "\n", 2)[0]
	if !regexp.MustCompile(`^Scan #1 of \S+testdata/demo, finished \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: \d+ of \d+ findings$`).MatchString(first) {
		t.Errorf("findings 1 should open with the scan, its source and time: %q", first)
	}
	second := strings.SplitN(c.mustRun("findings", "2").stdout, "\n", 2)[0]
	if strings.Contains(second, "\x1b") || !strings.Contains(second, `odd\x1b[31mdir`) {
		t.Errorf("a source's control characters should be escaped: %q", second)
	}
	latest := strings.SplitN(c.mustRun("findings", "--rule", "no-such-rule").stdout, "\n", 2)[0]
	if !regexp.MustCompile(`^Scan #3 of stdin and \S+/payments.yaml, finished .+: 0 of \d+ findings$`).MatchString(latest) {
		t.Errorf("the latest scan, read from stdin and a file: %q", latest)
	}
	if out := c.mustRun("findings", "--format", "json").stdout; !strings.HasPrefix(out, "[") {
		t.Errorf("JSON has no header: %.100s", out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// silentHint is how the scan summary starts its hint about workloads with
// no flow.
const silentHint = "Hint: "

// TestScanHintsAtFlowsMadeInCode: when most workloads of a system have no
// declared flow, the summary says their calls are probably made in code,
// and how to see them; not for a small system, nor one whose flows show.
func TestScanHintsAtFlowsMadeInCode(t *testing.T) {
	deployments := func(names ...string) string {
		var b strings.Builder
		for _, n := range names {
			b.WriteString("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + n + ", namespace: shop}\nspec:\n  selector: {matchLabels: {app: " + n + "}}\n" +
				"  template:\n    metadata: {labels: {app: " + n + "}}\n    spec: {containers: [{name: " + n + ", image: example/" + n + ":1}]}\n")
		}
		return b.String()
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "silent", "app.yaml"), deployments("a", "b", "c", "d", "e", "f"))
	writeFile(t, filepath.Join(dir, "small", "app.yaml"), deployments("a", "b", "c", "d"))
	// Four of six linked by declared calls: a → b, c → d.
	calls := strings.NewReplacer("image: example/a:1}", "image: example/a:1, env: [{name: B_ADDR, value: \"b:80\"}]}",
		"image: example/c:1}", "image: example/c:1, env: [{name: D_ADDR, value: \"d:80\"}]}").Replace(deployments("a", "b", "c", "d", "e", "f"))
	for _, svc := range []string{"b", "d"} {
		calls += "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + svc + ", namespace: shop}\nspec: {selector: {app: " + svc + "}, ports: [{port: 80}]}\n"
	}
	writeFile(t, filepath.Join(dir, "linked", "app.yaml"), calls)
	for _, tc := range []struct {
		name, path string
		want       string // "" for no hint
	}{
		{"six workloads, no flow", filepath.Join(dir, "silent"), "Hint: 6 of 6 workloads have no flow in or out"},
		{"four workloads, below the minimum", filepath.Join(dir, "small"), ""},
		{"two of six without a flow", filepath.Join(dir, "linked"), ""},
		{"the demo, its flows declared", demoDir, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := newCLI(t).mustRun("scan", "-f", tc.path, "--skip-threats").stdout
			if tc.name == "two of six without a flow" && !strings.Contains(out, "declared 2,") {
				t.Fatalf("the fixture should declare two flows:\n%s", out)
			}
			switch {
			case tc.want == "" && strings.Contains(out, silentHint):
				t.Errorf("no hint expected:\n%s", out)
			case tc.want != "":
				checkSilentHint(t, out, tc.want)
			}
		})
	}
}

// TestTrainTicketHintsAtFlowsMadeInCode: Train-Ticket declares almost none
// of its calls (its services find each other in code): the summary says so.
func TestTrainTicketHintsAtFlowsMadeInCode(t *testing.T) {
	app := filepath.Join(discovertest.CorpusDir(t), "train-ticket")
	out := newCLI(t).mustRun("scan", "-f", app, "--skip-threats").stdout
	checkSilentHint(t, out, "Hint: 62 of 64 workloads have no flow in or out")
}

func checkSilentHint(t *testing.T, summary, want string) {
	t.Helper()
	for _, w := range []string{want, "made in code", "stridemap observe", "scan --flows", "hubble observe -o json"} {
		if !strings.Contains(summary, w) {
			t.Errorf("the summary lacks %q:\n%s", w, summary)
		}
	}
	for _, line := range strings.Split(summary, "\n") {
		if strings.HasPrefix(line, silentHint) && !strings.HasSuffix(line, ")") {
			t.Errorf("the hint should be one whole line: %q", line)
		}
	}
}
